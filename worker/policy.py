"""Which jobs the worker takes: pure decisions, each with the reason it logs.

`choose` checks a job against the worker's own offer (model, image size, steps, price,
green flag) and the time it has left; `energy_allows` is the site's energy policy for
green jobs: battery above its reserve, or PV alone covering the GPU's draw. Energy refusals
are `for_now`: the sun may rise or the battery fill before the job's deadline."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from degen.models import GenerationParams, Offer
from degen.pool import amount_text
from degen.pool_model import MWH_PER_REC


@dataclass(frozen=True)
class Decision:
    accept: bool
    reason: str
    for_now: bool = False  # a refusal that may turn (the site's energy): ask again later


@dataclass(frozen=True)
class SiteState:
    """What the site agent read from the inverters, batteries and meter; None: the device does
    not report that point (named in `missing`)."""

    pv_watts: float | None  # every inverter's AC power, summed
    battery_soc_pct: float | None  # every battery's, weighted by capacity; None without a battery
    lifetime_wh: int | None = None  # the production meter's exported energy, else the inverters' lifetime energy
    inverter_state: str = ""
    battery_state: str = ""  # charging, discharging, holding, empty, full, …; "no battery" on a PV-only site
    missing: tuple[str, ...] = ()
    has_battery: bool = True  # False: no storage model on the site (PV only)
    inverters_wh: int | None = None  # the inverters' lifetime energy, when a production meter supplies lifetime_wh
    notes: tuple[str, ...] = ()  # how readings were combined, where the log should say so


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
    """A green job runs on stored or current solar energy, never on the grid: a PV-only site
    runs it while PV covers the GPU. A point the site does not report counts for nothing."""
    soc, pv = site.battery_soc_pct, site.pv_watts
    if soc is not None and soc > policy.battery_reserve_pct:
        return Decision(True, f"battery at {soc:.0f}% is above the {policy.battery_reserve_pct:.0f}% reserve")
    if pv is not None and pv >= policy.gpu_watts:
        return Decision(True, f"PV {pv:.0f} W covers the GPU's {policy.gpu_watts:.0f} W")
    if not site.has_battery:
        battery = "the site has no battery"
    elif soc is None:
        battery = "the battery's state of charge is not reported"
    else:
        battery = f"battery at {soc:.0f}% is at or below the {policy.battery_reserve_pct:.0f}% reserve"
    sun = "PV power is not reported" if pv is None else f"PV {pv:.0f} W does not cover the GPU's {policy.gpu_watts:.0f} W"
    return Decision(False, f"{battery} and {sun}", for_now=True)


def choose(
    policy: Policy,
    offer: Offer,
    params: GenerationParams,
    *,
    max_price: int,
    green: bool,
    deadline: int | None,
    now: int,
    site: SiteState | None,
) -> Decision:
    """Whether to accept a job on `offer`, and why (the first reason to refuse wins). A job
    without a deadline (a channel order, generated at once) has no slack to check."""
    if not offer.active:
        return Decision(False, f"offer {offer.offer_id} is closed")
    if params.width > offer.max_width or params.height > offer.max_height:
        return Decision(False, f"{params.width}x{params.height} exceeds the offer's {offer.max_width}x{offer.max_height}")
    if params.steps > offer.max_steps:
        return Decision(False, f"{params.steps} steps exceed the offer's {offer.max_steps}")
    if max_price < offer.base_price:
        return Decision(False, f"max price {max_price} is below the base price {offer.base_price}")
    if deadline is not None and deadline - now < policy.deadline_slack_s:
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


@dataclass(frozen=True)
class RecBuying:
    """The DER owner's caps on buying a green job's missing RECs from the pool (`[green]`)."""

    max_premium_pct: float  # the most to pay above the pool's TWAP, percent
    twap_window_s: int  # the TWAP's window (EnergyPool.consult)
    max_akre_per_job: int  # AKRE base units
    deadline_margin_s: int  # give up when less time than this is left before the deadline

    def cap(self, shortfall_mwh: int, twap: int) -> int:
        """The most to pay for `shortfall_mwh` at a TWAP of `twap` AKRE base units per REC."""
        premium_bps = round(self.max_premium_pct * 100)
        at_twap = shortfall_mwh * twap * (10_000 + premium_bps) // (MWH_PER_REC * 10_000)
        return min(at_twap, self.max_akre_per_job)


@dataclass(frozen=True)
class RecPlan:
    """What to do about a green delivery short of RECs, and why (the reason is logged)."""

    action: str  # "buy" (through the GreenRouter, for at most max_akre), "wait" or "give_up"
    reason: str
    max_akre: int = 0
    cause: str = ""  # what holds a wait up, in a word (its reason's figures move every block)


def plan_rec_purchase(
    rules: RecBuying | None,
    *,
    shortfall_mwh: int,
    seconds_left: int,
    twap: int | None,
    quote: int | None,
    akre_balance: int,
) -> RecPlan:
    """Buy the shortfall when the pool sells it within both caps, priced against the TWAP
    (never spot alone: one swap moves spot anywhere for a block); else wait, until the deadline
    is too close to send a delivery. `quote` is the pool's price for the shortfall now (None:
    it cannot sell that much); `rules` None: buying is off, the job waits for issued RECs."""
    short = f"RECs short by {shortfall_mwh:,} mWh"
    margin = 0 if rules is None else rules.deadline_margin_s
    if seconds_left < margin:
        return RecPlan("give_up", f"{short} with {max(seconds_left, 0)} s left before the deadline")
    if rules is None:
        return RecPlan("wait", f"{short}; buying them from the pool is off (no [green] section)", cause="off")
    if twap is None:
        return RecPlan("wait", f"{short}; the pool has no price history over {rules.twap_window_s} s (TWAP) yet", cause="no TWAP")
    if quote is None:
        return RecPlan("wait", f"{short}; the pool cannot sell that much now", cause="no liquidity")
    cap = rules.cap(shortfall_mwh, twap)
    price = f"the pool asks {_akre(quote)} ({premium_pct(quote, shortfall_mwh, twap):+.2f} % against the TWAP)"
    if quote > cap:
        return RecPlan("wait", f"{short}; {price}, above the cap of {_akre(cap)} "
                               f"(TWAP + {rules.max_premium_pct:g} %, at most {_akre(rules.max_akre_per_job)} a job)", cause="price")
    if quote > akre_balance:
        return RecPlan("wait", f"{short}; {price} but the account holds {_akre(akre_balance)}", cause="balance")
    return RecPlan("buy", f"{short}; {price}, within the cap of {_akre(cap)}", max_akre=cap)


def premium_pct(akre: int, rec_mwh: int, twap: int) -> float:
    """How far the price paid for `rec_mwh` lies above (or below) the TWAP, percent."""
    return (akre * MWH_PER_REC / rec_mwh / twap - 1) * 100 if rec_mwh and twap else 0.0


def _akre(akre: int) -> str:
    """AKRE base units to six significant digits: "0.525 AKRE", "0.0000350001 AKRE"."""
    if akre == 0:
        return "0 AKRE"
    value = Decimal(akre).scaleb(-18)
    return f"{round(value, max(0, 5 - value.adjusted())).normalize():,f} AKRE"


@dataclass(frozen=True)
class ChannelRules:
    """The DER owner's terms for channels (`[channels]`), AKRE in base units."""

    min_deposit: int
    redeem_threshold: int
    redeem_interval_s: float
    max_unredeemed: int
    green_reserve_mwh: int


def redemption_due(rules: ChannelRules, *, unredeemed: int, waited_s: float, closing: bool, order_waits: bool = False) -> str | None:
    """Why a channel's latest voucher is to be redeemed now, or None while it can wait."""
    if closing:
        return "its requester is closing the channel: redeemed within the notice"
    if order_waits:
        return f"an order waits for it: the channel would owe more than {amount_text(rules.max_unredeemed, 'akre')} unredeemed"
    if unredeemed >= rules.redeem_threshold:
        return f"{amount_text(unredeemed, 'akre')} owed reach the {amount_text(rules.redeem_threshold, 'akre')} threshold"
    if waited_s >= rules.redeem_interval_s:
        return f"a voucher waited {waited_s:.0f} s, the redemption interval is {rules.redeem_interval_s:.0f} s"
    return None
