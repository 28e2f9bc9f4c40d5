"""The EIP-712 EnergyReceipt: what a site's meter key signs and JobMarket verifies on
chain. Worker, oracle and tests all build, sign and check receipts through here."""

from __future__ import annotations

from degen import eip712
from degen.errors import InvalidReceipt, InvalidSignature
from degen.models import EnergyReceipt

DOMAIN_NAME = "DeGEN JobMarket"
DOMAIN_VERSION = "1"

RECEIPT_FIELDS = [
    {"name": "job_id", "type": "uint256"},
    {"name": "result_hash", "type": "bytes32"},
    {"name": "started_at", "type": "uint64"},
    {"name": "finished_at", "type": "uint64"},
    {"name": "energy_mwh", "type": "uint64"},
    {"name": "meter_start", "type": "uint64"},
    {"name": "meter_end", "type": "uint64"},
]


def typed_data(receipt: EnergyReceipt, chain_id: int, market: str) -> dict:
    """The full EIP-712 message for `receipt` on the market at `market`."""
    values = receipt.model_dump()
    values["result_hash"] = "0x" + receipt.result_hash.hex()
    return eip712.message(
        "EnergyReceipt", RECEIPT_FIELDS, values,
        name=DOMAIN_NAME, version=DOMAIN_VERSION, chain_id=chain_id, contract=market,
    )


def digest(receipt: EnergyReceipt, chain_id: int, market: str) -> bytes:
    """The hash the meter key signs (JobMarket.receipt_digest returns the same)."""
    return eip712.digest(typed_data(receipt, chain_id, market))


def sign(receipt: EnergyReceipt, meter, chain_id: int, market: str) -> bytes:
    """The meter key's 65-byte signature over the receipt."""
    return eip712.sign(typed_data(receipt, chain_id, market), meter)


def signer_of(receipt: EnergyReceipt, signature: bytes, chain_id: int, market: str) -> str:
    """The address that signed `receipt`; raises InvalidReceipt for a malformed or
    non-canonical signature (one the market would refuse)."""
    try:
        return eip712.recover(typed_data(receipt, chain_id, market), signature)
    except InvalidSignature as exc:
        raise InvalidReceipt(f"the receipt signature is invalid: {exc}") from None


def energy_bound(max_gpu_watts: int, seconds: int) -> int:
    """The most mWh a receipt may claim for `seconds` of a site's registered GPU power (the
    market refuses more)."""
    return max_gpu_watts * seconds * 1000 // 3600
