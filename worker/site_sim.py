"""A simulated DER site — rooftop PV on a day curve, a house load and a battery (or none: a
PV-only site) — whose physics `worker.site_device` serves over SunSpec Modbus TCP, so the
worker's site agent runs without hardware.

Simulated time runs `speed` times faster than the wall clock from `start_hour`; the state
advances lazily whenever the device is read."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

from degen import telemetry
from degen.telemetry import MeterSample
from worker.policy import SiteState
from worker.reporter import sample_of

SUNRISE_HOUR, SUNSET_HOUR = 6.0, 18.0


def solar_watts(peak_watts: float, hour_of_day: float) -> float:
    """A clear day's PV output: a half sine between sunrise and sunset."""
    hour = hour_of_day % 24
    if not SUNRISE_HOUR < hour < SUNSET_HOUR:
        return 0.0
    return peak_watts * math.sin(math.pi * (hour - SUNRISE_HOUR) / (SUNSET_HOUR - SUNRISE_HOUR))


@dataclass
class SiteSimulator:
    pv_peak_watts: float = 6_000
    battery_wh: float = 13_500
    battery_watts: int = 5_000
    load_watts: float = 400
    soc_pct: float = 50.0
    battery_floor_pct: float = 5.0
    start_hour: float = 12.0
    speed: float = 1.0
    lifetime_wh: float = 1_000_000  # an installation that has produced 1 MWh so far
    clock: Callable[[], float] = time.monotonic
    _sim_seconds: float = field(init=False, default=0.0)
    _last: float = field(init=False)

    def __post_init__(self):
        if not 0 <= self.soc_pct <= 100 or not 0 <= self.battery_floor_pct <= 100:
            raise ValueError("state of charge and floor are percentages (0..100)")
        if self.pv_peak_watts < 0 or self.battery_wh < 0 or self.load_watts < 0 or self.speed < 0:
            raise ValueError("PV peak, battery capacity (0: none) and load must not be negative")
        self._last = self.clock()

    @property
    def hour(self) -> float:
        return (self.start_hour + self._sim_seconds / 3600) % 24

    def advance(self, max_step_s: float = 60.0) -> SiteState:
        """Moves the site to now (in steps of at most `max_step_s` simulated seconds)."""
        now = self.clock()
        remaining, self._last = (now - self._last) * self.speed, now
        while remaining > 0:
            step = min(remaining, max_step_s)
            self._step(step)
            remaining -= step
        return self.state()

    @property
    def has_battery(self) -> bool:
        return self.battery_wh > 0

    def _step(self, seconds: float) -> None:
        pv = solar_watts(self.pv_peak_watts, self.hour)
        if self.has_battery:
            soc_wh = self.soc_pct / 100 * self.battery_wh + self.battery_flow_watts() * seconds / 3600
            floor_wh = self.battery_floor_pct / 100 * self.battery_wh
            self.soc_pct = min(self.battery_wh, max(floor_wh, soc_wh)) / self.battery_wh * 100
        self.lifetime_wh += pv * seconds / 3600
        self._sim_seconds += seconds

    def battery_flow_watts(self) -> float:
        """What flows into the battery now (negative: out of it): the PV surplus over the load
        within the battery's power limit, nothing past full or below the floor."""
        flow = max(-self.battery_watts, min(self.battery_watts, solar_watts(self.pv_peak_watts, self.hour) - self.load_watts))
        if (flow > 0 and self.soc_pct >= 100) or (flow < 0 and self.soc_pct <= self.battery_floor_pct):
            return 0.0
        return flow

    def charge_state(self) -> str:
        """The battery as SunSpec's ChaSt names it: charging, discharging, full, empty or holding."""
        if not self.has_battery:
            return "no battery"
        flow = self.battery_flow_watts()
        if flow > 0:
            return "charging"
        if flow < 0:
            return "discharging"
        if self.soc_pct >= 100:
            return "full"
        if self.soc_pct <= self.battery_floor_pct:
            return "empty"
        return "holding"

    def state(self) -> SiteState:
        pv = solar_watts(self.pv_peak_watts, self.hour)
        return SiteState(pv_watts=pv, battery_soc_pct=self.soc_pct if self.has_battery else None, lifetime_wh=int(self.lifetime_wh),
                         inverter_state="mppt" if pv > 0 else "sleeping", battery_state=self.charge_state(),
                         has_battery=self.has_battery)


def signed_day(site_id: int, day: int, meter, chain_id: int, registry: str, *, pv_peak_watts: float = 6_000,
               battery_wh: float = 13_500, lifetime_wh: float = 1_000_000) -> list[tuple[MeterSample, bytes]]:
    """A clear day at a simulated site as its agent reports it: a MeterSample every 5 minutes
    from midnight (`day`, unix s) to the next midnight, signed with the meter key (`battery_wh`
    0: a PV-only site; `lifetime_wh`: the register at midnight)."""
    seconds = [0.0]
    site = SiteSimulator(pv_peak_watts=pv_peak_watts, battery_wh=battery_wh, start_hour=0, lifetime_wh=lifetime_wh,
                         clock=lambda: seconds[0])
    samples = []
    for t in range(0, 86_400 + 1, telemetry.SAMPLE_INTERVAL_S):
        seconds[0] = t
        sample = sample_of(site.advance(), site_id, day + t)
        samples.append((sample, telemetry.sign(sample, meter, chain_id, registry)))
    return samples
