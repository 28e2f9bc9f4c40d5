"""EIP-2612 permits for AKRE, so a requester can approve and post a job in one transaction."""

from __future__ import annotations

from typing import NamedTuple

from degen import eip712

TOKEN_DOMAIN_NAME = "AkreToken"
TOKEN_DOMAIN_VERSION = "1"

PERMIT_FIELDS = [
    {"name": "owner", "type": "address"},
    {"name": "spender", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]


class PermitSignature(NamedTuple):
    deadline: int
    v: int
    r: bytes
    s: bytes


def typed_data(*, token: str, chain_id: int, owner: str, spender: str, value: int, nonce: int, deadline: int) -> dict:
    """The EIP-2612 Permit letting `spender` move `value` of `owner`'s AKRE until `deadline`."""
    return eip712.message(
        "Permit", PERMIT_FIELDS,
        {"owner": owner, "spender": spender, "value": value, "nonce": nonce, "deadline": deadline},
        name=TOKEN_DOMAIN_NAME, version=TOKEN_DOMAIN_VERSION, chain_id=chain_id, contract=token,
    )


def split(signature: bytes, deadline: int) -> PermitSignature:
    """A 65-byte (r, s, v) signature as the (deadline, v, r, s) the market's permit entry takes."""
    return PermitSignature(deadline, signature[64], signature[:32], signature[32:64])


def sign_permit(
    key, *, token: str, chain_id: int, owner: str, spender: str, value: int, nonce: int, deadline: int
) -> PermitSignature:
    """Signs a permit letting `spender` move `value` of `owner`'s AKRE until `deadline`."""
    typed = typed_data(token=token, chain_id=chain_id, owner=owner, spender=spender, value=value, nonce=nonce, deadline=deadline)
    return split(eip712.sign(typed, key), deadline)
