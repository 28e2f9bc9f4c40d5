"""Channels (JobChannels): the EIP-712 JobOrder a requester signs for each job and the
cumulative Voucher it signs once it has checked each result, as the contract and a site's
worker check them. docs/SPEC.md, "Channels"."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields, replace

from eth_utils import keccak

from degen import eip712, merkle, receipts
from degen.chain.readonly import history
from degen.errors import DegenError, InvalidInput
from degen.models import ZERO_ADDRESS, EnergyReceipt, GenerationParams, JobOrder, Offer, Voucher, job_price
from degen.requester import RequesterError, akre, signed_permit, transact

DOMAIN_NAME = "DeGEN JobChannels"
DOMAIN_VERSION = "1"

ORDER_FIELDS = [
    {"name": "channel_id", "type": "uint256"},
    {"name": "nonce", "type": "uint64"},
    {"name": "model_id", "type": "bytes32"},
    {"name": "prompt_hash", "type": "bytes32"},
    {"name": "width", "type": "uint16"},
    {"name": "height", "type": "uint16"},
    {"name": "steps", "type": "uint16"},
    {"name": "guidance_x100", "type": "uint16"},
    {"name": "seed", "type": "uint64"},
    {"name": "max_price", "type": "uint96"},
    {"name": "green", "type": "bool"},
    {"name": "expiry", "type": "uint64"},
]
VOUCHER_FIELDS = [
    {"name": "channel_id", "type": "uint256"},
    {"name": "jobs", "type": "uint32"},
    {"name": "amount", "type": "uint96"},
    {"name": "energy_mwh", "type": "uint64"},
    {"name": "green_mwh", "type": "uint64"},
    {"name": "receipts_root", "type": "bytes32"},
]


def flat(signed: JobOrder | Voucher) -> dict:
    """The struct's EIP-712 fields, flat, with bytes32 as 0x-hex."""
    if isinstance(signed, JobOrder):
        return {**signed.model_dump(exclude={"params"}), **signed.params.model_dump(),
                "model_id": "0x" + signed.model_id.hex(), "prompt_hash": "0x" + signed.prompt_hash.hex()}
    return {**signed.model_dump(), "receipts_root": "0x" + signed.receipts_root.hex()}


def typed_data(signed: JobOrder | Voucher, chain_id: int, channels: str) -> dict:
    """The full EIP-712 message of an order or a voucher on the JobChannels at `channels`."""
    kind, fields = ("JobOrder", ORDER_FIELDS) if isinstance(signed, JobOrder) else ("Voucher", VOUCHER_FIELDS)
    return eip712.message(kind, fields, flat(signed), name=DOMAIN_NAME, version=DOMAIN_VERSION, chain_id=chain_id,
                          contract=channels)


# ---- the wire format of a site's channel endpoints (JSON) ----------------------------------


def to_wire(values: dict, struct: list[dict]) -> dict:
    """EIP-712 struct values as the channel endpoints carry them in JSON: integers wider than
    32 bits as decimal strings (JavaScript's numbers hold 53 bits), bytes32 as 0x-hex."""
    wire = {}
    for field in struct:
        value, kind = values[field["name"]], field["type"]
        if kind.startswith("uint") and int(kind[4:]) > 32:
            value = str(value)
        elif kind == "bytes32" and isinstance(value, bytes):
            value = "0x" + value.hex()
        wire[field["name"]] = value
    return wire


def order_wire(order: JobOrder) -> dict:
    return to_wire(flat(order), ORDER_FIELDS)


def voucher_wire(voucher: Voucher) -> dict:
    return to_wire(flat(voucher), VOUCHER_FIELDS)


def receipt_wire(receipt: EnergyReceipt) -> dict:
    return to_wire(receipt.model_dump(), receipts.RECEIPT_FIELDS)


def order_from_wire(wire: dict) -> JobOrder:
    """The order a JSON object carries; InvalidInput names what is wrong."""
    _exact_keys(wire, ORDER_FIELDS, "an order")
    params = {name: wire[name] for name in GenerationParams.model_fields}
    return JobOrder(**{key: value for key, value in wire.items() if key not in params}, params=GenerationParams(**params))


def voucher_from_wire(wire: dict) -> Voucher:
    _exact_keys(wire, VOUCHER_FIELDS, "a voucher")
    return Voucher(**wire)


def receipt_from_wire(wire: dict) -> EnergyReceipt:
    _exact_keys(wire, receipts.RECEIPT_FIELDS, "a receipt")
    return EnergyReceipt(**wire)


def _exact_keys(wire, struct: list[dict], what: str) -> None:
    if not isinstance(wire, dict):
        raise InvalidInput(f"{what} must be a JSON object")
    names = {field["name"] for field in struct}
    if missing := sorted(names - wire.keys()):
        raise InvalidInput(f"{what} lacks {', '.join(missing)}")
    if extra := sorted(wire.keys() - names):
        raise InvalidInput(f"{what} has unknown fields {', '.join(extra)}")


def signature_from_wire(text) -> bytes:
    """A 0x-hex signature as bytes (its form is checked where it is recovered)."""
    if not isinstance(text, str) or len(text) > 140:
        raise InvalidInput("a signature must be 0x-hex text")
    try:
        return bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise InvalidInput("a signature must be 0x-hex text") from None


def digest(signed: JobOrder | Voucher, chain_id: int, channels: str) -> bytes:
    """What the requester signs (JobChannels' `order_digest` / `voucher_digest` return the same)."""
    return eip712.digest(typed_data(signed, chain_id, channels))


def sign(signed: JobOrder | Voucher, key, chain_id: int, channels: str) -> bytes:
    """The requester's 65-byte signature."""
    return eip712.sign(typed_data(signed, chain_id, channels), key)


def signer_of(signed: JobOrder | Voucher, signature: bytes, chain_id: int, channels: str) -> str:
    """Who signed it; raises InvalidSignature for a malformed or non-canonical signature."""
    return eip712.recover(typed_data(signed, chain_id, channels), signature)


def order_job_id(order: JobOrder, chain_id: int, channels: str) -> int:
    """The job id an order's energy receipt carries: its digest read as a number (never a
    JobMarket job's id, which count from 1)."""
    return int.from_bytes(digest(order, chain_id, channels), "big")


def receipt_leaf(receipt: EnergyReceipt, signature: bytes, chain_id: int, market: str) -> bytes:
    """A job's leaf in its voucher's receipts root: keccak256(keccak256(receipt digest ‖ the
    meter's signature)), the receipt's digest in the JobMarket's domain as the meter signs it."""
    return keccak(keccak(receipts.digest(receipt, chain_id, market) + signature))


@dataclass(frozen=True)
class Tab:
    """What a requester owes a channel's site after the jobs served so far: the totals its
    next voucher must carry, and the leaves of the receipts it covers, in order."""

    channel_id: int
    jobs: int = 0
    amount: int = 0
    energy_mwh: int = 0
    green_mwh: int = 0
    leaves: tuple[bytes, ...] = ()

    def served(self, price: int, energy_mwh: int, green: bool, leaf: bytes) -> Tab:
        """The tab after one more job."""
        return replace(self, jobs=self.jobs + 1, amount=self.amount + price, energy_mwh=self.energy_mwh + energy_mwh,
                       green_mwh=self.green_mwh + (energy_mwh if green else 0), leaves=(*self.leaves, leaf))

    @classmethod
    def of(cls, voucher: Voucher | None, leaves: list[bytes], channel_id: int) -> Tab:
        """The tab a voucher pays, its receipts' leaves given: InvalidInput when they do not
        make the voucher's count and root."""
        if voucher is None:
            if leaves:
                raise InvalidInput("receipts were given for a channel without a voucher")
            return cls(channel_id)
        tab = cls(channel_id, voucher.jobs, voucher.amount, voucher.energy_mwh, voucher.green_mwh, tuple(leaves))
        if voucher.channel_id != channel_id or tab.voucher() != voucher:
            raise InvalidInput(f"the receipts given are not the {voucher.jobs} jobs the voucher covers")
        return tab

    def voucher(self) -> Voucher:
        """The voucher that pays exactly this tab."""
        return Voucher(channel_id=self.channel_id, jobs=self.jobs, amount=self.amount, energy_mwh=self.energy_mwh,
                       green_mwh=self.green_mwh, receipts_root=merkle.root(list(self.leaves)) if self.leaves else b"\x00" * 32)


@dataclass(frozen=True)
class ServedJob:
    """One order a channel's site served: the order as the requester signed it, the receipt
    the site's meter signed for the job, the offer it was priced by and its price."""

    order: JobOrder
    order_signature: bytes
    receipt: EnergyReceipt
    meter_signature: bytes
    offer_id: int
    price: int
    cid: str

    def wire(self) -> dict:
        return {"order": order_wire(self.order), "order_signature": "0x" + self.order_signature.hex(),
                "receipt": receipt_wire(self.receipt), "meter_signature": "0x" + self.meter_signature.hex(),
                "offer_id": self.offer_id, "price": str(self.price), "cid": self.cid}

    @classmethod
    def from_wire(cls, wire) -> ServedJob:
        if not isinstance(wire, dict):
            raise InvalidInput("a served job must be a JSON object")
        try:
            return cls(order_from_wire(wire["order"]), signature_from_wire(wire["order_signature"]),
                       receipt_from_wire(wire["receipt"]), signature_from_wire(wire["meter_signature"]),
                       int(wire["offer_id"]), int(wire["price"]), str(wire["cid"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"a served job is malformed: {exc}") from None


class ServedJobRefused(DegenError, ValueError):
    """What a site answered an order with is not something to pay for."""


def check_served(served: ServedJob, png: bytes, *, order: JobOrder, requester: str, chain_id: int, channels: str,
                 market: str, meter: str, max_gpu_watts: int, offer: Offer) -> bytes:
    """The checks a requester makes before it signs for a served job (docs/SPEC.md,
    "Channels"): the order is its own, the image is the receipt's, the receipt is signed by the
    site's meter for this order, its energy fits the site's GPU bound and the price is the
    offer's rule. Returns the job's receipt leaf; ServedJobRefused says what is wrong."""
    if served.order != order or signer_of(order, served.order_signature, chain_id, channels).lower() != requester.lower():
        raise ServedJobRefused("the site answered with an order that is not the one signed")
    receipt = served.receipt
    if receipt.job_id != order_job_id(order, chain_id, channels):
        raise ServedJobRefused("the receipt is for another job than the order")
    if hashlib.sha256(png).digest() != receipt.result_hash:
        raise ServedJobRefused("the image is not the one the receipt names (sha256 differs)")
    if receipts.signer_of(receipt, served.meter_signature, chain_id, market).lower() != meter.lower():
        raise ServedJobRefused("the receipt is not signed by the site's registered meter")
    seconds = receipt.finished_at - receipt.started_at
    if seconds <= 0 or receipt.energy_mwh > receipts.energy_bound(max_gpu_watts, seconds):
        raise ServedJobRefused(f"the receipt claims {receipt.energy_mwh} mWh, more than the site's GPU bound allows")
    expected = job_price(offer.base_price, offer.price_per_kwh, receipt.energy_mwh, order.max_price)
    if served.offer_id != offer.offer_id or served.price != expected:
        raise ServedJobRefused(f"the price {served.price} is not offer {offer.offer_id}'s rule for the energy ({expected})")
    return receipt_leaf(receipt, served.meter_signature, chain_id, market)


# ---- a requester's channels on chain (through Ape) ----------------------------------------


@dataclass(frozen=True)
class ChannelState:
    """A channel as JobChannels holds it."""

    channel_id: int
    requester: str
    site_id: int
    beneficiary: str
    deposit: int
    redeemed: int  # AKRE paid out for redeemed vouchers, the fee included
    redeemed_mwh: int
    redeemed_green_mwh: int
    jobs: int  # jobs the last redeemed voucher covers
    closes_at: int  # 0 while open
    closed: bool  # withdrawn: nothing more can be redeemed

    @property
    def available(self) -> int:
        """What vouchers may still claim (or the requester withdraw after closing)."""
        return self.deposit - self.redeemed


def state(deployed, channel_id: int) -> ChannelState:
    """The channel; RequesterError when there is none with that id."""
    if not 0 < channel_id <= deployed.channels.channel_count():
        raise RequesterError(f"there is no channel {channel_id}")
    return _read(deployed, channel_id)


def opened_by(deployed, address: str) -> list[ChannelState]:
    """Every channel `address` opened, oldest first."""
    channels = history(deployed, "channels")
    opened = channels.ChannelOpened.range(deployed.block, channels.chain_manager.blocks.height + 1,
                                          search_topics={"requester": address})
    return [_read(deployed, log.channel_id) for log in opened]


def _read(deployed, channel_id: int) -> ChannelState:
    record = deployed.channels.channel(channel_id)
    return ChannelState(channel_id, *(getattr(record, field.name) for field in fields(ChannelState)[1:]))


def open_channel(deployed, account, site_id: int, deposit: int, beneficiary: str | None = None) -> int:
    """Opens a channel of `account`'s with the site, depositing `deposit` AKRE (with an EIP-2612
    permit in the same transaction when the allowance is short); its id."""
    token, channels = deployed.token, deployed.channels
    if not deployed.registry.is_active(site_id):
        raise RequesterError(f"site {site_id} is not active: a channel needs a site the registry lets trade")
    balance = token.balanceOf(account.address)
    if balance < deposit:
        raise RequesterError(f"insufficient balance: {account.address} has {akre(balance)}, the deposit is {akre(deposit)}")
    named = beneficiary or ZERO_ADDRESS
    if token.allowance(account.address, channels.address) >= deposit:
        tx = transact(channels.open_channel, site_id, deposit, named, sender=account)
    else:
        tx = transact(channels.open_channel_with_permit, site_id, deposit, named,
                       *signed_permit(deployed, account, channels.address, deposit), sender=account)
    return tx.return_value


def top_up(deployed, account, channel_id: int, amount: int) -> int:
    """Adds `amount` AKRE to one of `account`'s open channels (approving it first when
    needed); the new deposit."""
    token, channels = deployed.token, deployed.channels
    _own(state(deployed, channel_id), account)
    if token.allowance(account.address, channels.address) < amount:
        transact(token.approve, channels.address, amount, sender=account)
    return transact(channels.top_up, channel_id, amount, sender=account).decode_logs(channels.ChannelToppedUp)[0].deposit


def close(deployed, account, channel_id: int) -> int:
    """Starts the channel's notice; when it ends (unix seconds)."""
    _own(state(deployed, channel_id), account)
    channels = deployed.channels
    return transact(channels.close, channel_id, sender=account).decode_logs(channels.ChannelClosing)[0].closes_at


def withdraw(deployed, account, channel_id: int) -> int:
    """After the notice, takes back what no redeemed voucher claims; the refund."""
    _own(state(deployed, channel_id), account)
    channels = deployed.channels
    return transact(channels.withdraw, channel_id, sender=account).decode_logs(channels.ChannelClosed)[0].refund


def _own(channel: ChannelState, account) -> None:
    if channel.requester.lower() != account.address.lower():
        raise RequesterError(f"channel {channel.channel_id} is {channel.requester}'s, not {account.address}'s")
