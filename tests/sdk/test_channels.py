"""The channel protocol's off-chain pieces (degen/channels.py): orders and vouchers signed
and recovered exactly as JobChannels checks them, an order's receipt job id, and the tab whose
voucher pays exactly the jobs served, with the Merkle root of their receipts."""

from __future__ import annotations

import pytest
from eth_account import Account

from degen import channels, merkle, receipts
from degen.eip712 import SECP256K1_N
from degen.errors import InvalidInput, InvalidSignature
from degen.models import EnergyReceipt, GenerationParams, JobOrder, Voucher

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
