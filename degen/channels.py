"""Channels (JobChannels): the EIP-712 JobOrder a requester signs for each job and the
cumulative Voucher it signs once it has checked each result, as the contract and a site's
worker check them. docs/SPEC.md, "Channels"."""

from __future__ import annotations

from dataclasses import dataclass, replace

from eth_utils import keccak

from degen import eip712, merkle, receipts
from degen.models import EnergyReceipt, JobOrder, Voucher

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


def typed_data(signed: JobOrder | Voucher, chain_id: int, channels: str) -> dict:
    """The full EIP-712 message of an order or a voucher on the JobChannels at `channels`."""
    if isinstance(signed, JobOrder):
        values = {**signed.model_dump(exclude={"params"}), **signed.params.model_dump(),
                  "model_id": "0x" + signed.model_id.hex(), "prompt_hash": "0x" + signed.prompt_hash.hex()}
        kind, fields = "JobOrder", ORDER_FIELDS
    else:
        values = {**signed.model_dump(), "receipts_root": "0x" + signed.receipts_root.hex()}
        kind, fields = "Voucher", VOUCHER_FIELDS
    return eip712.message(kind, fields, values, name=DOMAIN_NAME, version=DOMAIN_VERSION, chain_id=chain_id,
                          contract=channels)


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

    def voucher(self) -> Voucher:
        """The voucher that pays exactly this tab."""
        return Voucher(channel_id=self.channel_id, jobs=self.jobs, amount=self.amount, energy_mwh=self.energy_mwh,
                       green_mwh=self.green_mwh, receipts_root=merkle.root(list(self.leaves)) if self.leaves else b"\x00" * 32)
