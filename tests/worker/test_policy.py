"""The worker's job choice and the site's energy policy for green jobs."""

import pytest

from degen.models import GenerationParams, Offer
from worker.policy import (ChannelRules, Policy, RecBuying, SiteState, choose, energy_allows, plan_rec_purchase, premium_pct,
                           redemption_due)

POLICY = Policy(battery_reserve_pct=30, gpu_watts=450, deadline_slack_s=120)
OFFER = Offer(
    offer_id=1, provider="0x" + "11" * 20, site_id=1, active=True, green=True, model_id=b"\x01" * 32,
    max_width=1024, max_height=768, max_steps=50, base_price=100, price_per_kwh=10, collateral=5,
)
SUNNY = SiteState(pv_watts=6_000, battery_soc_pct=80)
NIGHT_LOW = SiteState(pv_watts=0, battery_soc_pct=25)


def decide(params=GenerationParams(seed=1), offer=OFFER, max_price=1_000, green=False, left=3_600, site=SUNNY):
    return choose(POLICY, offer, params, max_price=max_price, green=green, deadline=10_000 + left, now=10_000, site=site)


def test_accepts_within_terms():
    assert decide().accept
    assert decide(green=True).reason == "within the offer's terms on green energy"


@pytest.mark.parametrize(
    "kwargs, reason",
    [
        ({"offer": OFFER.model_copy(update={"active": False})}, "offer 1 is closed"),
        ({"params": GenerationParams(width=1024, height=1024, seed=1)}, "1024x1024 exceeds the offer's 1024x768"),
        ({"params": GenerationParams(steps=51, seed=1)}, "51 steps exceed the offer's 50"),
        ({"max_price": 99}, "max price 99 is below the base price 100"),
        ({"left": 119}, "119 s left before the deadline, under the 120 s slack"),
        ({"green": True, "offer": OFFER.model_copy(update={"green": False})}, "the job is green and offer 1 is not"),
        ({"green": True, "site": None}, "the job is green and the site's energy state is unknown"),
        ({"green": True, "site": NIGHT_LOW}, "battery at 25% is at or below the 30% reserve and PV 0 W does not cover"),
    ],
)
def test_refusals_say_why(kwargs, reason):
    decision = decide(**kwargs)
    assert not decision.accept and decision.reason.startswith(reason)


def test_only_energy_refusals_are_for_now():
    assert decide(green=True, site=NIGHT_LOW).for_now and decide(green=True, site=None).for_now
    assert not decide(left=119).for_now and not decide(max_price=99).for_now


def test_energy_policy():
    assert energy_allows(POLICY, SiteState(pv_watts=0, battery_soc_pct=31)).accept
    assert not energy_allows(POLICY, SiteState(pv_watts=449, battery_soc_pct=30)).accept
    assert energy_allows(POLICY, SiteState(pv_watts=450, battery_soc_pct=5)).accept
    assert decide(green=False, site=NIGHT_LOW).accept  # plain jobs do not need green energy


def test_a_point_the_site_does_not_report_counts_for_nothing():
    assert energy_allows(POLICY, SiteState(pv_watts=None, battery_soc_pct=31)).accept
    assert energy_allows(POLICY, SiteState(pv_watts=450, battery_soc_pct=None)).accept
    blind = energy_allows(POLICY, SiteState(pv_watts=None, battery_soc_pct=None))
    assert not blind.accept and blind.for_now
    assert blind.reason == "the battery's state of charge is not reported and PV power is not reported"
    dark = energy_allows(POLICY, SiteState(pv_watts=100, battery_soc_pct=None))
    assert dark.reason == "the battery's state of charge is not reported and PV 100 W does not cover the GPU's 450 W"


def test_a_pv_only_site_runs_green_jobs_while_pv_covers_the_gpu():
    noon = SiteState(pv_watts=600, battery_soc_pct=None, has_battery=False, battery_state="no battery")
    assert energy_allows(POLICY, noon).reason == "PV 600 W covers the GPU's 450 W"
    dusk = SiteState(pv_watts=200, battery_soc_pct=None, has_battery=False, battery_state="no battery")
    refused = energy_allows(POLICY, dusk)
    assert not refused.accept and refused.for_now
    assert refused.reason == "the site has no battery and PV 200 W does not cover the GPU's 450 W"


def test_policy_bounds():
    with pytest.raises(ValueError):
        Policy(battery_reserve_pct=101)
    with pytest.raises(ValueError):
        Policy(gpu_watts=0)


# ---- buying a green delivery's missing RECs ([green]) ------------------------------------

AKRE = 10**18
RULES = RecBuying(max_premium_pct=5, twap_window_s=3600, max_akre_per_job=2 * AKRE, deadline_margin_s=60)
TWAP = AKRE  # 1 AKRE per REC


def plan(rules=RULES, shortfall=500_000, left=600, twap=TWAP, quote=AKRE // 2, balance=10 * AKRE):
    return plan_rec_purchase(rules, shortfall_mwh=shortfall, seconds_left=left, twap=twap, quote=quote, akre_balance=balance)


def test_the_cap_is_the_twap_plus_the_premium_and_at_most_the_per_job_bound():
    assert RULES.cap(500_000, TWAP) == AKRE * 105 // 200  # half a REC at the TWAP + 5 %
    assert RULES.cap(10 * 10**6, TWAP) == 2 * AKRE  # ten RECs: the per-job bound
    assert RecBuying(0, 60, AKRE, 0).cap(1, 3) == 0  # rounded down: never above the bound


def test_a_quote_within_the_cap_is_bought_with_the_cap_as_the_on_chain_bound():
    decision = plan(quote=AKRE * 104 // 200)
    assert (decision.action, decision.max_akre) == ("buy", AKRE * 105 // 200)
    assert "RECs short by 500,000 mWh; the pool asks 0.52 AKRE (+4.00 % against the TWAP), within the cap of 0.525 AKRE" == decision.reason


@pytest.mark.parametrize(
    "kwargs, action, reason",
    [
        ({"quote": AKRE * 106 // 200}, "wait",
         "the pool asks 0.53 AKRE (+6.00 % against the TWAP), above the cap of 0.525 AKRE (TWAP + 5 %, at most 2 AKRE a job)"),
        ({"shortfall": 3 * 10**6, "quote": 3 * AKRE}, "wait", "above the cap of 2 AKRE"),
        ({"twap": None}, "wait", "the pool has no price history over 3600 s (TWAP) yet"),
        ({"quote": None}, "wait", "the pool cannot sell that much now"),
        ({"balance": AKRE // 4}, "wait", "but the account holds 0.25 AKRE"),
        ({"left": 59}, "give_up", "RECs short by 500,000 mWh with 59 s left before the deadline"),
        ({"left": -5, "twap": None}, "give_up", "with 0 s left"),
        ({"rules": None}, "wait", "buying them from the pool is off (no [green] section)"),
        ({"rules": None, "left": -1}, "give_up", "with 0 s left before the deadline"),
    ],
)
def test_a_purchase_outside_the_caps_waits_or_is_given_up_near_the_deadline(kwargs, action, reason):
    decision = plan(**kwargs)
    assert decision.action == action and reason in decision.reason and decision.max_akre == 0


def test_spot_alone_never_prices_a_purchase():
    """A pool pushed within one block: spot (the quote) far above a TWAP that has not moved."""
    assert plan(quote=4 * AKRE // 2).action == "wait"
    assert premium_pct(2 * AKRE, 500_000, TWAP) == pytest.approx(300.0)


CHANNEL_RULES = ChannelRules(min_deposit=10**18, redeem_threshold=20 * 10**18, redeem_interval_s=3600, max_unredeemed=50 * 10**18,
                             green_reserve_mwh=2_000)


@pytest.mark.parametrize("unredeemed, waited_s, closing, reason", [
    (10**18, 10, True, "closing the channel"),
    (20 * 10**18, 10, False, "20 AKRE owed reach the 20 AKRE threshold"),
    (10**18, 3600, False, "a voucher waited 3600 s"),
    (20 * 10**18 - 1, 3599, False, None),
])
def test_a_channels_voucher_is_redeemed_at_a_close_the_threshold_the_interval_or_for_a_waiting_order(unredeemed, waited_s, closing, reason):
    due = redemption_due(CHANNEL_RULES, unredeemed=unredeemed, waited_s=waited_s, closing=closing)
    assert due is None if reason is None else reason in due
    assert "an order waits for it" in redemption_due(CHANNEL_RULES, unredeemed=1, waited_s=0, closing=False, order_waits=True)


def test_a_channel_order_has_no_deadline_to_keep():
    params = GenerationParams(seed=1)
    assert choose(POLICY, OFFER, params, max_price=1_000, green=False, deadline=None, now=10_000, site=SUNNY).accept
