"""Which jobs the worker takes: pure decisions, each with the reason it logs.

`choose` checks a job against the worker's own offer (model, image size, steps, price,
green flag) and the time it has left; `energy_allows` is the site's energy policy for
green jobs: battery above its reserve, or PV alone covering the GPU's draw. Energy refusals
are `for_now`: the sun may rise or the battery fill before the job's deadline."""

from __future__ import annotations

from dataclasses import dataclass

from degen.models import GenerationParams, Offer


@dataclass(frozen=True)
class Decision:
    accept: bool
    reason: str
    for_now: bool = False  # a refusal that may turn (the site's energy): ask again later


@dataclass(frozen=True)
class SiteState:
    """What the site agent read from the inverter and battery."""

    pv_watts: float
    battery_soc_pct: float
    lifetime_wh: int = 0  # the inverter's lifetime energy register
    inverter_state: str = ""


@dataclass(frozen=True)
class Policy:
    """The DER owner's rules, from the worker's config."""

    battery_reserve_pct: float = 30.0
    gpu_watts: float = 450.0
    deadline_slack_s: int = 120  # the least time left to generate and deliver

    def __post_init__(self):
        if not 0 <= self.battery_reserve_pct <= 100:
            raise ValueError(f"battery_reserve_pct must be within 0..100, got {self.battery_reserve_pct}")
        if self.gpu_watts <= 0 or self.deadline_slack_s < 0:
            raise ValueError("gpu_watts must be positive and deadline_slack_s not negative")


def energy_allows(policy: Policy, site: SiteState) -> Decision:
    """A green job runs on stored or current solar energy, never on the grid."""
    if site.battery_soc_pct > policy.battery_reserve_pct:
        return Decision(True, f"battery at {site.battery_soc_pct:.0f}% is above the {policy.battery_reserve_pct:.0f}% reserve")
    if site.pv_watts >= policy.gpu_watts:
        return Decision(True, f"PV {site.pv_watts:.0f} W covers the GPU's {policy.gpu_watts:.0f} W")
    return Decision(
        False,
        f"battery at {site.battery_soc_pct:.0f}% is at or below the {policy.battery_reserve_pct:.0f}% reserve "
        f"and PV {site.pv_watts:.0f} W does not cover the GPU's {policy.gpu_watts:.0f} W",
        for_now=True,
    )


def choose(
    policy: Policy,
    offer: Offer,
    params: GenerationParams,
    *,
    max_price: int,
    green: bool,
    deadline: int,
    now: int,
    site: SiteState | None,
) -> Decision:
    """Whether to accept a job on `offer`, and why (the first reason to refuse wins)."""
    if not offer.active:
        return Decision(False, f"offer {offer.offer_id} is closed")
    if params.width > offer.max_width or params.height > offer.max_height:
        return Decision(False, f"{params.width}x{params.height} exceeds the offer's {offer.max_width}x{offer.max_height}")
    if params.steps > offer.max_steps:
        return Decision(False, f"{params.steps} steps exceed the offer's {offer.max_steps}")
    if max_price < offer.base_price:
        return Decision(False, f"max price {max_price} is below the base price {offer.base_price}")
    if deadline - now < policy.deadline_slack_s:
        return Decision(False, f"{deadline - now} s left before the deadline, under the {policy.deadline_slack_s} s slack")
    if green:
        if not offer.green:
            return Decision(False, f"the job is green and offer {offer.offer_id} is not")
        if site is None:
            return Decision(False, "the job is green and the site's energy state is unknown", for_now=True)
        energy = energy_allows(policy, site)
        if not energy.accept:
            return energy
    return Decision(True, "within the offer's terms" + (" on green energy" if green else ""))
