"""Event logs as hosted JSON-RPC providers serve them. A public node caps `eth_getLogs` — a
block range (1,000 to 10,000 blocks), a count of results ("query returned more than 10000
results"), a rate (HTTP 429) — and times out under load. `read_logs` pages a block range,
halves a page the node refuses as too large (down to one block), and waits out rate limits
and timeouts with back-off, so no command fails for the length of the chain's history.

Every reader of the deployment's history goes through it, from the deployment's block on
(`Deployment.block`), never from block 0."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import requests
from web3.exceptions import Web3RPCError

from degen.errors import DegenError

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_RANGE = 2_000  # blocks per query: under every hosted provider's cap we know of, but Alchemy's free tier
RETRIES = 6
BACKOFF_S = 0.5
MAX_BACKOFF_S = 8.0
# How providers say a query asked too much (Infura, Alchemy, QuickNode, Ankr, public L2 nodes)
TOO_MUCH = ("more than", "block range", "range is too", "range too", "exceed", "too large", "response size",
            "limit", "too many results", "max results")
# ...and that it asked too often
TOO_OFTEN = ("rate limit", "too many requests", "exceeded the quota", "capacity", "throttl")


class LogQueryFailed(DegenError, RuntimeError):
    """The node kept refusing a log query that cannot be split further."""


def read_logs(fetch: Callable[[int, int], Sequence[T]], start: int, end: int, *, max_range: int = MAX_RANGE,
              retries: int = RETRIES, backoff_s: float = BACKOFF_S, sleep: Callable[[float], None] = time.sleep) -> list[T]:
    """Everything `fetch(from_block, to_block)` answers over blocks [start, end], in block
    order, in pages of at most `max_range` blocks. A page the node refuses as too large is
    halved (and the smaller size kept for the pages after it); a rate limit or a timeout is
    retried `retries` times with growing waits, and a page that still times out is halved too."""
    found: list[T] = []
    size, at = max(1, max_range), max(0, start)
    while at <= end:
        to = min(end, at + size - 1)
        try:
            found += _patiently(lambda: fetch(at, to), retries, backoff_s, sleep)
        except Exception as exc:  # noqa: BLE001 — classified below; anything else is raised as it was
            if not (too_much(exc) or transient(exc)):
                raise
            if to == at:
                raise LogQueryFailed(f"the node refuses the logs of block {at} even alone: {_said(exc)}") from None
            size = max(1, (to - at + 1) // 2)
            log.info("log query of %d blocks refused (%s); asking %d at a time", to - at + 1, _said(exc), size)
            continue
        at = to + 1
    return found


def _patiently(call: Callable[[], T], retries: int, backoff_s: float, sleep: Callable[[float], None]) -> T:
    attempt = 0
    while True:
        try:
            return call()
        except Exception as exc:  # noqa: BLE001
            if not transient(exc) or attempt == retries:
                raise
            delay = min(MAX_BACKOFF_S, backoff_s * 2**attempt)
            log.info("log query throttled or timed out (%s); again in %.1f s", _said(exc), delay)
            sleep(delay)
            attempt += 1


def transient(exc: BaseException) -> bool:
    """A rate limit, a timeout or a dropped connection: the same query may pass later."""
    if isinstance(exc, requests.HTTPError):
        status = getattr(exc.response, "status_code", None)
        return status is None or status == 429 or status >= 500
    if isinstance(exc, (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError)):
        return True
    return isinstance(exc, Web3RPCError) and any(word in _said(exc).lower() for word in TOO_OFTEN)


def too_much(exc: BaseException) -> bool:
    """The node refused the query's size (its range or its result count)."""
    if not isinstance(exc, Web3RPCError):
        return False
    said = _said(exc).lower()
    return not any(word in said for word in TOO_OFTEN) and any(word in said for word in TOO_MUCH)


def _said(exc: BaseException) -> str:
    """The node's own words: a JSON-RPC error's message, else the exception's."""
    error = (getattr(exc, "rpc_response", None) or {}).get("error")
    message = error.get("message") if isinstance(error, dict) else None
    return str(message or getattr(exc, "message", None) or exc)[:200]
