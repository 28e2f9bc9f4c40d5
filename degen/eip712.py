"""EIP-712 typed data in one place: the domain every DeGEN signature is bound to, and
signing, hashing and recovery of full typed-data messages.

Every signature checked off chain goes through `recover` or `recover_digest`, which accept
exactly what the contracts accept (`ecdsa._recover_sig` of snekmate and the EVM's
`ecrecover`): 65 bytes (r, s, v) with 1 ≤ r < n, 1 ≤ s ≤ n/2 (low s) and v ∈ {27, 28}. So
no other encoding of a signature (the high-s twin n − s with v flipped, v = 0/1 or 254/255)
is ever stored or honoured off chain while the chain would refuse it."""

from __future__ import annotations

from coincurve import PublicKey
from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_utils import keccak, to_checksum_address

from degen.errors import InvalidSignature

DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


def message(
    primary_type: str, fields: list[dict], values: dict, *, name: str, version: str, chain_id: int, contract: str,
    types: dict[str, list[dict]] | None = None,
) -> dict:
    """A full typed-data message, as `eth_signTypedData_v4` and eth-account take it (`types`:
    the structs its fields refer to)."""
    return {
        "types": {"EIP712Domain": DOMAIN_FIELDS, primary_type: fields, **(types or {})},
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


SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def check_canonical(signature: bytes) -> None:
    """Raises InvalidSignature unless `signature` is the one encoding the contracts accept."""
    if len(signature) != 65:
        raise InvalidSignature(f"a signature is 65 bytes (r, s, v), got {len(signature)}")
    r, s, v = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big"), signature[64]
    if not 0 < r < SECP256K1_N:
        raise InvalidSignature("the signature's r is outside 1..n-1")
    if not 0 < s <= SECP256K1_N // 2:
        raise InvalidSignature("the signature's s is not in the lower half of the curve order (high-s or zero)")
    if v not in (27, 28):
        raise InvalidSignature(f"the signature's v is {v}, not 27 or 28")


def recover(typed: dict, signature: bytes) -> str:
    """The signer of a typed-data message; raises InvalidSignature for any signature the
    contracts would refuse."""
    return recover_digest(digest(typed), signature)


def domain_separator(*, name: str, version: str, chain_id: int, contract: str) -> bytes:
    """hashStruct(EIP712Domain) of a domain, as `message` builds it."""
    return signable(message("Empty", [], {}, name=name, version=version, chain_id=chain_id, contract=contract)).header


def recover_digest(digest_: bytes, signature: bytes) -> str:
    """The (checksummed) signer of a 32-byte digest, for callers that hash their typed data
    themselves; raises InvalidSignature for any signature the contracts would refuse."""
    return to_checksum_address(signer_address(digest_, signature))


def signer_address(digest_: bytes, signature: bytes) -> bytes:
    """The 20-byte address that signed a 32-byte digest, recovered by libsecp256k1 (coincurve)
    directly: about a third of eth-account's cost, which the oracle pays for every sample.
    Raises InvalidSignature for any signature the contracts would refuse."""
    check_canonical(signature)
    try:
        key = PublicKey.from_signature_and_message(signature[:64] + bytes([signature[64] - 27]), digest_, hasher=None)
    except ValueError as exc:  # an r that is no point's x coordinate
        raise InvalidSignature(f"the signature does not recover a key: {exc}") from None
    return keccak(key.format(compressed=False)[1:])[-20:]
