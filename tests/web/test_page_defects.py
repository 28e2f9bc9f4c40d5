"""Defects found when the page was tried from outside, each held here: an action that ends
after the user moved on leaves the new view alone; a message does not follow the user to
another view; the pool's LP supply is in DGLP; at a phone's width every offer's price and its
"Choose" are on screen; "Download again" keeps a settled job's payment; every offers column
is named."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from degen.deploy import AKRE
from tests.web.conftest import PHONE, connect
from tests.web.test_alice import post

REC = 10**6  # mWh


def test_a_swap_mined_after_the_user_moved_on_leaves_the_view_they_chose(
        plain_page, open_page, requester, provider, contracts, issue_recs, site_id, chain):
    pool, rec, token = contracts.pool, contracts.rec, contracts.token
    issue_recs(site_id, 10 * REC)
    rec.approve(pool, 2**256 - 1, sender=provider)
    token.approve(pool, 2**256 - 1, sender=provider)
    pool.add_liquidity(5 * REC, 5 * AKRE, 0, chain.pending_timestamp + 600, sender=provider)
    page, wallet = open_page(f"{plain_page}/#pool", requester)
    connect(page)
    expect(page.get_by_test_id("reserves")).to_contain_text("LP supply 5 DGLP")  # sqrt(5 REC × 5 AKRE) in 12 decimals
    page.get_by_test_id("swap-form").get_by_label("Pay").fill("0.2")
    expect(page.get_by_test_id("quote")).to_contain_text("You get about")
    node = chain.provider.make_request
    wallet.front_run(pool.address, lambda: node("evm_setAutomine", [False]))  # the swap waits in the mempool
    try:
        page.get_by_test_id("swap").click()
        deadline = time.monotonic() + 60
        while not node("txpool_content", [])["pending"]:  # the swap is sent (after its approval), and not mined
            assert time.monotonic() < deadline, "the swap was never sent"
            page.wait_for_timeout(50)  # the wallet answers the page only while Playwright runs
        page.get_by_role("link", name="Offers", exact=True).click()
        expect(page.get_by_role("heading", name="Offers")).to_be_visible()
    finally:
        wallet.front_runs.clear()
        node("evm_setAutomine", [True])
        node("evm_mine", [])
    expect(page.get_by_test_id("message")).to_have_text("Swapped.")
    expect(page.get_by_role("heading", name="Offers")).to_be_visible()
    expect(page.get_by_test_id("pool")).to_have_count(0)
    assert page.url.endswith("#offers") and page.errors == []


def test_a_refusal_does_not_follow_the_user_to_another_view(plain_page, open_page, accounts, offer_id):
    page, _ = open_page(plain_page, accounts[6])  # holds no AKRE
    connect(page)
    post(page, offer_id)
    expect(page.get_by_test_id("message")).to_contain_text("Your balance is 0 AKRE")
    page.get_by_role("link", name="My site").click()
    expect(page.get_by_role("heading", name="My site")).to_be_visible()
    expect(page.get_by_test_id("message")).to_have_text("")


def test_offers_at_a_phones_width_show_each_price_and_its_choose_button(plain_page, open_page, requester, offer_id):
    page, _ = open_page(plain_page, requester, viewport=PHONE)
    connect(page)
    row = page.locator(f"tr[data-offer='{offer_id}']")
    expect(row).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    for shown in (row.locator("td[data-label='Base price']"), row.locator("td[data-label='Per kWh']"),
                  page.get_by_test_id(f"choose-{offer_id}")):
        box = shown.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    page.get_by_test_id(f"choose-{offer_id}").click()
    expect(page.locator("#post-prompt")).to_be_visible()


def test_every_offers_column_is_named(plain_page, open_page, requester, offer_id):
    page, _ = open_page(plain_page, requester)
    connect(page)
    headers = page.get_by_test_id("offers").locator("thead th")
    expect(headers.last).to_have_text("Action")
    assert all(text.strip() for text in headers.all_inner_texts())


def test_download_again_keeps_a_settled_jobs_payment(plain_page, open_page, requester, delivered_job, provider_endpoint,
                                                      registry, site_id, provider, market):
    registry.set_endpoint(site_id, provider_endpoint.url, sender=provider)
    job_id = delivered_job()
    provider_endpoint.serve(job_id, requester.address, b"png-bytes")  # the bytes delivered_job's receipt hashed
    provider_endpoint.progress[job_id] = {"job_id": job_id, "state": "settled"}
    market.settle(job_id, sender=requester)
    page, _ = open_page(f"{plain_page}/#job/{job_id}", requester)
    connect(page)
    expect(page.get_by_test_id("settlement")).to_be_visible()
    page.get_by_test_id("download").click()
    expect(page.get_by_test_id("verified")).to_contain_text("matches the chain")
    expect(page.get_by_test_id("settlement")).to_be_visible()
