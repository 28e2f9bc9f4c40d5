"""Alice's channels in the page: she opens one with Bob's site by signing a permit (one
transaction), sees what the site redeemed, closes it and withdraws the rest after the notice."""

from __future__ import annotations

from playwright.sync_api import expect

from degen import channels as channel_sdk
from degen.models import Voucher
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
