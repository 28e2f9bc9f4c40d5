"""Alice's channels in the page: she opens one with Bob's site by signing a permit (one
transaction), sees what the site redeemed, closes it and withdraws the rest after the notice;
and she orders instant jobs through a channel from Bob's real worker, her wallet signing each
order and, once the image is checked, each voucher."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from degen import channels as channel_sdk
from degen.models import Voucher
from degen.processes import free_port
from tests.conftest import AKRE
from tests.web.conftest import connect


def test_a_channel_opened_redeemed_closed_and_withdrawn_from_the_page(
        plain_page, open_page, contracts, site_id, requester, provider, token, chain):
    channels = contracts.channels
    page, _ = open_page(plain_page, requester)
    connect(page)
    page.goto(f"{plain_page}/#channels")
    form = page.get_by_test_id("channel-form")
    form.locator("input[name=site]").fill(str(site_id))
    form.locator("input[name=deposit]").fill("12.5")
    page.get_by_test_id("open-channel").click()
    expect(page.get_by_test_id("message")).to_contain_text("open: 12.5 AKRE deposited", timeout=30_000)
    channel_id = channels.channel_count()
    assert channels.channel(channel_id).deposit == 12_500_000_000_000_000_000
    assert channels.channel(channel_id).requester == requester.address

    voucher = Voucher(channel_id=channel_id, jobs=2, amount=3 * AKRE, energy_mwh=3_000, green_mwh=0)
    channels.redeem(voucher.as_tuple(), channel_sdk.sign(voucher, requester.private_key, chain.chain_id, channels.address),
                    sender=provider)
    page.reload()
    row = page.locator(f"tr[data-channel='{channel_id}']")
    expect(row).to_contain_text("9.5 AKRE")
    expect(row).to_contain_text("3 AKRE for 2 jobs")

    row.get_by_test_id(f"close-{channel_id}").click()
    expect(page.get_by_test_id(f"channel-state-{channel_id}")).to_contain_text("closing", timeout=30_000)
    chain.pending_timestamp += channels.NOTICE_PERIOD()
    chain.mine()
    page.reload()
    before = token.balanceOf(requester)
    page.get_by_test_id(f"withdraw-{channel_id}").click()
    expect(page.get_by_test_id(f"channel-state-{channel_id}")).to_have_text("closed (withdrawn)", timeout=30_000)
    assert token.balanceOf(requester) == before + 9_500_000_000_000_000_000
    assert page.errors == []


def test_instant_jobs_from_the_page_are_checked_and_paid_by_vouchers_the_wallet_signs(
        plain_page, open_page, worker_config, start_worker, web_url, contracts, site_id, requester):
    port = free_port()
    worker = start_worker(worker_config(server={"port": port, "public_url": f"http://127.0.0.1:{port}",
                                                "allowed_origins": [web_url]}))
    worker.wait_for("result endpoint published")
    channel_id = channel_sdk.open_channel(contracts, requester, site_id, 10 * AKRE)
    page, _ = open_page(plain_page, requester)
    connect(page)
    page.goto(f"{plain_page}/#channels")
    form = page.get_by_test_id("instant-form")
    expect(form.locator("select[name=channel]")).to_have_value(str(channel_id))
    expect(page.get_by_test_id(f"channel-signed-{channel_id}")).to_have_text("none yet")
    for jobs, prompt in ((1, "a lighthouse at dawn"), (2, "a lighthouse at dusk")):
        form.locator("textarea[name=prompt]").fill(prompt)
        page.get_by_test_id("instant-post").click()
        expect(page.get_by_test_id("instant-voucher")).to_contain_text(f"Voucher signed: {jobs} jobs", timeout=60_000)
        expect(page.get_by_test_id("instant-image")).to_be_visible()
    expect(page.get_by_test_id(f"channel-signed-{channel_id}")).to_contain_text("2 jobs")
    held = httpx.get(f"http://127.0.0.1:{port}/channels/{channel_id}", timeout=10).json()["voucher"]
    voucher = channel_sdk.voucher_from_wire(held["voucher"])
    assert voucher.jobs == 2 and channel_sdk.signer_of(voucher, bytes.fromhex(held["signature"][2:]), contracts.channels.chain_manager.chain_id,
                                                       contracts.channels.address) == requester.address
    assert worker.output.count("channel voucher taken") == 2
    assert page.errors == []
