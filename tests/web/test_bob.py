"""Bob, a DER owner, in the browser: his site, his stake, a new offer, the jobs it serves and
what they earn, and the last day's readings of his site from the oracle."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from degen.deploy import AKRE
from degen.models import JobState, fee_of
from tests.conftest import FEE_BPS, PRICE_PER_KWH
from tests.web.conftest import PHONE, connect, screenshot


def test_bob_creates_an_offer_and_sees_the_job_it_serves_and_what_it_earned(
        start_web, oracle_url, report_battery, open_page, provider, requester, offer_id, site_id, market, create_job,
        make_receipt, sign, chain, issue_recs):
    issue_recs(site_id, 2_500_000)
    now = int(time.time())
    for hour in range(6, 0, -1):  # the site agent's readings over the last hours
        report_battery(oracle_url, soc_permille=900 - 60 * hour, pv_watts=1_000 * (7 - hour), at=now - hour * 3600,
                       register_wh=5_000 + 1_000 * (6 - hour))
    page, wallet = open_page(f"{start_web(oracle_url)}/#site", provider)
    connect(page)
    site = page.get_by_test_id(f"site-{site_id}")
    expect(site).to_contain_text(f"Site {site_id} (BR): active")
    expect(site).to_contain_text("10,000 W PV peak, 20,000 Wh battery, GPU up to 450 W")
    expect(site.locator("svg.chart")).to_have_attribute("aria-label", f"PV power and battery state of charge of site {site_id}")
    expect(site).to_contain_text("The last day: 6 signed readings")
    expect(site.locator("figcaption")).to_contain_text("PV: 6,000 W now, max 6,000 W")
    expect(page.get_by_test_id("stake")).to_have_text("100 AKRE free, 0 AKRE locked as collateral")
    expect(page.get_by_test_id("recs")).to_have_text(
        "RECs: 2.5 REC issued to you for 1 period, 0 REC retired from your balance (0 certificates), 2.5 REC held")

    page.get_by_label("Stake amount in AKRE").fill("10")
    page.get_by_role("button", name="Deposit").click()
    expect(page.get_by_test_id("stake")).to_have_text("110 AKRE free, 0 AKRE locked as collateral")
    assert market.stake_of(provider)[0] == 110 * AKRE

    offers = market.offer_count()
    form = page.get_by_test_id("offer-form")
    form.get_by_label("Base price (AKRE)").fill("3")
    form.get_by_label("Max side").fill("512")
    page.get_by_test_id("create-offer").click()
    expect(page.get_by_test_id("message")).to_have_text("Offer created.")
    new_offer = offers + 1
    assert market.offer_count() == new_offer
    offer = market.offer(new_offer)
    assert (offer.provider, offer.site_id, offer.base_price, offer.max_width, offer.green) == (
        provider.address, site_id, 3 * AKRE, 512, False)
    expect(page.get_by_test_id("my-offers")).to_contain_text(f"#{new_offer} tiny-sd, 512×512/50, 3 AKRE + 30 AKRE/kWh")

    job_id = create_job(offer_id=new_offer)  # Alice posts to it; Bob's worker would accept and deliver it
    market.accept(job_id, new_offer, sender=provider)
    chain.pending_timestamp += 60
    receipt = make_receipt(job_id, energy_mwh=2_000)
    market.deliver(job_id, receipt.as_tuple(), sign(receipt), sender=provider)
    market.settle(job_id, sender=requester)
    assert market.job(job_id).state == JobState.SETTLED
    price = 3 * AKRE + 2_000 * PRICE_PER_KWH // 1_000_000
    earned = price - fee_of(price, FEE_BPS)
    page.reload()
    expect(page.get_by_test_id("earnings")).to_have_text(f"1 job served, 1 settled: {earned / AKRE:g} AKRE earned")
    expect(page.get_by_test_id("served").locator("tbody tr")).to_have_text(
        f"#{job_id}#{new_offer}settled2,000 mWh{earned / AKRE:g} AKRE")
    screenshot(page, "bob-site-desktop")
    page.set_viewport_size(PHONE)
    screenshot(page, "bob-site-375")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # nothing runs off a phone's screen
    assert page.errors == []
