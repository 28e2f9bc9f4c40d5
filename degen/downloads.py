"""EIP-712 download permissions: a requester signs (job id, expiry) to fetch a result from
the provider's endpoint; so may the market's arbiter (the oracle), who checks results and
decides disputes. Bound to the chain and the market, so a signature for one job on
one market opens nothing else; short-lived, so a leaked one soon stops working."""

from __future__ import annotations

from typing import Callable

from degen import eip712
from degen.errors import DegenError, InvalidSignature

DOMAIN_NAME = "DeGEN result download"
DOMAIN_VERSION = "1"
MAX_VALIDITY = 86_400  # an expiry more than a day ahead is refused

DOWNLOAD_FIELDS = [
    {"name": "job_id", "type": "uint256"},
    {"name": "expiry", "type": "uint64"},
]


class DownloadDenied(DegenError, PermissionError):
    """The signature is valid but not the job's requester's (HTTP 403)."""


class DownloadExpired(DegenError, PermissionError):
    """The permission expired, reaches too far ahead, or is malformed (HTTP 401)."""


def typed_data(job_id: int, expiry: int, chain_id: int, market: str) -> dict:
    return eip712.message(
        "ResultDownload", DOWNLOAD_FIELDS, {"job_id": job_id, "expiry": expiry},
        name=DOMAIN_NAME, version=DOMAIN_VERSION, chain_id=chain_id, contract=market,
    )


def sign(key, job_id: int, expiry: int, chain_id: int, market: str) -> bytes:
    """The requester's signature allowing a download of `job_id`'s result until `expiry`."""
    return eip712.sign(typed_data(job_id, expiry, chain_id, market), key)


def fetch(endpoint: str, job_id: int, expiry: int, signature: bytes, *, timeout_s: float):
    """GETs a result from a worker's endpoint with a permission (`requests` raises on network
    failures; the caller reads the status)."""
    import requests

    return requests.get(f"{endpoint.rstrip('/')}/results/{job_id}", params={"expiry": expiry, "signature": "0x" + signature.hex()},
                        timeout=timeout_s)


def check(
    requester: str, job_id: int, expiry: int, signature: bytes, *, chain_id: int, market: str, now: int,
    is_arbiter: Callable[[str], bool] = lambda address: False,
) -> str:
    """Returns the signer, or raises DownloadExpired (401) or DownloadDenied (403) unless
    `signature` is the requester's (or an account `is_arbiter` accepts), for this job, and
    valid now."""
    if not now <= expiry <= now + MAX_VALIDITY:
        raise DownloadExpired(f"the download permission expired or reaches past {MAX_VALIDITY} s ahead")
    try:
        signer = eip712.recover(typed_data(job_id, expiry, chain_id, market), signature)
    except InvalidSignature as exc:
        raise DownloadExpired(f"the download signature is invalid: {exc}") from None
    if signer.lower() != requester.lower() and not is_arbiter(signer):
        raise DownloadDenied(f"only job {job_id}'s requester or the market's arbiter may download its result")
    return signer
