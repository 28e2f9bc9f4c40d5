"""Off chain, a signature is accepted only in the one encoding the contracts accept: 65 bytes,
1 ≤ r < n, low s, v ∈ {27, 28} — for meter samples, energy receipts and download permissions
alike, all through `degen.eip712`."""

from __future__ import annotations

import pytest
from eth_account import Account
from hypothesis import given, settings, strategies as st

from degen import downloads, eip712, receipts, telemetry
from degen.errors import InvalidSignature
from degen.models import EnergyReceipt
from degen.telemetry import MeterSample

N = eip712.SECP256K1_N
KEY = Account.from_key(b"\x11" * 32)
CHAIN_ID, CONTRACT = 31337, "0x" + "ab" * 20
SAMPLE = MeterSample(site_id=1, timestamp=1_800_000_000, pv_watts=3_000, register_wh=1_000, battery_soc_permille=500)
RECEIPT = EnergyReceipt(job_id=1, result_hash=b"\x01" * 32, started_at=100, finished_at=130, energy_mwh=50,
                        meter_start=0, meter_end=50)

SIGNED = {
    "sample": (telemetry.sign(SAMPLE, KEY, CHAIN_ID, CONTRACT), lambda sig: telemetry.signer_of(SAMPLE, sig, CHAIN_ID, CONTRACT)),
    "receipt": (receipts.sign(RECEIPT, KEY, CHAIN_ID, CONTRACT), lambda sig: receipts.signer_of(RECEIPT, sig, CHAIN_ID, CONTRACT)),
    "download": (downloads.sign(KEY, 7, 2_000_000_000, CHAIN_ID, CONTRACT),
                 lambda sig: eip712.recover(downloads.typed_data(7, 2_000_000_000, CHAIN_ID, CONTRACT), sig)),
}


def parts(signature: bytes) -> tuple[int, int, int]:
    return int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big"), signature[64]


def encode(r: int, s: int, v: int) -> bytes:
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])


def high_s_twin(signature: bytes) -> bytes:
    """The same signature in its other valid ECDSA form: s' = n − s with v flipped."""
    r, s, v = parts(signature)
    return encode(r, N - s, 55 - v)


@pytest.mark.parametrize("kind", SIGNED)
def test_the_canonical_signature_recovers_the_signer(kind):
    signature, signer_of = SIGNED[kind]
    assert signer_of(signature) == KEY.address


@pytest.mark.parametrize("kind", SIGNED)
def test_the_high_s_twin_is_refused_although_it_would_recover_the_same_key(kind):
    signature, signer_of = SIGNED[kind]
    twin = high_s_twin(signature)
    assert Account._recover_hash(eip712.digest(_typed(kind)), signature=twin) == KEY.address  # without the check
    with pytest.raises(InvalidSignature, match="lower half"):
        eip712.recover_digest(eip712.digest(_typed(kind)), twin)
    with pytest.raises(ValueError):
        signer_of(twin)


def _typed(kind: str) -> dict:
    return {
        "sample": telemetry.typed_data(SAMPLE, CHAIN_ID, CONTRACT),
        "receipt": receipts.typed_data(RECEIPT, CHAIN_ID, CONTRACT),
        "download": downloads.typed_data(7, 2_000_000_000, CHAIN_ID, CONTRACT),
    }[kind]


@pytest.mark.parametrize("change, reason", [
    (lambda r, s, v: encode(r, s, v - 27), "v is 0"),
    (lambda r, s, v: encode(r, s, v + 227), r"v is 25[45]"),
    (lambda r, s, v: encode(0, s, v), "r is outside"),
    (lambda r, s, v: encode(N, s, v), "r is outside"),
    (lambda r, s, v: encode(r, 0, v), "lower half"),
    (lambda r, s, v: encode(r, N // 2 + 1, v), "lower half"),
    (lambda r, s, v: b"\x00" * 65, "r is outside"),
    (lambda r, s, v: b"\xff" * 65, "r is outside"),
    (lambda r, s, v: encode(r, s, v)[:64], "65 bytes"),
    (lambda r, s, v: encode(r, s, v) + b"\x00", "65 bytes"),
])
def test_every_other_encoding_is_refused_with_the_reason(change, reason):
    signature, _ = SIGNED["sample"]
    with pytest.raises(InvalidSignature, match=reason):
        telemetry.signer_of(SAMPLE, change(*parts(signature)), CHAIN_ID, CONTRACT)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=70))
def test_arbitrary_bytes_either_recover_canonically_or_are_refused_as_invalid(raw):
    """Nothing but InvalidSignature (a ValueError) ever escapes, and whatever recovers is canonical."""
    try:
        telemetry.signer_of(SAMPLE, raw, CHAIN_ID, CONTRACT)
    except InvalidSignature:
        return
    r, s, v = parts(raw)
    assert len(raw) == 65 and 0 < r < N and 0 < s <= N // 2 and v in (27, 28)
