"""The worker's channel book (real SQLite): served jobs in nonce order make the tab, a nonce
is served once, the latest voucher replaces the one before, and redemption is recorded up to
a voucher; all of it survives closing and opening the file again."""

from __future__ import annotations

import sqlite3

import pytest
from eth_account import Account

from degen import channels, receipts
from degen.channels import ServedJob
from degen.models import EnergyReceipt, GenerationParams, JobOrder
from worker.channel_book import BookedJob, ChannelBook

CHAIN_ID, CHANNELS, MARKET = 31337, "0x" + "c1" * 20, "0x" + "a1" * 20
REQUESTER, METER = Account.create(), Account.create()


def served(channel_id: int, nonce: int, price: int, energy: int, green: bool = False) -> BookedJob:
    order = JobOrder(channel_id=channel_id, nonce=nonce, model_id=b"\x01" * 32, prompt_hash=b"\x02" * 32,
                     params=GenerationParams(width=64, height=64, steps=3, seed=nonce), max_price=10**19, green=green, expiry=2**40)
    receipt = EnergyReceipt(job_id=channels.order_job_id(order, CHAIN_ID, CHANNELS), result_hash=bytes([nonce + 1]) * 32,
                            started_at=100, finished_at=102, energy_mwh=energy, meter_start=nonce * 1_000,
                            meter_end=nonce * 1_000 + energy)
    signature = receipts.sign(receipt, METER, CHAIN_ID, MARKET)
    job = ServedJob(order, channels.sign(order, REQUESTER.key, CHAIN_ID, CHANNELS), receipt, signature, 1, price, "bafy")
    return BookedJob(channel_id, job, receipt.result_hash, channels.receipt_leaf(receipt, signature, CHAIN_ID, MARKET),
                     {"requester": REQUESTER.address})


def test_served_jobs_make_the_tab_and_a_nonce_is_served_once(tmp_path):
    book = ChannelBook(tmp_path / "channels.sqlite", CHAIN_ID, CHANNELS)
    jobs = [served(7, 0, 2 * 10**18, 500), served(7, 1, 3 * 10**18, 800, green=True)]
    for job in jobs:
        book.serve(job)
    with pytest.raises(sqlite3.IntegrityError):
        book.serve(served(7, 1, 10**18, 1))
    book.close()

    book = ChannelBook(tmp_path / "channels.sqlite", CHAIN_ID, CHANNELS)  # after a restart
    tab = book.tab(7)
    assert (tab.jobs, tab.amount, tab.energy_mwh, tab.green_mwh) == (2, 5 * 10**18, 1_300, 800)
    assert tab.leaves == tuple(job.leaf for job in jobs)
    assert book.job(jobs[1].served.receipt.job_id) == jobs[1] and book.job(12345) is None
    assert book.job_at(7, 0) == jobs[0] and book.job_at(7, 2) is None
    assert book.tab(8).jobs == 0 and book.counts() == {"channels": 1, "jobs": 2, "unredeemed_jobs": 0}
    other = ChannelBook(tmp_path / "channels.sqlite", CHAIN_ID, "0x" + "c2" * 20)  # another contract's channel 7
    assert other.tab(7).jobs == 0


def test_the_latest_voucher_is_held_until_the_chain_redeems_it(tmp_path):
    book = ChannelBook(tmp_path / "channels.sqlite", CHAIN_ID, CHANNELS)
    first, second = served(3, 0, 10**18, 100), served(3, 1, 10**18, 100)
    book.serve(first)
    one = book.tab(3).voucher()
    book.hold(one, b"\x01" * 65)
    held = book.held(3)
    assert held.voucher == one and held.redeemed_jobs == 0 and list(book.unredeemed()) == [3]
    book.serve(second)
    two = book.tab(3).voucher()
    book.hold(two, b"\x02" * 65)
    assert book.held(3).voucher == two and book.held(3).held_since == held.held_since  # waiting since the first
    book.redeemed(3, one)
    assert book.unredeemed()[3].redeemed_amount == 10**18 and book.counts()["unredeemed_jobs"] == 1
    book.redeemed(3, two)
    book.redeemed(3, one)  # an older redemption never moves the record back
    assert book.unredeemed() == {} and book.held(3).redeemed_jobs == 2 and book.held(3).redeemed_amount == 2 * 10**18
