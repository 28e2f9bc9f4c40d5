"""Channels (JobChannels): the EIP-712 JobOrder a requester signs for each job and the
cumulative Voucher it signs once it has checked each result, as the contract and a site's
worker check them. docs/SPEC.md, "Channels"."""

from __future__ import annotations

from degen import eip712
from degen.models import JobOrder, Voucher

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
