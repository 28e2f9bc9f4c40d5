"""The worker's access to JobMarket over JSON-RPC (web3.py): typed reads, the JobCreated
log stream with block hashes for reorg checks, and transactions that are simulated before
they are signed and sent, under one lock around the nonce, with bounded retries. A
transaction not mined within `replace_after_blocks` blocks (the base fee outgrew its fee cap)
is signed again at the same nonce with higher fees, up to `max_fee_per_gas`; whichever of
them is mined is the receipt, so nothing is done twice."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, NamedTuple, TypeVar

import requests
from eth_utils import to_checksum_address
from web3.exceptions import ContractLogicError, TimeExhausted, TransactionNotFound, Web3RPCError

from degen.chain.heads import NewBlocks
from degen.chain.logs import read_logs
from degen.errors import DegenError, InvalidInput
from degen.models import Job, Offer

log = logging.getLogger(__name__)
T = TypeVar("T")

TRANSIENT = (requests.ConnectionError, requests.Timeout, TimeExhausted, ConnectionError, TimeoutError)
FEE_BUMP_PCT = 25  # each replacement raises both fees this much (nodes take a replacement at +10 % or more)
RECEIPT_POLL_S = 0.25  # the longest wait between two looks for a receipt; the first come sooner (anvil mines at once)
FIRST_RECEIPT_POLL_S = 0.02


class TxRejected(DegenError, RuntimeError):
    """The market refused a call: its simulation reverted, or the mined transaction did."""

    def __init__(self, function: str, reason: str):
        super().__init__(f"{function} rejected: {reason}")
        self.function, self.reason = function, reason


@dataclass(frozen=True)
class CreatedJob:
    """A JobCreated event and where it was logged."""

    job_id: int
    requester: str
    offer_id: int
    model_id: bytes
    max_price: int
    min_collateral: int
    deadline: int
    challenge_window: int
    green: bool
    prompt: str
    params: dict  # width, height, steps, guidance_x100, seed
    block_number: int
    block_hash: str


class MarketEvent(NamedTuple):
    name: str
    args: dict
    block_number: int
    log_index: int


def revert_reason(exc: ContractLogicError) -> str:
    message = str(exc.message or exc)
    return message.removeprefix("execution reverted: ").removeprefix("execution reverted") or "reverted"


class MarketClient:
    def __init__(
        self, web3, market: str, market_abi: list, registry: str, registry_abi: list, account, *,
        retries: int = 3, backoff_s: float = 0.5, receipt_timeout_s: float = 120.0, committee=None,
        replace_after_blocks: int = 3, max_fee_per_gas: int = 500 * 10**9,
    ):
        self.web3 = web3
        self.market = web3.eth.contract(address=to_checksum_address(market), abi=market_abi)
        self.registry = web3.eth.contract(address=to_checksum_address(registry), abi=registry_abi)
        self.committee = committee  # the oracle committee's web3 contract: its members act for the arbiter
        self.account = account
        self.address = self.market.address
        self.retries, self.backoff_s, self.receipt_timeout_s = retries, backoff_s, receipt_timeout_s
        self.replace_after_blocks, self.max_fee_per_gas = replace_after_blocks, max_fee_per_gas
        self.chain_id = self.retry(lambda: web3.eth.chain_id)
        self._nonce_lock = threading.Lock()
        self._next_nonce: int | None = None
        self._arbiter_role: bytes | None = None

    # ---- reads ---------------------------------------------------------------------------

    def head(self) -> int:
        return self.retry(lambda: self.web3.eth.block_number)

    def new_blocks(self, every_s: float) -> NewBlocks:
        """A watcher of this chain's head, asked every `every_s` (`degen.chain.heads`)."""
        return NewBlocks(lambda: self.web3.eth.block_number, every_s)

    def block_hash(self, number: int) -> str | None:
        block = self.retry(lambda: self.web3.eth.get_block(number))
        return None if block is None else block["hash"].to_0x_hex()

    def block_timestamp(self, number: int) -> int:
        return self.retry(lambda: self.web3.eth.get_block(number)["timestamp"])

    def chain_time(self) -> int:
        """The timestamp the next block will carry (what the contract's `block.timestamp`
        checks a receipt window against)."""
        return self.retry(lambda: self.web3.eth.get_block("pending")["timestamp"])

    def logs(self, event, from_block: int, to_block: int | None = None, **indexed) -> list:
        """What `event` (a web3 contract's event, e.g. `self.market.events.JobCreated`) logged
        in blocks [from_block, to_block] (to the head when None), filtered on indexed
        arguments, paged as hosted nodes need (`degen.chain.logs`)."""
        end = self.head() if to_block is None else to_block
        return read_logs(lambda first, last: event().get_logs(from_block=first, to_block=last, argument_filters=indexed or None),
                         from_block, end)

    def created_jobs(self, from_block: int, to_block: int) -> list[CreatedJob]:
        events = self.logs(self.market.events.JobCreated, from_block, to_block)
        jobs = []
        for event in sorted(events, key=lambda e: (e["blockNumber"], e["logIndex"])):
            args = event["args"]
            jobs.append(CreatedJob(
                job_id=args["job_id"], requester=args["requester"], offer_id=args["offer_id"],
                model_id=bytes(args["model_id"]), max_price=args["max_price"], min_collateral=args["min_collateral"],
                deadline=args["deadline"], challenge_window=args["challenge_window"], green=args["green"],
                prompt=args["prompt"], params=dict(args["params"]),
                block_number=event["blockNumber"], block_hash=event["blockHash"].to_0x_hex(),
            ))
        return jobs

    def events(self, names: list[str], from_block: int, to_block: int, **indexed) -> list[MarketEvent]:
        """The market's events called `names` in a block range, in chain order; `indexed`
        filters on indexed arguments (e.g. `job_id=7`)."""
        found = []
        for name in names:
            logs = self.logs(getattr(self.market.events, name), from_block, to_block, **indexed)
            found += [MarketEvent(name, dict(e["args"]), e["blockNumber"], e["logIndex"]) for e in logs]
        return sorted(found, key=lambda e: (e.block_number, e.log_index))

    def job(self, job_id: int) -> Job:
        return Job(job_id=job_id, **self._struct("job", job_id))

    def offer(self, offer_id: int) -> Offer:
        record = self._struct("offer", offer_id)
        if int(record["provider"], 16) == 0:
            raise InvalidInput(f"there is no offer {offer_id}")
        return Offer(offer_id=offer_id, **record)

    def meter_register(self, site_id: int) -> int:
        return self.retry(lambda: self.market.functions.meter_register(site_id).call())

    def is_arbiter(self, address: str) -> bool:
        """Whether `address` may act for the market's arbiter: it holds ARBITER_ROLE itself, or
        it is a current member of the oracle committee that holds it."""
        if self._arbiter_role is None:  # a contract constant: read once
            self._arbiter_role = self.retry(lambda: self.market.functions.ARBITER_ROLE().call())
        holds = lambda who: self.retry(lambda: self.market.functions.hasRole(self._arbiter_role, who).call())  # noqa: E731
        if holds(to_checksum_address(address)):
            return True
        committee = self.committee
        return committee is not None and holds(committee.address) and self.retry(
            lambda: committee.functions.is_member(to_checksum_address(address)).call())

    def site_meter(self, site_id: int) -> tuple[str, int, bool]:
        """(meter key address, max GPU watts, active) as the registry holds them."""
        return tuple(self.retry(lambda: self.registry.functions.meter_of(site_id).call()))

    def site_count(self) -> int:
        """How many sites the registry holds: their ids run from 1 to this."""
        return self.retry(lambda: self.registry.functions.site_count().call())

    def site(self, site_id: int) -> dict:
        """The registry's full record of a site (all fields zero for unknown ids)."""
        return self._struct("site", site_id, on=self.registry)

    def call(self, fn, block="latest"):
        """A view call (`contract.functions.f(args)`) at `block`, with the client's retries."""
        return self.retry(lambda: fn.call(block_identifier=block))

    def _struct(self, function: str, *args, on=None) -> dict:
        fn = getattr((on or self.market).functions, function)(*args)
        names = [c["name"] for c in fn.abi["outputs"][0]["components"]]
        return dict(zip(names, self.retry(fn.call)))

    # ---- transactions --------------------------------------------------------------------

    def send(self, function: str, *args, to=None, gas_budget: int | None = None) -> dict:
        """Simulates `function(*args)` on the market (or the web3 contract `to`) from the
        client's account, then signs and sends it and waits for the receipt. Raises
        TxRejected with the contract's reason if it would revert or did, or if it needs more
        than `gas_budget`; retries transient RPC failures with back-off."""
        fn = getattr((to or self.market).functions, function)(*args)
        sender = self.account.address
        try:
            gas = self.retry(lambda: fn.estimate_gas({"from": sender}, block_identifier="pending"))
        except ContractLogicError as exc:
            raise TxRejected(function, revert_reason(exc)) from None
        if gas_budget is not None and gas > gas_budget:
            raise TxRejected(function, f"gas budget: needs {gas}, {gas_budget} left")
        with self._nonce_lock:
            for attempt in range(2):
                if self._next_nonce is None:
                    self._next_nonce = self.retry(lambda: self.web3.eth.get_transaction_count(sender, "pending"))
                tx = self._capped(fn.build_transaction({"from": sender, "nonce": self._next_nonce, "chainId": self.chain_id,
                                                        "gas": gas * 6 // 5}))
                signed = self.account.sign_transaction(tx)
                try:
                    self.retry(lambda: self._send_raw(signed))
                except Web3RPCError as exc:
                    self._next_nonce = None  # someone else used the account: ask the node again
                    if attempt == 0 and "nonce too low" in str(exc).lower():
                        log.warning("nonce taken by another sender; re-signing", extra={"function": function})
                        continue
                    raise
                except BaseException:
                    self._next_nonce = None  # unknown whether it went out: ask the node next time
                    raise
                self._next_nonce += 1
                break
        receipt = self._mined(function, tx, signed)
        if receipt["status"] != 1:
            raise TxRejected(function, f"transaction {receipt['transactionHash'].to_0x_hex()} reverted")
        return receipt

    def _mined(self, function: str, tx: dict, signed) -> dict:
        """The receipt of `signed` or of a replacement of it: while none is mined, every
        `replace_after_blocks` blocks the transaction is signed again at its nonce with higher
        fees (`_bumped`) and sent; every one sent stays a candidate, since the node may still mine
        an earlier one."""
        sent = [signed.hash]
        deadline = time.monotonic() + self.receipt_timeout_s
        waiting_since, looked = self.head(), 0
        while True:
            for candidate in sent:
                receipt = self._receipt(candidate)
                if receipt is not None:
                    if len(sent) > 1:
                        log.info("transaction mined after replacement", extra={
                            "function": function, "tx": candidate.to_0x_hex(), "sent": len(sent)})
                    return receipt
            if time.monotonic() > deadline:
                raise TimeExhausted(f"{function}: none of {len(sent)} transactions at nonce {tx['nonce']} mined in "
                                    f"{self.receipt_timeout_s:.0f} s")
            head = self.head()
            if head - waiting_since >= self.replace_after_blocks:
                waiting_since = head
                bumped = self._bumped(tx)
                if bumped is None:
                    log.warning("transaction not mined and its fees are at [chain] max_fee_gwei; waiting", extra={
                        "function": function, "nonce": tx["nonce"], "fee_gwei": _fee_of(tx) / 1e9,
                        "max_fee_gwei": self.max_fee_per_gas / 1e9})
                else:
                    tx, signed = bumped, self.account.sign_transaction(bumped)
                    try:
                        self.retry(lambda: self._send_raw(signed))
                    except Web3RPCError as exc:  # one of ours was mined meanwhile, or the node wants more: next round says
                        log.info("replacement not taken", extra={"function": function, "reason": str(exc)[:200]})
                    else:
                        sent.append(signed.hash)
                        log.warning("transaction not mined; sent again with higher fees", extra={
                            "function": function, "nonce": tx["nonce"], "blocks": self.replace_after_blocks,
                            "max_fee_gwei": _fee_of(tx) / 1e9, "tx": signed.hash.to_0x_hex()})
            time.sleep(min(RECEIPT_POLL_S, FIRST_RECEIPT_POLL_S * 2**looked))
            looked += 1

    def _receipt(self, tx_hash) -> dict | None:
        try:
            return self.retry(lambda: self.web3.eth.get_transaction_receipt(tx_hash))
        except TransactionNotFound:
            return None

    def _capped(self, tx: dict) -> dict:
        """`tx` with its fee cap no higher than `max_fee_per_gas`."""
        field = "maxFeePerGas" if "maxFeePerGas" in tx else "gasPrice"
        capped = {**tx, field: min(tx[field], self.max_fee_per_gas)}
        if "maxPriorityFeePerGas" in capped:
            capped["maxPriorityFeePerGas"] = min(capped["maxPriorityFeePerGas"], capped["maxFeePerGas"])
        return capped

    def _bumped(self, tx: dict) -> dict | None:
        """`tx` at the same nonce with fees FEE_BUMP_PCT higher and at least twice today's base
        fee, within `max_fee_per_gas`; None when the cap leaves no room for a replacement."""
        base = self.retry(lambda: self.web3.eth.get_block("latest")).get("baseFeePerGas", 0)
        raise_by = lambda value: value * (100 + FEE_BUMP_PCT) // 100 + 1  # noqa: E731
        if "maxFeePerGas" in tx:
            tip = raise_by(tx["maxPriorityFeePerGas"])
            fee = min(max(raise_by(tx["maxFeePerGas"]), 2 * base + tip), self.max_fee_per_gas)
            if fee * 100 < tx["maxFeePerGas"] * 110:
                return None
            return {**tx, "maxFeePerGas": fee, "maxPriorityFeePerGas": min(tip, fee)}
        price = min(max(raise_by(tx["gasPrice"]), 2 * base), self.max_fee_per_gas)
        return None if price * 100 < tx["gasPrice"] * 110 else {**tx, "gasPrice": price}

    def _send_raw(self, signed) -> None:
        try:
            self.web3.eth.send_raw_transaction(signed.raw_transaction)
        except Web3RPCError as exc:  # a retry of a transaction the node already has is fine
            if "already known" not in str(exc).lower():
                raise

    def retry(self, call: Callable[[], T]) -> T:
        attempt = 0
        while True:
            try:
                return call()
            except TRANSIENT as exc:
                if attempt == self.retries:
                    raise
                delay = self.backoff_s * 2**attempt
                attempt += 1
                log.warning("rpc failed (%s), retry %d/%d in %.1f s", exc, attempt, self.retries, delay)
                time.sleep(delay)


def _fee_of(tx: dict) -> int:
    return tx.get("maxFeePerGas", tx.get("gasPrice", 0))
