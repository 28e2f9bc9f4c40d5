"""The channel protocol's off-chain pieces (degen/channels.py): orders and vouchers signed
and recovered exactly as JobChannels checks them, an order's receipt job id, and the tab whose
voucher pays exactly the jobs served, with the Merkle root of their receipts."""

from __future__ import annotations

import hashlib

import pytest
from eth_account import Account
from hypothesis import HealthCheck, given, settings, strategies as st

from degen import channels, merkle, receipts
from degen.eip712 import SECP256K1_N
from degen.errors import InvalidInput, InvalidSignature
from degen.models import EnergyReceipt, GenerationParams, JobOrder, Offer, Voucher
from tests.strategies import json_values

CHAIN_ID, CHANNELS, MARKET = 31337, "0x" + "c1" * 20, "0x" + "a1" * 20
REQUESTER, METER = Account.create(), Account.create()


def order(nonce=0, **changes) -> JobOrder:
    fields = dict(channel_id=1, nonce=nonce, model_id=b"\x01" * 32, prompt_hash=b"\x02" * 32,
                  params=GenerationParams(width=64, height=64, steps=4, seed=nonce), max_price=3 * 10**18, green=False,
                  expiry=2**40)
    return JobOrder(**{**fields, **changes})


def test_orders_and_vouchers_recover_to_their_signer_and_only_in_their_domain():
    for signed in (order(), Voucher(channel_id=1, jobs=1, amount=5, energy_mwh=3, green_mwh=0)):
        signature = channels.sign(signed, REQUESTER.key, CHAIN_ID, CHANNELS)
        assert channels.signer_of(signed, signature, CHAIN_ID, CHANNELS) == REQUESTER.address
        assert channels.signer_of(signed, signature, CHAIN_ID + 1, CHANNELS) != REQUESTER.address
        assert channels.signer_of(signed, signature, CHAIN_ID, MARKET) != REQUESTER.address
        s = int.from_bytes(signature[32:64], "big")
        with pytest.raises(InvalidSignature):  # the high-s twin, which the contract refuses too
            channels.signer_of(signed, signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - signature[64]]),
                               CHAIN_ID, CHANNELS)


def test_an_orders_receipt_job_id_is_its_digest_and_differs_per_order():
    first, second = order(0), order(1)
    assert channels.order_job_id(first, CHAIN_ID, CHANNELS) == int.from_bytes(channels.digest(first, CHAIN_ID, CHANNELS), "big")
    assert channels.order_job_id(first, CHAIN_ID, CHANNELS) != channels.order_job_id(second, CHAIN_ID, CHANNELS)


def test_a_tab_totals_the_jobs_served_and_roots_their_receipts():
    tab, leaves = channels.Tab(channel_id=1), []
    for n, (price, energy, green) in enumerate([(2 * 10**18, 1_500, False), (10**18, 900, True), (3, 40, True)]):
        receipt = EnergyReceipt(job_id=channels.order_job_id(order(n), CHAIN_ID, CHANNELS), result_hash=bytes([n + 1]) * 32,
                                started_at=100, finished_at=101, energy_mwh=energy, meter_start=n * 10_000,
                                meter_end=n * 10_000 + energy)
        leaf = channels.receipt_leaf(receipt, receipts.sign(receipt, METER, CHAIN_ID, MARKET), CHAIN_ID, MARKET)
        leaves.append(leaf)
        tab = tab.served(price, energy, green, leaf)
    voucher = tab.voucher()
    assert (voucher.jobs, voucher.amount, voucher.energy_mwh, voucher.green_mwh) == (3, 3 * 10**18 + 3, 2_440, 940)
    assert voucher.receipts_root == merkle.root(leaves) and len(set(leaves)) == 3
    assert channels.Tab(channel_id=1).voucher().receipts_root == b"\x00" * 32


@pytest.mark.parametrize("bad", [
    dict(green_mwh=11),  # more green energy than energy
    dict(jobs=2**32),
    dict(amount=2**96),
    dict(channel_id=0),
])
def test_vouchers_out_of_the_contracts_bounds_are_refused(bad):
    with pytest.raises(InvalidInput):
        Voucher(**{**dict(channel_id=1, jobs=1, amount=1, energy_mwh=10, green_mwh=0), **bad})


@pytest.mark.parametrize("bad", [dict(max_price=0), dict(nonce=2**64), dict(expiry=-1), dict(prompt_hash=b"\x01" * 31)])
def test_orders_out_of_the_contracts_bounds_are_refused(bad):
    with pytest.raises(InvalidInput):
        order(**bad)


def served_job(order_=None, price=None, energy=1_500, offer=None):
    """A job served for `order_` with a real meter signature, priced by `offer`'s rule."""
    from degen.channels import ServedJob
    from degen.models import job_price

    order_ = order_ or order()
    offer = offer or OFFER
    png = b"\x89PNG a served image"
    receipt = EnergyReceipt(job_id=channels.order_job_id(order_, CHAIN_ID, CHANNELS), result_hash=hashlib.sha256(png).digest(),
                            started_at=100, finished_at=130, energy_mwh=energy, meter_start=0, meter_end=energy)
    price = job_price(offer.base_price, offer.price_per_kwh, energy, order_.max_price) if price is None else price
    return ServedJob(order_, channels.sign(order_, REQUESTER.key, CHAIN_ID, CHANNELS), receipt,
                     receipts.sign(receipt, METER, CHAIN_ID, MARKET), offer.offer_id, price, "bafy"), png


OFFER = Offer(offer_id=4, provider="0x" + "11" * 20, site_id=1, active=True, green=False, model_id=b"\x01" * 32, max_width=512,
              max_height=512, max_steps=50, base_price=2 * 10**18, price_per_kwh=30 * 10**18, collateral=0)


def check(job, png, **changes):
    arguments = dict(order=job.order, requester=REQUESTER.address, chain_id=CHAIN_ID, channels=CHANNELS, market=MARKET,
                     meter=METER.address, max_gpu_watts=450, offer=OFFER)
    return channels.check_served(job, png, **arguments | changes)


def test_a_served_job_is_paid_for_only_when_image_receipt_meter_energy_and_price_check_out():
    job, png = served_job()
    assert check(job, png) == channels.receipt_leaf(job.receipt, job.meter_signature, CHAIN_ID, MARKET)
    assert channels.ServedJob.from_wire(job.wire()) == job  # the endpoints' JSON carries it exactly
    refusals = [
        (dict(), png + b"!", "sha256 differs"),
        (dict(meter=Account.create().address), png, "not signed by the site's registered meter"),
        (dict(max_gpu_watts=1), png, "more than the site's GPU bound"),
        (dict(offer=OFFER.model_copy(update={"base_price": 10**18})), png, "is not offer 4's rule"),
        (dict(order=order(nonce=1)), png, "not the one signed"),
        (dict(requester=Account.create().address), png, "not the one signed"),
    ]
    for changes, image, reason in refusals:
        with pytest.raises(channels.ServedJobRefused, match=reason):
            check(job, image, **changes)
    overpriced, png = served_job(price=OFFER.base_price + 1)
    with pytest.raises(channels.ServedJobRefused, match="rule"):
        check(overpriced, png)


def test_wire_integers_wider_than_32_bits_are_strings_and_unknown_fields_are_refused():
    wire = channels.order_wire(order())
    assert wire["max_price"] == str(3 * 10**18) and wire["seed"] == "0" and wire["width"] == 64 and wire["green"] is False
    assert channels.order_from_wire(wire) == order()
    with pytest.raises(InvalidInput, match="unknown fields extra"):
        channels.order_from_wire(wire | {"extra": 1})
    with pytest.raises(InvalidInput, match="lacks expiry"):
        channels.order_from_wire({k: v for k, v in wire.items() if k != "expiry"})
    voucher = Voucher(channel_id=1, jobs=2, amount=5, energy_mwh=3, green_mwh=1)
    assert channels.voucher_from_wire(channels.voucher_wire(voucher)) == voucher


def wire_of(fields: list[dict]):
    """Any JSON, or an object with exactly the struct's fields holding any JSON values."""
    return st.fixed_dictionaries({field["name"]: json_values for field in fields}) | json_values


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)
@given(order=wire_of(channels.ORDER_FIELDS), voucher=wire_of(channels.VOUCHER_FIELDS), receipt=wire_of(receipts.RECEIPT_FIELDS),
       signature=json_values)
def test_any_json_is_read_or_refused_as_invalid_input_never_another_error(order, voucher, receipt, signature):
    """What the worker's channel routes parse before anything else (a refusal there is a 422;
    any other exception would be a 500), and what a requester's client parses of a worker's answer."""
    for parse, wire in ((channels.order_from_wire, order), (channels.voucher_from_wire, voucher),
                        (channels.receipt_from_wire, receipt), (channels.signature_from_wire, signature)):
        try:
            parse(wire)
        except InvalidInput:
            pass


def test_a_tab_is_rebuilt_only_from_the_leaves_its_voucher_roots():
    leaves = [bytes([n]) * 32 for n in range(1, 4)]
    voucher = Voucher(channel_id=1, jobs=3, amount=9, energy_mwh=30, green_mwh=0, receipts_root=merkle.root(leaves))
    assert channels.Tab.of(voucher, leaves, 1).voucher() == voucher
    for wrong in (leaves[:2], leaves[::-1], leaves + [b"\x09" * 32]):
        with pytest.raises(InvalidInput):
            channels.Tab.of(voucher, wrong, 1)
    with pytest.raises(InvalidInput):
        channels.Tab.of(voucher, leaves, 2)
