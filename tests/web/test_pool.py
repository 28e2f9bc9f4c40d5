"""The pool in the browser: reserves, spot and TWAP, a chart of its history, and a swap quoted
with a slippage bound and a deadline: refused when the price moves past the bound before it
is mined (another trader's swap lands first), done when it does not."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from degen.deploy import AKRE
from tests.web.conftest import connect

REC = 10**6  # mWh


def test_a_swap_past_its_slippage_bound_is_refused_and_one_within_it_is_done(
        plain_page, open_page, requester, attacker, provider, contracts, issue_recs, site_id, chain):
    pool, rec, token = contracts.pool, contracts.rec, contracts.token
    issue_recs(site_id, 10 * REC)
    rec.approve(pool, 2**256 - 1, sender=provider)
    token.approve(pool, 2**256 - 1, sender=provider)
    pool.add_liquidity(5 * REC, 5 * AKRE, 0, chain.pending_timestamp + 600, sender=provider)  # 1 AKRE per REC
    token.approve(pool, 2**256 - 1, sender=attacker)
    recs_before = rec.balanceOf(requester)

    page, wallet = open_page(f"{plain_page}/#pool", requester)
    connect(page)
    # the REC reserve dissipates (2 % a month): a micro-REC is gone after about 26 s on a loaded machine
    expect(page.get_by_test_id("pool")).to_contain_text(re.compile(r"Reserves: (5|4\.99999\d*) REC and 5 AKRE"))
    expect(page.get_by_test_id("spot")).to_have_text("Spot: 1 AKRE per REC")
    expect(page.locator("#pool-chart svg.chart")).to_have_attribute("aria-label", "The pool's price and REC reserve over time")
    form = page.get_by_test_id("swap-form")
    form.get_by_label("Pay").fill("0.2")
    form.get_by_label("Slippage %").fill("1")
    expect(page.get_by_test_id("quote")).to_contain_text("You get about 0.19")
    expect(page.get_by_test_id("quote")).to_contain_text("(slippage 1 %), or nothing is swapped. Deadline 20 min.")

    def another_trader_buys_first():
        pool.swap_exact_in(token, 2 * AKRE, 0, attacker, chain.pending_timestamp + 600, sender=attacker)

    wallet.front_run(pool.address, another_trader_buys_first)
    page.get_by_test_id("swap").click()
    expect(page.get_by_test_id("message")).to_have_text(
        "The price moved past your slippage bound: nothing was swapped. Try again or allow more slippage.")
    assert rec.balanceOf(requester) == recs_before
    assert not wallet.front_runs  # the other trade did land first

    expect(page.get_by_test_id("quote")).not_to_contain_text("You get about 0.19")  # quoted again at the new price
    page.get_by_test_id("swap").click()
    expect(page.get_by_test_id("message")).to_have_text("Swapped.")
    [swapped] = [log for log in pool.Swap.range(chain.blocks.height, chain.blocks.height + 1)]
    assert (swapped.to, swapped.token_in, swapped.amount_in) == (requester.address, token.address, AKRE // 5)
    assert rec.balanceOf(requester) == recs_before + swapped.amount_out > recs_before
    assert page.errors == []
