"""Whether the oracle accepts a meter sample: pure rules, each refusal with the HTTP status
the ingest API answers and a reason a site operator can act on.

A sample is compared with the site as the registry has it (meter key, PV peak, status) and
with the site's previous accepted sample. The register may only grow, and by no more than the
reported power allows: between two samples the energy is at most
`max(p_prev, p_now, 10% of peak) × 1.25`, never more than the PV peak, over `Δt + 2 s`, plus
1 Wh (headroom for clouds passing between samples; timestamps are whole seconds and a
reading takes time, and the register counts whole Wh).

A PV-only site signs NO_BATTERY as its state of charge; a site registered without a battery
that reports a state of charge is refused (one registered with a battery may report none: the
battery then counts for nothing)."""

from __future__ import annotations

from dataclasses import dataclass

from degen.errors import DegenError
from degen.telemetry import NO_BATTERY, MeterSample

MAX_AGE_S = 7 * 86_400    # older samples are refused: issuance for them may have closed
MAX_FUTURE_S = 60         # clock skew tolerated
JUMP_HEADROOM = 1.25
JUMP_FLOOR_OF_PEAK = 0.10
JUMP_SLACK_WH = 1
TIMESTAMP_SLACK_S = 2     # whole-second timestamps, each up to a second after the registers were read


class Refused(DegenError, ValueError):
    """Something the oracle does not keep; `status` is the HTTP status its API answers."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


class SampleRejected(Refused):
    """A meter sample the rules refuse."""


@dataclass(frozen=True)
class SiteRecord:
    """What the registry says about a site."""

    meter: str
    pv_peak_watts: int
    active: bool
    battery_wh: int  # 0: a PV-only site


def check_site(site_id: int, site: SiteRecord | None) -> SiteRecord:
    """The site's record, or SampleRejected when samples from it are not taken at all (checked
    first: it costs no signature recovery and no store access)."""
    if site is None:
        raise SampleRejected(404, f"site {site_id} is not registered")
    if not site.active:
        raise SampleRejected(403, f"site {site_id} is not active")
    return site


def check(sample: MeterSample, signer: str, site: SiteRecord, previous: MeterSample | None, now: int) -> None:
    """Raises SampleRejected unless `sample`, signed by `signer`, may be stored after
    `previous` (the site's latest accepted sample before it in time, if any); `site` has
    passed `check_site`."""
    if signer.lower() != site.meter.lower():
        raise SampleRejected(401, f"the sample is not signed by site {sample.site_id}'s meter key")
    if sample.timestamp > now + MAX_FUTURE_S:
        raise SampleRejected(422, f"timestamp {sample.timestamp} is {sample.timestamp - now} s in the future")
    if sample.timestamp < now - MAX_AGE_S:
        raise SampleRejected(422, f"timestamp {sample.timestamp} is older than {MAX_AGE_S // 86_400} days")
    if sample.pv_watts > site.pv_peak_watts:
        raise SampleRejected(422, f"{sample.pv_watts} W is above the site's PV peak of {site.pv_peak_watts} W")
    if site.battery_wh == 0 and sample.battery_soc_permille != NO_BATTERY:
        raise SampleRejected(422, f"site {sample.site_id} is registered without a battery and reports a state of charge "
                                  f"({sample.battery_soc_permille} per mille; a PV-only site reports {NO_BATTERY})")
    if previous is None:
        return
    if sample.timestamp <= previous.timestamp:
        raise SampleRejected(409, f"timestamp {sample.timestamp} is not after the site's last sample at {previous.timestamp}")
    if sample.register_wh < previous.register_wh:
        raise SampleRejected(409, f"the register went backwards: {sample.register_wh} Wh after {previous.register_wh} Wh")
    gained, seconds = sample.register_wh - previous.register_wh, sample.timestamp - previous.timestamp
    if gained > max_gain_wh(previous.pv_watts, sample.pv_watts, site.pv_peak_watts, seconds):
        raise SampleRejected(
            422, f"the register gained {gained} Wh in {seconds} s, impossible at {previous.pv_watts}..{sample.pv_watts} W"
        )


def max_gain_wh(p_prev: int, p_now: int, peak: int, seconds: int) -> int:
    """The most energy the register may gain between two samples (see the module docstring)."""
    power = max(p_prev, p_now, JUMP_FLOOR_OF_PEAK * peak) * JUMP_HEADROOM
    return int(min(power, peak) * (seconds + TIMESTAMP_SLACK_S) / 3600) + JUMP_SLACK_WH
