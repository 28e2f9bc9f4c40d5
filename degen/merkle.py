"""Merkle trees as DeGEN commits to evidence on chain: an issuance's samples (oracle) and a
channel voucher's job receipts (JobChannels). Inner nodes hash their two children in sorted
order, keccak256(min(a, b) ‖ max(a, b)) (OpenZeppelin's MerkleProof convention), so a proof is
just the list of siblings from the leaf up; a node without a sibling moves up a level
unchanged. What a leaf is belongs to whoever commits (`oracle.merkle.leaf`,
`degen.channels.receipt_leaf`)."""

from __future__ import annotations

from eth_utils import keccak

from degen.errors import InvalidInput


def _parent(a: bytes, b: bytes) -> bytes:
    return keccak(min(a, b) + max(a, b))


def _levels(leaves: list[bytes]) -> list[list[bytes]]:
    if not leaves:
        raise InvalidInput("a Merkle tree needs at least one leaf")
    levels = [list(leaves)]
    while len(levels[-1]) > 1:
        level = levels[-1]
        levels.append([_parent(level[i], level[i + 1]) if i + 1 < len(level) else level[i] for i in range(0, len(level), 2)])
    return levels


def root(leaves: list[bytes]) -> bytes:
    return _levels(leaves)[-1][0]


def proof(leaves: list[bytes], index: int) -> list[bytes]:
    """The siblings from leaf `index` up to the root."""
    if not 0 <= index < len(leaves):
        raise InvalidInput(f"leaf index {index} is outside 0..{len(leaves) - 1}")
    siblings = []
    for level in _levels(leaves)[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            siblings.append(level[sibling])
        index //= 2
    return siblings


def verify(leaf_hash: bytes, siblings: list[bytes], expected_root: bytes) -> bool:
    node = leaf_hash
    for sibling in siblings:
        node = _parent(node, sibling)
    return node == expected_root
