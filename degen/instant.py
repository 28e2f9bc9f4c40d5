"""Instant jobs: a requester's side of a channel with a site's worker, over the site's
endpoint (docs/SPEC.md, "Channels").

For each job the requester asks the worker what it holds of the channel, checks that against
its own signatures (the worker keeps the requester's latest voucher and the receipts' leaves
it covers, so a requester needs no state of its own), signs a JobOrder with the channel's next
nonce, and posts it with the prompt. It checks what comes back (`channels.check_served`) and
only then signs the voucher for every job so far. A job the worker served but whose voucher
never came (the requester stopped between the two) is checked and paid first, its image
downloaded with the requester's signature."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Callable

import requests
from eth_utils import keccak

from degen import channels, downloads
from degen.channels import ServedJob, Tab
from degen.errors import DegenError, InvalidInput
from degen.models import GenerationParams, JobOrder, Offer, Voucher

ORDER_VALIDITY_S = 300  # how long a site may take to start serving an order
Signer = Callable[[dict], bytes]  # EIP-712 typed data -> the requester's 65-byte signature


class InstantError(DegenError, RuntimeError):
    """The site refused an order or voucher, did not answer, or answered something not to pay for."""

    def __init__(self, reason: str, status: int | None = None):
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class Site:
    """What a requester checks a site's served jobs against: its endpoint, registered meter key
    and GPU bound, the offer that prices its jobs, and the contracts' addresses."""

    endpoint: str
    meter: str
    max_gpu_watts: int
    offer: Offer
    chain_id: int
    channels: str
    market: str


@dataclass(frozen=True)
class Served:
    """One instant job, checked and paid for with a signed voucher."""

    job_id: int
    png: bytes
    job: ServedJob
    voucher: Voucher  # the voucher signed for every job of the channel so far


class SiteChannel:
    """One of the requester's channels with a site."""

    def __init__(self, site: Site, channel_id: int, requester: str, sign: Signer, *, timeout_s: float = 30.0,
                 generation_timeout_s: float = 900.0):
        self.site, self.channel_id, self.requester, self.sign = site, channel_id, requester, sign
        self.timeout_s, self.generation_timeout_s = timeout_s, generation_timeout_s
        self._base = site.endpoint.rstrip("/")

    def tab(self) -> tuple[Tab, dict]:
        """What the requester owes on the channel, as its own signatures prove it, after paying
        for a job served and not yet paid for; also the worker's view of the channel."""
        view = self._get(f"/channels/{self.channel_id}")
        tab = self._held_tab(view)
        if view.get("owed") is not None:
            owed = ServedJob.from_wire(view["owed"])
            png = self._download(owed.receipt.job_id)
            tab = self._pay(tab, owed, png)[0]
            view = view | {"next_nonce": tab.jobs, "owed": None}
        return tab, view

    def order(self, prompt: str, params: GenerationParams, max_price: int, *, green: bool, now: int,
              on_job_id: Callable[[int], None] = lambda job_id: None) -> Served:
        """Orders one job at the channel's next nonce, checks the answer and pays for it.
        `now` is the chain's time (the order's expiry counts from it); `on_job_id` hears the
        job's id before the order is posted (to follow its progress)."""
        tab, view = self.tab()
        if view["next_nonce"] != tab.jobs:
            raise InstantError(f"the site counts {view['next_nonce']} jobs on channel {self.channel_id}, the requester's "
                               f"vouchers {tab.jobs}")
        order = JobOrder(channel_id=self.channel_id, nonce=tab.jobs, model_id=self.site.offer.model_id,
                         prompt_hash=keccak(prompt.encode("utf-8")), params=params, max_price=max_price, green=green,
                         expiry=now + ORDER_VALIDITY_S)
        site = self.site
        job_id = channels.order_job_id(order, site.chain_id, site.channels)
        on_job_id(job_id)
        signature = self.sign(channels.typed_data(order, site.chain_id, site.channels))
        answer = self._post("/channels/orders", {"order": channels.order_wire(order), "signature": "0x" + signature.hex(),
                                                 "prompt": prompt}, timeout_s=self.generation_timeout_s)
        try:
            served = ServedJob.from_wire(answer["served"])
            png = base64.b64decode(answer["image"], validate=True)
        except (KeyError, TypeError, ValueError, InvalidInput) as exc:
            raise InstantError(f"the site's answer is malformed ({exc}); nothing was signed for it") from None
        if served.order != order:
            raise InstantError("the site answered with another order than the one posted; nothing was signed for it")
        tab, voucher = self._pay(tab, served, png)
        return Served(job_id, png, served, voucher)

    def _held_tab(self, view: dict) -> Tab:
        """The tab of the voucher the worker holds, checked: the requester's own signature, and
        the leaves given make its root."""
        try:
            held = view.get("voucher")
            leaves = [_bytes32(leaf) for leaf in view.get("leaves", [])]
            if held is None:
                return Tab.of(None, leaves, self.channel_id)
            voucher = channels.voucher_from_wire(held["voucher"])
            signer = channels.signer_of(voucher, channels.signature_from_wire(held["signature"]), self.site.chain_id,
                                        self.site.channels)
        except (KeyError, TypeError, ValueError) as exc:
            raise InstantError(f"the site's record of channel {self.channel_id} is malformed or not ours: {exc}") from None
        if signer.lower() != self.requester.lower():
            raise InstantError(f"the voucher the site holds for channel {self.channel_id} is not signed by {self.requester}")
        try:
            return Tab.of(voucher, leaves, self.channel_id)
        except InvalidInput as exc:
            raise InstantError(f"the site's record of channel {self.channel_id} does not match its voucher: {exc}") from None

    def _pay(self, tab: Tab, served: ServedJob, png: bytes) -> tuple[Tab, Voucher]:
        """Checks a served job, signs the voucher for the tab with it, and hands it to the site."""
        site = self.site
        if served.order.nonce != tab.jobs:
            raise InstantError(f"the site served order {served.order.nonce}, the channel's next is {tab.jobs}")
        try:
            leaf = channels.check_served(served, png, order=served.order, requester=self.requester, chain_id=site.chain_id,
                                         channels=site.channels, market=site.market, meter=site.meter,
                                         max_gpu_watts=site.max_gpu_watts, offer=site.offer)
        except channels.ServedJobRefused as exc:
            raise InstantError(f"not paying for order {served.order.nonce}: {exc}") from None
        tab = tab.served(served.price, served.receipt.energy_mwh, served.order.green, leaf)
        voucher = tab.voucher()
        signature = self.sign(channels.typed_data(voucher, site.chain_id, site.channels))
        self._post("/channels/vouchers", {"voucher": channels.voucher_wire(voucher), "signature": "0x" + signature.hex()},
                   timeout_s=self.timeout_s)
        return tab, voucher

    def _download(self, job_id: int) -> bytes:
        expiry = int(time.time()) + ORDER_VALIDITY_S
        signature = self.sign(downloads.typed_data(job_id, expiry, self.site.chain_id, self.site.market))
        try:
            response = downloads.fetch(self._base, job_id, expiry, signature, timeout_s=self.timeout_s)
        except requests.RequestException as exc:
            raise InstantError(f"the site's endpoint {self._base} is unreachable ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise InstantError(f"the site did not hand over the image of a served job: {_detail(response)}", response.status_code)
        return response.content

    def _get(self, path: str) -> dict:
        return self._answer(lambda: requests.get(self._base + path, timeout=self.timeout_s))

    def _post(self, path: str, body: dict, *, timeout_s: float) -> dict:
        return self._answer(lambda: requests.post(self._base + path, json=body, timeout=timeout_s))

    def _answer(self, call) -> dict:
        try:
            response = call()
        except requests.RequestException as exc:
            raise InstantError(f"the site's endpoint {self._base} is unreachable ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise InstantError(f"the site refused: {_detail(response)}", response.status_code)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise InstantError(f"the site's endpoint {self._base} did not answer with JSON")
        return body


def site_of(deployed, offer: Offer) -> Site:
    """The site of `offer` as a requester checks its jobs, read from the chain (Ape)."""
    registry = deployed.registry
    endpoint = registry.endpoint_of(offer.site_id)
    if not endpoint:
        raise InstantError(f"site {offer.site_id} publishes no endpoint: it cannot take instant jobs")
    meter, max_gpu_watts, active = registry.meter_of(offer.site_id)
    if not active:
        raise InstantError(f"site {offer.site_id} is not active")
    return Site(endpoint, meter, max_gpu_watts, offer, deployed.channels.chain_manager.chain_id, deployed.channels.address,
                deployed.market.address)


def _bytes32(text) -> bytes:
    if not isinstance(text, str) or len(text) != 66:
        raise InvalidInput("a leaf must be 0x and 64 hex digits")
    return bytes.fromhex(text[2:])


def _detail(response) -> str:
    try:
        return str(response.json().get("detail", ""))[:300] or f"HTTP {response.status_code}"
    except (ValueError, AttributeError):
        return f"HTTP {response.status_code}"
