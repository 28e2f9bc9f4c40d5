"""Which periods are issued and how much: a simulated solar day's periods add up to the
day's integral within one sample's resolution, and gaps, late periods and the high-water
mark are handled conservatively."""

import math

from eth_account import Account

from degen import telemetry
from degen.telemetry import MeterSample
from oracle.issuance import Rules, energy_mwh, ready_periods
from worker.site_sim import signed_day

CHAIN_ID, REGISTRY = 31337, "0x" + "ab" * 20
METER = Account.from_key(b"\x11" * 32)
PEAK = 6_000
DAY = 1_800_000_000 // 86_400 * 86_400  # a midnight, UTC
STEP = telemetry.SAMPLE_INTERVAL_S


def simulated_day(site_id=1, day=DAY, meter=METER, chain_id=CHAIN_ID, registry=REGISTRY) -> list[tuple[MeterSample, bytes]]:
    """A clear 6 kW day from the site simulator, sampled and signed every 5 minutes from
    midnight to midnight."""
    return signed_day(site_id, day, meter, chain_id, registry, pv_peak_watts=PEAK)


def periods(samples, now=DAY + 2 * 86_400, mark=0, rules=Rules()):
    return ready_periods(1, samples, high_water_mark=mark, pv_peak_watts=10_000, now=now, rules=rules,
                         chain_id=CHAIN_ID, registry=REGISTRY)


def test_a_solar_day_is_issued_hour_by_hour_and_adds_up_to_its_integral():
    issued = periods(simulated_day())
    assert [p.start for p in issued] == [DAY + h * 3600 for h in range(6, 18)]  # nights carry no energy
    assert all(len(p.samples) == 13 for p in issued)  # both boundaries of each hour
    integral_wh = PEAK * 12 * 2 / math.pi  # ∫ peak·sin(π(h-6)/12) dh over 6..18 h
    resolution_wh = PEAK * STEP / 3600
    assert abs(sum(p.energy_mwh for p in issued) / 1000 - integral_wh) <= resolution_wh
    noon = next(p for p in issued if p.start == DAY + 11 * 3600)
    assert noon.energy_mwh == (noon.samples[-1][0].register_wh - noon.samples[0][0].register_wh) * 1000


def test_a_gap_across_a_boundary_is_issued_to_neither_side():
    day = [s for s in simulated_day() if not DAY + 11 * 3600 < s[0].timestamp < DAY + 12 * 3600 + 600]
    issued = {p.start: p for p in periods(day)}
    full = {p.start: p for p in periods(simulated_day())}
    assert DAY + 11 * 3600 not in issued  # only its opening sample is left: nothing is proven
    assert issued[DAY + 12 * 3600].energy_mwh < full[DAY + 12 * 3600].energy_mwh  # starts at its first sample
    assert sum(p.energy_mwh for p in issued.values()) < sum(p.energy_mwh for p in full.values())


def test_periods_wait_for_the_grace_time_and_start_at_the_high_water_mark():
    day = simulated_day()
    just_closed = DAY + 13 * 3600 + 599
    assert [p.start for p in periods(day, now=just_closed)][-1] == DAY + 11 * 3600  # 12:00-13:00 waits for late samples
    assert [p.start for p in periods(day, mark=DAY + 15 * 3600)] == [DAY + h * 3600 for h in range(15, 18)]
    unaligned = periods(day, mark=DAY + 15 * 3600 + 1)  # an issuance ended mid-hour: the next aligned hour
    assert unaligned[0].start == DAY + 16 * 3600


def test_energy_is_capped_by_the_pv_peak_and_needs_two_samples():
    sample = MeterSample(site_id=1, timestamp=DAY, pv_watts=0, register_wh=0, battery_soc_permille=0)
    later = sample.model_copy(update={"timestamp": DAY + 3600, "register_wh": 50_000})
    assert energy_mwh([(sample, b"")], 10_000, DAY, DAY + 3600) == 0
    assert energy_mwh([(sample, b""), (later, b"")], 10_000, DAY, DAY + 3600) == 10_000 * 1000


def test_a_period_waits_until_a_sample_at_or_after_its_end_proves_it_complete():
    """A day arriving in batches: a batch that ends inside a period issues nothing of it; the
    next batch completes it, and the whole day is issued once, exactly as if sent at once."""
    day = simulated_day()
    whole = {p.start: p.energy_mwh for p in periods(day)}
    first_batch = [s for s in day if s[0].timestamp <= DAY + 8 * 3600 + 15 * 60]  # ends at 08:15
    assert [p.start for p in periods(first_batch)][-1] == DAY + 7 * 3600  # 08:00-09:00 waits
    issued, mark = {}, 0
    for end in range(0, len(day), 7):  # small batches, issuing after each, from the high-water mark
        for period in periods(day[:end + 7], mark=mark):
            assert period.start not in issued
            issued[period.start] = period.energy_mwh
            mark = period.end
    assert issued == whole
