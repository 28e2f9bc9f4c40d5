"""Merkle evidence: every leaf's proof verifies against the root, nothing else does, and the
leaf is the documented hash of the sample's EIP-712 digest and signature."""

import pytest
from eth_account import Account
from eth_utils import keccak

from degen import eip712, telemetry
from degen.errors import InvalidInput
from degen.telemetry import MeterSample
from oracle import merkle

CHAIN_ID, REGISTRY = 31337, "0x" + "ab" * 20
METER = Account.from_key(b"\x11" * 32)


def signed(i: int) -> tuple[MeterSample, bytes]:
    sample = MeterSample(site_id=1, timestamp=1_800_000_000 + 300 * i, pv_watts=100 * i, register_wh=1_000 + i, battery_soc_permille=500)
    return sample, telemetry.sign(sample, METER, CHAIN_ID, REGISTRY)


def test_the_leaf_is_the_double_hash_of_digest_and_signature():
    sample, signature = signed(3)
    digest = eip712.digest(telemetry.typed_data(sample, CHAIN_ID, REGISTRY))
    assert merkle.leaf(sample, signature, CHAIN_ID, REGISTRY) == keccak(keccak(digest + signature))


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5, 7, 8, 13])
def test_every_proof_verifies_and_only_for_its_own_leaf(count):
    leaves = [merkle.leaf(*signed(i), CHAIN_ID, REGISTRY) for i in range(count)]
    root = merkle.root(leaves)
    for index, leaf in enumerate(leaves):
        proof = merkle.proof(leaves, index)
        assert merkle.verify(leaf, proof, root)
        assert len(proof) <= max(1, (count - 1).bit_length())
        other = leaves[(index + 1) % count]
        assert count == 1 or not merkle.verify(other, proof, root)
    assert not merkle.verify(keccak(b"a sample nobody signed"), merkle.proof(leaves, 0), root)


def test_an_edited_sample_has_another_leaf():
    sample, signature = signed(1)
    edited = sample.model_copy(update={"register_wh": sample.register_wh + 1})
    assert merkle.leaf(sample, signature, CHAIN_ID, REGISTRY) != merkle.leaf(edited, signature, CHAIN_ID, REGISTRY)


def test_bad_indices_and_empty_trees_are_refused():
    with pytest.raises(InvalidInput, match="at least one leaf"):
        merkle.root([])
    with pytest.raises(InvalidInput, match="outside 0..1"):
        merkle.proof([b"\x01" * 32, b"\x02" * 32], 2)
