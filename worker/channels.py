"""The worker's channel desk: instant jobs through JobChannels (docs/SPEC.md, "Channels").

A requester posts a signed JobOrder with its prompt; the desk checks it in SPEC's order (the
channel on chain, the requester's signature, the channel open, the nonce the channel's next,
the voucher for the job before held, not expired, the prompt's hash, the deposit and the
owner's `[channels]` limits, the offer's terms), has the worker generate and meter it at once,
records the served job and only then answers with the image, the meter-signed receipt and the
voucher it now expects. The requester's signed voucher is taken only when it is exactly that
one, and recorded before the answer. The chain loop redeems held vouchers under the owner's
rules, and at once when a requester starts a close."""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

from eth_utils import keccak

from degen import channels
from degen.chain.channels import ChannelsClient
from degen.chain.market import TxRejected
from degen.channels import ChannelState, ServedJob, Tab
from degen.errors import DegenError, InvalidInput, InvalidSignature
from degen.models import EnergyReceipt, JobOrder, Offer, Voucher, check_prompt, job_price
from degen.pool import amount_text
from worker.channel_book import BookedJob, ChannelBook, HeldVoucher
from worker.policy import ChannelRules, redemption_due

log = logging.getLogger("worker")

RETRY_AFTER_S = 2  # what a requester over the unredeemed limit is told to wait for the redemption


class OrderRefused(DegenError, ValueError):
    """An order or voucher the desk does not take: the HTTP status it answers with, and why."""

    def __init__(self, status: int, reason: str, *, retry_after_s: int | None = None, expected: Voucher | None = None):
        super().__init__(reason)
        self.status, self.reason, self.retry_after_s, self.expected = status, reason, retry_after_s, expected


@dataclass(frozen=True)
class Generated:
    """One order's image, generated and metered by the worker."""

    png: bytes
    sha256: bytes
    cid: str
    receipt: EnergyReceipt
    meter_signature: bytes
    metadata: dict  # meter, estimate, batch, setup


@dataclass(frozen=True)
class Answer:
    """What the desk answers a served order with."""

    served: ServedJob
    png: bytes
    voucher: Voucher  # the voucher the requester is to sign for it


Decide = Callable[[JobOrder], Offer]  # the offer serving an order, or OrderRefused (offers, policy, site energy)
Generate = Callable[[JobOrder, str], Generated]  # generates and meters an order (prompt given) on the worker


class ChannelDesk:
    def __init__(self, book: ChannelBook, chain: ChannelsClient, rules: ChannelRules, *, site_id: int, market: str,
                 decide: Decide, generate: Generate, chain_now: Callable[[], int], on_point: Callable[[str], None]):
        self.book, self.chain, self.rules = book, chain, rules
        self.site_id, self.market = site_id, market
        self.decide, self.generate, self.chain_now, self.on_point = decide, generate, chain_now, on_point
        self._serving: set[int] = set()  # channels with an order or voucher being taken
        self._serving_lock = threading.Lock()
        self._closing: set[int] = set()  # channels whose close the chain logged
        self._waited_on: set[int] = set()  # channels an order waits on the redemption of (the unredeemed limit)
        self._owing: set[int] = set()  # channels refused for a missing voucher, as last logged
        self._closes_read_to: int | None = None
        self._refusals: dict[int, str] = {}  # why a channel's redemption waits, as last logged

    # ---- orders and vouchers (HTTP threads) ---------------------------------------------------

    def order(self, order: JobOrder, signature: bytes, prompt: str) -> Answer:
        channel = self._channel_signed_for(order, signature, "order")
        if channel.closed:
            raise OrderRefused(409, f"channel {channel.channel_id} is withdrawn: it takes no orders")
        if channel.closes_at:
            raise OrderRefused(409, f"channel {channel.channel_id} is closing (its requester gave notice): it takes no more orders")
        with self._serving_channel(channel.channel_id):
            tab = self.book.tab(channel.channel_id)
            self._check_turn(order, channel, tab)
            offer = self._check_terms(order, prompt, channel, tab)
            generated = self.generate(order, prompt)
            receipt = generated.receipt
            price = job_price(offer.base_price, offer.price_per_kwh, receipt.energy_mwh, order.max_price)
            served = ServedJob(order, signature, receipt, generated.meter_signature, offer.offer_id, price, generated.cid)
            leaf = channels.receipt_leaf(receipt, generated.meter_signature, self.chain.chain_id, self.market)
            self.book.serve(BookedJob(channel.channel_id, served, generated.sha256, leaf,
                                      generated.metadata | {"requester": channel.requester}))
            self.on_point("order-served")
        log.info("channel job served", extra={"channel": channel.channel_id, "nonce": order.nonce,
                                              "job_id": f"0x{receipt.job_id:064x}"[:18] + "…", "price": amount_text(price, "akre"),
                                              "energy_mwh": receipt.energy_mwh})
        return Answer(served, generated.png, tab.served(price, receipt.energy_mwh, order.green, leaf).voucher())

    def voucher(self, voucher: Voucher, signature: bytes) -> bool:
        """Takes the requester's voucher for every job served; False when it was held already."""
        channel = self._channel_signed_for(voucher, signature, "voucher")
        with self._serving_channel(channel.channel_id):
            held = self.book.held(channel.channel_id)
            if held is not None and held.voucher == voucher:
                return False
            expected = self.book.tab(channel.channel_id).voucher()
            if voucher != expected:
                raise OrderRefused(409, f"the voucher does not pay the {expected.jobs} jobs served on channel "
                                        f"{channel.channel_id}: it must be the expected one", expected=expected)
            self.book.hold(voucher, signature)
            self.on_point("voucher-stored")
        self._refusals.pop(channel.channel_id, None)
        self._owing.discard(channel.channel_id)
        log.info("channel voucher taken", extra={"channel": channel.channel_id, "jobs": voucher.jobs,
                                                 "owed": amount_text(voucher.amount, "akre")})
        return True

    def view(self, channel_id: int) -> dict:
        """What the worker holds of a channel: the next order's nonce, the latest voucher and
        the receipts' leaves it covers, and a served job whose voucher it still waits for."""
        tab = self.book.tab(channel_id)
        held = self.book.held(channel_id)
        covered = held.voucher.jobs if held else 0
        owed = self.book.job_at(channel_id, covered) if covered < tab.jobs else None
        return {
            "channel_id": str(channel_id), "site_id": self.site_id, "next_nonce": tab.jobs,
            "voucher": None if held is None else {"voucher": channels.voucher_wire(held.voucher),
                                                  "signature": "0x" + held.signature.hex()},
            "leaves": ["0x" + leaf.hex() for leaf in tab.leaves[:covered]],
            "owed": None if owed is None else owed.served.wire() | {"sha256": owed.sha256.hex()},
            "redeemed_jobs": 0 if held is None else held.redeemed_jobs,
        }

    def _channel_signed_for(self, signed: JobOrder | Voucher, signature: bytes, what: str) -> ChannelState:
        channel = self.chain.channel(signed.channel_id)
        if channel is None:
            raise OrderRefused(404, f"there is no channel {signed.channel_id}")
        if channel.site_id != self.site_id:
            raise OrderRefused(404, f"channel {channel.channel_id} is with site {channel.site_id}; this worker serves site {self.site_id}")
        try:
            signer = channels.signer_of(signed, signature, self.chain.chain_id, self.chain.address)
        except InvalidSignature as exc:
            raise OrderRefused(403, f"the {what}'s signature is not one the chain accepts: {exc}") from None
        if signer.lower() != channel.requester.lower():
            raise OrderRefused(403, f"the {what} is not signed by channel {channel.channel_id}'s requester for this chain "
                                    f"and JobChannels contract")
        return channel

    def _check_turn(self, order: JobOrder, channel: ChannelState, tab: Tab) -> None:
        held = self.book.held(channel.channel_id)
        vouchered = held.voucher.jobs if held else 0
        if order.nonce < tab.jobs:
            raise OrderRefused(409, f"order {order.nonce} of channel {channel.channel_id} was served already")
        if vouchered < tab.jobs:
            if channel.channel_id not in self._owing:
                self._owing.add(channel.channel_id)
                log.warning("channel served no more until its voucher comes", extra={"channel": channel.channel_id,
                                                                                      "order": tab.jobs - 1})
            raise OrderRefused(402, f"channel {channel.channel_id} owes the voucher for order {tab.jobs - 1}: sign it "
                                    f"(GET /channels/{channel.channel_id} shows the job) before the next order")
        if order.nonce > tab.jobs:
            raise OrderRefused(409, f"channel {channel.channel_id}'s next order is {tab.jobs}, not {order.nonce}")
        if channel.jobs > tab.jobs:
            raise OrderRefused(409, f"the chain redeemed {channel.jobs} jobs of channel {channel.channel_id}, more than this "
                                    f"worker's record holds: it does not serve the channel")

    def _check_terms(self, order: JobOrder, prompt: str, channel: ChannelState, tab: Tab) -> Offer:
        if order.expiry < self.chain_now():
            raise OrderRefused(410, f"the order expired at {order.expiry} (unix s)")
        try:
            check_prompt(prompt)
        except InvalidInput as exc:
            raise OrderRefused(400, str(exc)) from None
        if keccak(prompt.encode("utf-8")) != order.prompt_hash:
            raise OrderRefused(400, "the prompt's keccak256 is not the order's prompt_hash")
        rules = self.rules
        if channel.deposit < rules.min_deposit:
            raise OrderRefused(402, f"this site serves channels with a deposit of at least {amount_text(rules.min_deposit, 'akre')}")
        if tab.amount + order.max_price > channel.deposit:
            left = channel.deposit - tab.amount
            raise OrderRefused(402, f"the order's max price {amount_text(order.max_price, 'akre')} is over what the deposit "
                                    f"has left ({amount_text(left, 'akre')}): top the channel up")
        if tab.amount - channel.redeemed + order.max_price > rules.max_unredeemed:
            self._waited_on.add(channel.channel_id)  # redeemed at the chain loop's next round, whatever the threshold
            raise OrderRefused(429, f"channel {channel.channel_id} would owe more than the site lets go unredeemed "
                                    f"({amount_text(rules.max_unredeemed, 'akre')}); it redeems first: retry shortly",
                               retry_after_s=RETRY_AFTER_S)
        offer = self.decide(order)
        if order.green:
            spare = self.chain.rec_balance() - (tab.green_mwh - channel.redeemed_green_mwh)
            if spare < rules.green_reserve_mwh:
                raise OrderRefused(409, "the site holds too few RECs for more green jobs on this channel now; retry later "
                                        "or order without green")
        return offer

    @contextmanager
    def _serving_channel(self, channel_id: int):
        """One order or voucher of a channel at a time; another one meanwhile is refused."""
        with self._serving_lock:
            if channel_id in self._serving:
                raise OrderRefused(409, f"an order or voucher of channel {channel_id} is being taken; retry when it is answered")
            self._serving.add(channel_id)
        try:
            yield
        finally:
            with self._serving_lock:
                self._serving.discard(channel_id)

    # ---- redemptions (the chain loop) --------------------------------------------------------

    def start(self, head: int) -> None:
        """Reads, once, which of the channels owing vouchers closed while the worker was away;
        later closes come from the chain's logs."""
        self._closes_read_to = head
        for channel_id in self.book.unredeemed():
            channel = self.chain.channel(channel_id)
            if channel is not None and channel.closes_at:
                self._closing.add(channel_id)

    def redeem_due(self, head: int) -> None:
        """Redeems each channel's held voucher that the owner's rules say is due."""
        if self._closes_read_to is not None and head > self._closes_read_to:
            self._closing.update(self.chain.closing(self._closes_read_to + 1, head))
            self._closes_read_to = head
        now = time.time()
        for channel_id, held in self.book.unredeemed().items():
            reason = redemption_due(self.rules, unredeemed=held.voucher.amount - held.redeemed_amount,
                                    waited_s=now - held.held_since, closing=channel_id in self._closing,
                                    order_waits=channel_id in self._waited_on)
            if reason is not None:
                self._redeem(channel_id, held, reason)

    def _redeem(self, channel_id: int, held: HeldVoucher, reason: str) -> None:
        voucher = held.voucher
        green = voucher.green_mwh - held.redeemed_green_mwh
        if green > 0:
            if self.chain.rec_balance() < green:
                return self._waits(channel_id, f"the site holds fewer RECs than the {green} mWh of green jobs to retire")
            self.chain.allow_recs(green, self.rules.green_reserve_mwh + green)
        try:
            self.chain.redeem(voucher, held.signature)
        except TxRejected as exc:
            return self._refused(channel_id, held, exc.reason)
        self.on_point("redeemed")
        self.book.redeemed(channel_id, voucher)
        self._waited_on.discard(channel_id)
        self._refusals.pop(channel_id, None)
        log.info("channel vouchers redeemed", extra={"channel": channel_id, "jobs": voucher.jobs,
                                                     "paid": amount_text(voucher.amount - held.redeemed_amount, "akre"),
                                                     "green_mwh": green, "why": reason})

    def _refused(self, channel_id: int, held: HeldVoucher, refusal: str) -> None:
        """What the chain says of a channel whose redemption was refused: redeemed already (before
        a restart), withdrawn (the voucher is lost), or retried next round."""
        channel = self.chain.channel(channel_id)
        if channel is not None and channel.jobs >= held.voucher.jobs:
            self.book.redeemed(channel_id, held.voucher)
            log.info("channel vouchers were redeemed before a restart", extra={"channel": channel_id, "jobs": channel.jobs})
        elif channel is not None and channel.closed:
            self.book.redeemed(channel_id, held.voucher)
            log.error("channel withdrawn before its voucher was redeemed: unpaid", extra={
                "channel": channel_id, "jobs": held.voucher.jobs - channel.jobs,
                "unpaid": amount_text(held.voucher.amount - channel.redeemed, "akre")})
        else:
            self._waits(channel_id, f"redemption refused: {refusal}")

    def _waits(self, channel_id: int, why: str) -> None:
        if self._refusals.get(channel_id) != why:
            self._refusals[channel_id] = why
            log.warning("channel redemption waits", extra={"channel": channel_id, "reason": why})

    def health(self) -> dict:
        return self.book.counts() | {"redemptions_waiting": {str(k): v for k, v in list(self._refusals.items())}}
