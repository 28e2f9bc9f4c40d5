"""EIP-712 typed data in one place: the domain every DeGEN signature is bound to, and
signing, hashing and recovery of full typed-data messages."""

from __future__ import annotations

from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_utils import keccak

DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


def message(
    primary_type: str, fields: list[dict], values: dict, *, name: str, version: str, chain_id: int, contract: str
) -> dict:
    """A full typed-data message, as `eth_signTypedData_v4` and eth-account take it."""
    return {
        "types": {"EIP712Domain": DOMAIN_FIELDS, primary_type: fields},
        "primaryType": primary_type,
        "domain": {"name": name, "version": version, "chainId": chain_id, "verifyingContract": str(contract)},
        "message": values,
    }


def signable(typed: dict) -> SignableMessage:
    """The typed data as eth-account's SignableMessage (what wallets and Ape accounts sign)."""
    return encode_typed_data(full_message=typed)


def digest(typed: dict) -> bytes:
    """The 32-byte hash that is signed: keccak256(0x1901 ‖ domainSeparator ‖ structHash)."""
    message_ = signable(typed)
    return keccak(b"\x19" + message_.version + message_.header + message_.body)


def sign(typed: dict, key) -> bytes:
    """A 65-byte (r, s, v) signature by `key` (a LocalAccount or a private key)."""
    return bytes(Account.sign_message(signable(typed), key.key if hasattr(key, "key") else key).signature)


def recover(typed: dict, signature: bytes) -> str:
    return Account.recover_message(signable(typed), signature=signature)


def domain_separator(*, name: str, version: str, chain_id: int, contract: str) -> bytes:
    """hashStruct(EIP712Domain) of a domain, as `message` builds it."""
    return signable(message("Empty", [], {}, name=name, version=version, chain_id=chain_id, contract=contract)).header


def recover_digest(digest_: bytes, signature: bytes) -> str:
    """The signer of a 32-byte digest (for callers that hash their typed data themselves).
    Raises ValueError for a malformed signature, high-s included, as `recover` does."""
    return Account._recover_hash(digest_, signature=signature)
