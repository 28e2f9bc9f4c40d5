"""The worker's job choice and the site's energy policy for green jobs."""

import pytest

from degen.models import GenerationParams, Offer
from worker.policy import Policy, SiteState, choose, energy_allows

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


def test_policy_bounds():
    with pytest.raises(ValueError):
        Policy(battery_reserve_pct=101)
    with pytest.raises(ValueError):
        Policy(gpu_watts=0)
