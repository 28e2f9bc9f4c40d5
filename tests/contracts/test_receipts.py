"""On-chain verification of EIP-712 energy receipts: every forgery and replay an attacker
could try is refused, and both eth-account and anvil's own signer produce valid receipts."""

import json

import pytest
from eth_account import Account

from degen import receipts
from degen.models import EnergyReceipt
from tests.conftest import MAX_GPU_WATTS

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def raw(receipt: EnergyReceipt, **changes) -> tuple:
    """The receipt tuple with fields changed, bypassing the SDK's own checks."""
    fields = receipt.model_dump()
    fields.update(changes)
    return tuple(fields[f["name"]] for f in receipts.RECEIPT_FIELDS)


def test_sdk_digest_matches_contract(market, accepted_job, make_receipt, chain):
    receipt = make_receipt(accepted_job())
    assert market.receipt_digest(receipt.as_tuple()) == receipts.digest(receipt, chain.chain_id, market.address)


def test_eth_account_signature_verifies(market, accepted_job, make_receipt, sign, provider, site_id, meter, chain):
    job_id = accepted_job()
    receipt = make_receipt(job_id, energy_mwh=2_000)
    signature = sign(receipt)
    assert receipts.signer_of(receipt, signature, chain.chain_id, market.address) == meter.address
    tx = market.deliver(job_id, receipt.as_tuple(), signature, sender=provider)
    event = tx.decode_logs(market.JobDelivered)[0]
    assert event.job_id == job_id and event.site_id == site_id
    assert event.result_hash == receipt.result_hash
    assert event.energy_mwh == 2_000 and event.meter_end == receipt.meter_end
    assert market.meter_register(site_id) == receipt.meter_end
    assert market.job(job_id).energy_mwh == 2_000


def test_anvil_signed_receipt_verifies(market, registry, accounts, create_job, provider, deployer, make_receipt, chain, token):
    """A meter key held by the node itself signs through `eth_signTypedData_v4`."""
    node_meter = accounts[6]
    site = registry.register_site(node_meter.address, 5_000, 0, 300, "SG", sender=provider).return_value
    registry.activate(site, sender=deployer)
    offer = market.create_offer(site, b"\x01" * 32, 512, 512, 30, 10**18, 0, 0, False, sender=provider).return_value
    job_id = create_job(offer_id=offer)
    market.accept(job_id, offer, sender=provider)
    chain.pending_timestamp += 60
    receipt = make_receipt(job_id, energy_mwh=1_000)
    typed = receipts.typed_data(receipt, chain.chain_id, market.address)
    signature = chain.provider.make_request("eth_signTypedData_v4", [node_meter.address, json.dumps(typed)])
    signature = bytes.fromhex(signature.removeprefix("0x"))
    assert receipts.signer_of(receipt, signature, chain.chain_id, market.address) == node_meter.address
    market.deliver(job_id, receipt.as_tuple(), signature, sender=provider)
    assert market.job(job_id).state == 4  # DELIVERED


def test_receipt_for_another_job_is_refused(market, accepted_job, make_receipt, sign, provider, reverts):
    first, second = accepted_job(), accepted_job()
    receipt = make_receipt(first)
    with reverts("market: receipt for another job"):
        market.deliver(second, receipt.as_tuple(), sign(receipt), sender=provider)


def test_replayed_receipt_is_refused(market, accepted_job, make_receipt, sign, provider, reverts):
    job_id = accepted_job()
    receipt = make_receipt(job_id)
    market.deliver(job_id, receipt.as_tuple(), sign(receipt), sender=provider)
    with reverts("market: job not accepted"):
        market.deliver(job_id, receipt.as_tuple(), sign(receipt), sender=provider)


def test_edited_receipt_breaks_the_signature(market, accepted_job, make_receipt, sign, provider, reverts):
    job_id = accepted_job()
    receipt = make_receipt(job_id, energy_mwh=1_000)
    signature = sign(receipt)
    inflated = raw(receipt, energy_mwh=1_500, meter_end=receipt.meter_start + 1_500)
    with reverts("market: bad meter signature"):
        market.deliver(job_id, inflated, signature, sender=provider)


def test_wrong_signer_is_refused(market, accepted_job, make_receipt, sign, provider, reverts):
    job_id = accepted_job()
    receipt = make_receipt(job_id)
    with reverts("market: bad meter signature"):
        market.deliver(job_id, receipt.as_tuple(), sign(receipt, Account.from_key(b"\x22" * 32)), sender=provider)


def test_signature_for_another_market_is_refused(market, accepted_job, make_receipt, meter, provider, chain, reverts):
    job_id = accepted_job()
    receipt = make_receipt(job_id)
    elsewhere = receipts.sign(receipt, meter, chain.chain_id, "0x" + "ab" * 20)
    with reverts("market: bad meter signature"):
        market.deliver(job_id, receipt.as_tuple(), elsewhere, sender=provider)


def test_malleable_signature_is_refused(market, accepted_job, make_receipt, sign, provider, reverts):
    job_id = accepted_job()
    receipt = make_receipt(job_id)
    signature = sign(receipt)
    s = int.from_bytes(signature[32:64], "big")
    flipped = signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - signature[64]])
    with reverts("ecdsa: invalid signature `s` value"):
        market.deliver(job_id, receipt.as_tuple(), flipped, sender=provider)


def test_the_compact_eip2098_form_of_a_valid_signature_is_refused(market, accepted_job, make_receipt, sign, provider, reverts):
    """The SPEC says 65 bytes (r, s, v): the 64-byte form (r, s with v's parity in its top bit) is refused."""
    job_id = accepted_job()
    receipt = make_receipt(job_id)
    signature = sign(receipt)
    s = int.from_bytes(signature[32:64], "big") | ((signature[64] - 27) << 255)
    compact = signature[:32] + s.to_bytes(32, "big")
    with reverts("market: signature not 65 bytes"):
        market.deliver(job_id, receipt.as_tuple(), compact, sender=provider)
    market.deliver(job_id, receipt.as_tuple(), signature, sender=provider)


def test_energy_above_physical_bound_is_refused(market, accepted_job, make_receipt, sign, provider, reverts):
    job_id = accepted_job()
    duration = 30
    at_bound = MAX_GPU_WATTS * duration * 1000 // 3600  # mWh the GPU can draw in 30 s
    too_much = make_receipt(job_id, energy_mwh=at_bound + 1, duration=duration)
    with reverts("market: energy above physical bound"):
        market.deliver(job_id, too_much.as_tuple(), sign(too_much), sender=provider)
    exact = make_receipt(job_id, energy_mwh=at_bound, duration=duration)
    market.deliver(job_id, exact.as_tuple(), sign(exact), sender=provider)


def test_zero_duration_allows_no_energy(market, accepted_job, make_receipt, sign, provider, reverts):
    job_id = accepted_job()
    receipt = make_receipt(job_id, energy_mwh=1, duration=0)
    with reverts("market: energy above physical bound"):
        market.deliver(job_id, receipt.as_tuple(), sign(receipt), sender=provider)


def test_meter_going_backwards_is_refused(market, accepted_job, make_receipt, sign, provider, site_id, reverts):
    first, second = accepted_job(), accepted_job()
    receipt = make_receipt(first, energy_mwh=1_000)
    market.deliver(first, receipt.as_tuple(), sign(receipt), sender=provider)
    backwards = make_receipt(second, energy_mwh=1_000, meter_start=receipt.meter_end - 1)
    with reverts("market: meter went backwards"):
        market.deliver(second, backwards.as_tuple(), sign(backwards), sender=provider)
    onwards = make_receipt(second, energy_mwh=1_000, meter_start=receipt.meter_end)
    market.deliver(second, onwards.as_tuple(), sign(onwards), sender=provider)
    assert market.meter_register(site_id) == receipt.meter_end + 1_000


def test_meter_readings_must_match_energy(market, accepted_job, make_receipt, sign, provider, reverts):
    job_id = accepted_job()
    receipt = make_receipt(job_id, energy_mwh=1_000)
    with reverts("market: meter mismatch"):
        market.deliver(job_id, raw(receipt, meter_end=receipt.meter_end + 1), sign(receipt), sender=provider)


@pytest.mark.parametrize("shift", ["before_accept", "in_future", "reversed"])
def test_window_outside_job_is_refused(shift, market, accepted_job, make_receipt, sign, provider, chain, reverts):
    job_id = accepted_job()
    accepted_at = market.job(job_id).state_since
    receipt = {
        "before_accept": make_receipt(job_id, started_at=accepted_at - 1),
        "in_future": make_receipt(job_id, started_at=chain.pending_timestamp, duration=600),
        "reversed": None,
    }[shift]
    if receipt is None:  # the SDK refuses to build it; an attacker sends it raw
        receipt = make_receipt(job_id, energy_mwh=0)
        tup = raw(receipt, started_at=accepted_at + 20, finished_at=accepted_at + 10)
        with reverts("market: window outside job"):
            market.deliver(job_id, tup, sign(receipt), sender=provider)
        return
    with reverts("market: window outside job"):
        market.deliver(job_id, receipt.as_tuple(), sign(receipt), sender=provider)


def test_only_the_provider_delivers(market, accepted_job, make_receipt, sign, attacker, reverts):
    job_id = accepted_job()
    receipt = make_receipt(job_id)
    with reverts("market: not provider"):
        market.deliver(job_id, receipt.as_tuple(), sign(receipt), sender=attacker)


def test_empty_result_is_refused(market, accepted_job, make_receipt, sign, provider, reverts):
    job_id = accepted_job()
    receipt = make_receipt(job_id)
    empty = EnergyReceipt(**{**receipt.model_dump(), "result_hash": b"\x00" * 32})
    with reverts("market: empty result"):
        market.deliver(job_id, empty.as_tuple(), sign(empty), sender=provider)


def test_rotated_meter_key_takes_effect_at_once(market, registry, accepted_job, make_receipt, sign, provider, site_id, reverts):
    delivered = accepted_job()
    before = make_receipt(delivered)
    market.deliver(delivered, before.as_tuple(), sign(before), sender=provider)
    pending = accepted_job()
    new_meter = Account.from_key(b"\x33" * 32)
    registry.rotate_meter(site_id, new_meter.address, sender=provider)
    old_key_receipt = make_receipt(pending)
    with reverts("market: bad meter signature"):
        market.deliver(pending, old_key_receipt.as_tuple(), sign(old_key_receipt), sender=provider)
    market.deliver(pending, old_key_receipt.as_tuple(), sign(old_key_receipt, new_meter), sender=provider)
    assert market.job(delivered).state == 4  # the job delivered before rotation stands


def test_suspended_site_cannot_deliver(market, registry, accepted_job, make_receipt, sign, provider, deployer, site_id, reverts):
    job_id = accepted_job()
    registry.suspend(site_id, sender=deployer)
    receipt = make_receipt(job_id)
    with reverts("market: site not active"):
        market.deliver(job_id, receipt.as_tuple(), sign(receipt), sender=provider)


def test_delivery_after_deadline_is_refused(market, accepted_job, make_receipt, sign, provider, chain, reverts):
    job_id = accepted_job()
    receipt = make_receipt(job_id)
    chain.pending_timestamp = market.job(job_id).deadline + 1
    with reverts("market: deadline passed"):
        market.deliver(job_id, receipt.as_tuple(), sign(receipt), sender=provider)
