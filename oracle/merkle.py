"""The evidence root of an issuance: a Merkle tree (`degen.merkle`) over the signed meter
samples it counts.

Leaf of a sample (documented in docs/oracle.md, checkable by anyone with the sample and its
signature):

    digest = EIP-712 digest of the MeterSample (degen/telemetry.py: domain "DeGEN telemetry",
             bound to the chain and the SiteRegistry)
    leaf   = keccak256(keccak256(digest ‖ signature))     signature: the meter key's 65 bytes

The double hash keeps a leaf from ever equalling an inner node. Leaves are in timestamp order."""

from __future__ import annotations

from eth_utils import keccak

from degen import telemetry
from degen.merkle import proof, root, verify  # noqa: F401 — the issuance evidence's tree, as the oracle's callers use it
from degen.telemetry import MeterSample


def leaf(sample: MeterSample, signature: bytes, chain_id: int, registry: str) -> bytes:
    return keccak(keccak(telemetry.digest(sample, chain_id, registry) + signature))
