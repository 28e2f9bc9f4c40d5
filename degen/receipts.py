"""The EIP-712 EnergyReceipt, defined once: the typed data a site's meter key signs and
JobMarket verifies on chain. Worker, oracle and tests all sign and check through here."""

from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from degen.errors import InvalidReceipt
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

_DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


def typed_data(receipt: EnergyReceipt, chain_id: int, market: str) -> dict:
    """The full EIP-712 message, as `eth_signTypedData_v4` and eth-account take it."""
    message = receipt.model_dump()
    message["result_hash"] = "0x" + receipt.result_hash.hex()
    return {
        "types": {"EIP712Domain": _DOMAIN_FIELDS, "EnergyReceipt": RECEIPT_FIELDS},
        "primaryType": "EnergyReceipt",
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": chain_id,
            "verifyingContract": str(market),
        },
        "message": message,
    }


def digest(receipt: EnergyReceipt, chain_id: int, market: str) -> bytes:
    """The 32-byte hash the meter key signs (JobMarket.receipt_digest returns the same)."""
    signable = encode_typed_data(full_message=typed_data(receipt, chain_id, market))
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def sign(receipt: EnergyReceipt, meter: LocalAccount, chain_id: int, market: str) -> bytes:
    """The meter key's 65-byte (r, s, v) signature over the receipt."""
    signed = meter.sign_message(encode_typed_data(full_message=typed_data(receipt, chain_id, market)))
    return bytes(signed.signature)


def signer_of(receipt: EnergyReceipt, signature: bytes, chain_id: int, market: str) -> str:
    """The address that signed `receipt`; raises InvalidReceipt for a malformed signature."""
    if len(signature) != 65:
        raise InvalidReceipt(f"a receipt signature is 65 bytes, got {len(signature)}")
    signable = encode_typed_data(full_message=typed_data(receipt, chain_id, market))
    return Account.recover_message(signable, signature=signature)
