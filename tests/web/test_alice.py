"""Alice in the browser: connect a wallet, find Bob's green offer with his battery, post with a
permit, follow the job, receive the image (its hash checked in the page), settle, and hold the
certificate; and the ways that can go wrong, each said in a sentence."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from degen.deploy import AKRE
from degen.models import JobState
from degen.processes import free_port
from tests.conftest import BASE_PRICE, FEE_BPS, PRICE_PER_KWH, PROMPT
from tests.web.conftest import PHONE, connect, screenshot
from tests.web.wallet import TestWallet
from tests.worker.test_daemon import events

GENERATION_S = 180_000  # ms: the tiny model on a loaded 2-core CI machine


@pytest.fixture
def bobs_worker(worker_config, start_worker, green_offer, web_url):
    """Bob's worker serving his green offer, its endpoint published and open to the page's origin."""
    port = free_port()
    start_worker(worker_config(offers=(green_offer,), server={
        "port": port, "public_url": f"http://127.0.0.1:{port}", "allowed_origins": [web_url]}))
    return green_offer


def post(page, offer_id: int, prompt: str = PROMPT, max_price: str = "10") -> None:
    page.get_by_test_id(f"choose-{offer_id}").click()
    page.locator("#post-prompt").fill(prompt)
    page.locator("#post-max_price").fill(max_price)
    page.get_by_test_id("post").click()


def test_alice_buys_a_green_image_and_holds_its_certificate(
        open_page, start_web, oracle_url, report_battery, bobs_worker, requester, market, token, certificate, rec, chain):
    report_battery(oracle_url, soc_permille=655, pv_watts=3_200)
    url = start_web(oracle_url)
    page, wallet = open_page(url, requester)
    connect(page)
    offer_row = page.locator(f"tr[data-offer='{bobs_worker}']")
    expect(offer_row).to_contain_text("65.5%")
    expect(offer_row).to_contain_text("3,200 W")
    expect(offer_row).to_contain_text("yes")  # green
    before, since = token.balanceOf(requester), chain.blocks.height
    assert token.allowance(requester, market) == 0  # so the page asks for a permit

    post(page, bobs_worker)
    page.wait_for_url(re.compile(r"#job/\d+$"))
    job_id = int(page.url.rsplit("/", 1)[1])
    assert wallet.requests.count("eth_signTypedData_v4") == 1 and wallet.requests.count("eth_sendTransaction") == 1
    page.get_by_test_id("download").wait_for(timeout=GENERATION_S)
    expect(page.get_by_test_id("meter-kind")).to_contain_text("estimate")
    page.get_by_test_id("download").click()
    expect(page.get_by_test_id("verified")).to_contain_text("matches the chain")
    page.get_by_test_id("settle").click()
    expect(page.get_by_test_id("certificate")).to_contain_text("retired in your name")
    screenshot(page, "alice-result-desktop")
    page.set_viewport_size(PHONE)
    screenshot(page, "alice-result-375")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # nothing runs off a phone's screen

    job = market.job(job_id)
    assert job.state == JobState.SETTLED
    [paid] = events(market.JobSettled, job_id, chain, since)
    price = min(BASE_PRICE + job.energy_mwh * PRICE_PER_KWH // 1_000_000, 10 * AKRE)
    assert (paid.price, paid.fee, paid.refund) == (price, price * FEE_BPS // 10_000, 10 * AKRE - price)
    assert token.balanceOf(requester) == before - price
    retired = events(rec.Retired, job_id, chain, since)
    assert len(retired) == 1 and retired[0].beneficiary == requester.address and retired[0].amount_mwh == job.energy_mwh
    assert certificate.ownerOf(retired[0].certificate_id) == requester.address

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{url}/#certificates")
    expect(page.get_by_test_id(f"certificate-{retired[0].certificate_id}")).to_contain_text(f"for job #{job_id}")
    assert page.errors == []


def test_a_rejected_signature_is_a_calm_sentence_and_posts_nothing(plain_page, open_page, requester, offer_id, market):
    page, wallet = open_page(plain_page, requester)
    connect(page)
    jobs = market.job_count()
    wallet.reject("eth_signTypedData_v4")
    post(page, offer_id)
    expect(page.get_by_test_id("message")).to_have_text("You rejected the request in your wallet: nothing was signed or sent.")
    assert market.job_count() == jobs and "eth_sendTransaction" not in wallet.requests
    post_from_the_keyboard(page, offer_id)  # the page still works: the second try posts
    page.wait_for_url(re.compile(r"#job/\d+$"))
    assert market.job_count() == jobs + 1
    assert page.errors == []


def post_from_the_keyboard(page, offer_id: int) -> None:
    """Chooses the offer, writes the prompt and reaches "Post job" with Tab and Enter only."""
    page.get_by_test_id(f"choose-{offer_id}").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#post-prompt")).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type("a lighthouse, typed")
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.testid") == "post":
            break
    expect(page.get_by_test_id("post")).to_be_focused()
    page.keyboard.press("Enter")


def test_several_wallets_are_offered_in_a_picker(browser, plain_page, requester, attacker, chain):
    page = browser.new_context().new_page()
    wallets = [TestWallet(who.private_key, chain.provider.uri, chain.chain_id, name=name)
               for who, name in ((requester, "Test Wallet"), (attacker, "Other Wallet"))]
    for wallet in wallets:
        wallet.install(page)
    page.goto(plain_page)
    expect(page.get_by_test_id("connect")).to_have_count(2)
    page.get_by_role("button", name="Connect Other Wallet").click()
    expect(page.get_by_test_id("account")).to_have_text(f"{attacker.address[:6]}…{attacker.address[-4:]}")
    assert "eth_requestAccounts" in wallets[1].requests and "eth_requestAccounts" not in wallets[0].requests
    page.context.close()


def test_a_wallet_on_another_chain_is_offered_the_switch(plain_page, open_page, requester, offer_id, market):
    page, wallet = open_page(plain_page, requester, chain_id=1)
    connect(page)
    expect(page.get_by_test_id("wrong-chain")).to_contain_text("this market is on chain")
    post(page, offer_id)
    expect(page.get_by_test_id("message")).to_contain_text("Switch your wallet to chain")
    page.get_by_test_id("switch-chain").click()
    expect(page.get_by_test_id("wrong-chain")).to_have_count(0)
    assert "wallet_switchEthereumChain" in wallet.requests


def test_too_little_akre_is_said_before_anything_is_signed(plain_page, open_page, accounts, offer_id, token):
    broke = accounts[6]
    assert token.balanceOf(broke) == 0
    page, wallet = open_page(plain_page, broke)
    connect(page)
    post(page, offer_id)
    expect(page.get_by_test_id("message")).to_have_text(
        "Your balance is 0 AKRE; this job escrows up to 10 AKRE. Get more AKRE or lower the max price.")
    assert "eth_signTypedData_v4" not in wallet.requests and "eth_sendTransaction" not in wallet.requests


def test_an_image_that_does_not_match_its_hash_is_not_settled_but_disputed(
        plain_page, open_page, requester, delivered_job, provider_endpoint, registry, site_id, provider, market, token, chain):
    chain.pending_timestamp += 2 * 86_400  # the chain's clock ahead of the wall clock: the page must not mix them up
    chain.mine()
    registry.set_endpoint(site_id, provider_endpoint.url, sender=provider)
    job_id = delivered_job()
    provider_endpoint.serve(job_id, requester.address, b"not the image whose hash was delivered")
    provider_endpoint.progress[job_id] = {"job_id": job_id, "state": "delivered"}  # as the worker that took it says
    page, wallet = open_page(f"{plain_page}/#job/{job_id}", requester)
    connect(page)
    page.get_by_test_id("download").click()
    expect(page.get_by_test_id("mismatch")).to_have_text("The image does not match the delivered hash.")
    expect(page.get_by_test_id("message")).to_contain_text("Do not settle: dispute it.")
    expect(page.get_by_test_id("settle")).to_have_count(0)
    expect(page.get_by_test_id("image")).to_have_count(0)
    bond = market.dispute_bond()
    before = token.balanceOf(requester)
    page.get_by_test_id("dispute").click()
    expect(page.get_by_test_id("job-state")).to_have_text("Disputed: the arbiter decides.")
    assert market.job(job_id).state == JobState.DISPUTED and token.balanceOf(requester) == before - bond
    expect(page.get_by_test_id("dispute")).to_have_count(0)
    no_receipt = f"404 (Not Found) ({provider_endpoint.url}/receipts/{job_id})"  # the staged endpoint publishes none
    assert [error for error in page.errors if not error.endswith(no_receipt)] == []
