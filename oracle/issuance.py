"""Which site-periods the oracle issues RECs for, and how much: only what signed samples prove.

Periods are aligned to multiples of `period_s` (hourly by default) in unix time. A period
[start, end] counts the samples with start <= timestamp <= end; a sample exactly on a
boundary counts for both neighbours, so with aligned 5-minute samples every interval between
two samples belongs to exactly one period. The period's energy is the register's growth from
its first to its last sample: energy generated before the first or after the last sample of
a period (a gap across a boundary, an agent that started late) is issued to no period. That
is the conservative rule: the oracle never issues more than two signed register readings in
the period prove, and never more than the PV peak over the period allows.

A period is ready only once its evidence is complete: the store holds a sample at or after
its end. The ingest API takes a site's samples in time order only (a sample older than the
site's newest is refused unless it is a retry of one stored), so from then on no sample can
join the period, and its energy is final. Until then it waits, however old it is: a day
posted in batches, or an outbox flushed after an outage, is issued period by period as the
samples past each period's end arrive, never from part of them (the site's high-water mark
would then forbid topping the period up). A site that falls silent for good leaves its last
period, the one its final sample lies in, unissued. Beyond that a period must have ended
`grace_s` ago and hold at least `min_samples` samples; periods without energy (nights) are
not issued. Periods before the site's on-chain high-water mark are never considered, so a
restart cannot issue twice."""

from __future__ import annotations

from dataclasses import dataclass

from degen.telemetry import MeterSample
from oracle import merkle

SignedSamples = list[tuple[MeterSample, bytes]]


@dataclass(frozen=True)
class SitePeriod:
    site_id: int
    start: int
    end: int
    energy_mwh: int
    samples: SignedSamples
    evidence_root: bytes

    def request(self) -> tuple:
        """RECToken's IssuanceRequest tuple."""
        return (self.site_id, self.start, self.end, self.energy_mwh, self.evidence_root)


@dataclass(frozen=True)
class Rules:
    period_s: int = 3600
    grace_s: int = 600
    min_samples: int = 2


def in_period(samples: SignedSamples, start: int, end: int) -> SignedSamples:
    return [(sample, signature) for sample, signature in samples if start <= sample.timestamp <= end]


def energy_mwh(samples: SignedSamples, pv_peak_watts: int, start: int, end: int) -> int:
    """What the samples prove was generated in [start, end], in mWh (see the module docstring)."""
    if len(samples) < 2:
        return 0
    proven_wh = samples[-1][0].register_wh - samples[0][0].register_wh
    return min(proven_wh * 1000, pv_peak_watts * (end - start) * 1000 // 3600)


def evidence(samples: SignedSamples, chain_id: int, registry: str) -> list[bytes]:
    """The Merkle leaves of a period's samples, in order."""
    return [merkle.leaf(sample, signature, chain_id, registry) for sample, signature in samples]


def ready_periods(
    site_id: int, samples: SignedSamples, *, high_water_mark: int, pv_peak_watts: int, now: int, rules: Rules,
    chain_id: int, registry: str,
) -> list[SitePeriod]:
    """The site's periods that may be issued now, oldest first. `samples` are the site's
    samples from its high-water mark on, oldest first."""
    if not samples:
        return []
    period = rules.period_s
    start = max(high_water_mark, samples[0][0].timestamp // period * period)
    start = -(-start // period) * period  # the first aligned period at or after the mark
    newest = samples[-1][0].timestamp
    ready = []
    while start + period + rules.grace_s <= now and start + period <= newest:
        end = start + period
        chosen = in_period(samples, start, end)
        if len(chosen) >= rules.min_samples:
            energy = energy_mwh(chosen, pv_peak_watts, start, end)
            if energy > 0:
                root = merkle.root(evidence(chosen, chain_id, registry))
                ready.append(SitePeriod(site_id, start, end, energy, chosen, root))
        start = end
    return ready
