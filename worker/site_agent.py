"""The site agent: reads the inverters, batteries and production meter over SunSpec Modbus TCP
for the worker's energy policy and meter samples. Connects lazily, finds the SunSpec models
once (on each configured unit id, and the meter's), and reconnects after a failure; every
failure surfaces as SunSpecError with what went wrong. The lifetime energy the samples carry
only grows: a reading below the last one is refused. With a production meter, the inverters'
own energy register is kept beside it and the two are compared (`meter_check`)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from worker.policy import SiteState
from worker.sunspec.models import COMMON_ID
from worker.sunspec.reader import MAX_READ, Found, Layout, SunSpecError, find_models, locate, read_model, site_state

MIN_CHECKED_WH = 100  # the meter and the inverters are compared once either has counted this much


@dataclass
class MeterCheck:
    """The production meter's energy against the inverters' since the first reading of both:
    revenue-grade meters are what certificate issuers trust, and a disagreement beyond
    `tolerance_pct` says that one of them (or the wiring) is wrong."""

    tolerance_pct: float
    start: tuple[int, int] | None = None  # (meter Wh, inverters Wh) at the first reading
    last: dict | None = None

    def update(self, meter_wh: int, inverters_wh: int) -> dict:
        if self.start is None:
            self.start = (meter_wh, inverters_wh)
        by_meter, by_inverters = meter_wh - self.start[0], inverters_wh - self.start[1]
        counted = max(by_meter, by_inverters)
        difference = None if counted < MIN_CHECKED_WH else round(abs(by_meter - by_inverters) / counted * 100, 2)
        self.last = {"meter_wh": by_meter, "inverters_wh": by_inverters, "difference_pct": difference,
                     "tolerance_pct": self.tolerance_pct, "agree": difference is None or difference <= self.tolerance_pct}
        return self.last


class SiteAgent:
    def __init__(self, host: str, port: int = 502, unit_ids: tuple[int, ...] = (1,), timeout_s: float = 3.0, *,
                 meter_unit: int | None = None, meter_address: int | None = None, meter_tolerance_pct: float = 2.0):
        from pymodbus.client import ModbusTcpClient

        if not unit_ids:
            raise ValueError("name at least one Modbus unit id")
        self.address = f"{host}:{port}"
        self._client = ModbusTcpClient(host, port=port, timeout=timeout_s, retries=1)
        self._unit_ids = tuple(unit_ids) + ((meter_unit,) if meter_unit is not None and meter_unit not in unit_ids else ())
        self._meter = (meter_unit, meter_address)
        self.meter_check = None if meter_unit is None else MeterCheck(meter_tolerance_pct)
        self.layout: Layout | None = None  # what the last successful walk found
        self.passed_over: tuple[str, ...] = ()  # unit ids the walk passed over, and why
        self._lifetime_wh: int | None = None  # the last reading of the energy the samples carry
        self._lock = threading.Lock()

    def read(self) -> SiteState:
        with self._lock:
            try:
                if not self._client.connected and not self._client.connect():
                    raise SunSpecError(f"cannot connect to the site at {self.address}")
                if self.layout is None:
                    self.layout = locate(self._chains(), *self._meter)
                decoded = {found: self.decode(found) for found in self.layout.models}
                state = site_state(self.layout, decoded)
            except SunSpecError:
                self._reset()
                raise
            except Exception as exc:  # pymodbus raises its own ModbusException tree and OSError
                self._reset()
                raise SunSpecError(f"reading the site at {self.address} failed: {exc}") from exc
            state = self._only_growing(state)
            if self.meter_check is not None and state.lifetime_wh is not None and state.inverters_wh is not None:
                self.meter_check.update(state.lifetime_wh, state.inverters_wh)
            return state

    def decode(self, found: Found) -> dict:
        """Every point of a model the walk found, decoded (None: not implemented)."""
        return read_model(self._reader(found.unit), found)

    def walk(self) -> dict[int, list[Found]]:
        """Connects and walks every unit id's chain (`_chains`), for a caller that shows them."""
        with self._lock:
            if not self._client.connected and not self._client.connect():
                raise SunSpecError(f"cannot connect to the site at {self.address}")
            return self._chains()

    def _chains(self) -> dict[int, list[Found]]:
        """The model chain of every unit id that has one (a unit that answers with another
        unit's very map, as some devices answer any unit id, is the same device: passed over);
        SunSpecError when none does."""
        chains, refusals, devices = {}, [], {}
        for unit in self._unit_ids:
            try:
                chain = find_models(self._reader(unit), unit)
            except SunSpecError as exc:
                refusals.append(str(exc))
                continue
            except Exception as exc:  # noqa: BLE001 - a unit that does not answer must not hide the others
                refusals.append(f"unit id {unit} does not answer: {exc}")
                continue
            identity = self._identity(unit, chain)
            if identity in devices:
                refusals.append(f"unit id {unit} answers with unit id {devices[identity]}'s device: counted once")
                continue
            devices[identity] = unit
            chains[unit] = chain
        self.passed_over = tuple(refusals)
        if not chains:
            raise SunSpecError(f"the site at {self.address}: {'; '.join(refusals)}")
        return chains

    def _identity(self, unit: int, chain: list[Found]) -> tuple:
        """What tells two devices apart: their chain, and their common models' registers
        (maker, model, serial number)."""
        read = self._reader(unit)
        common = tuple(tuple(read(found.address, min(found.length + 2, MAX_READ))) for found in chain if found.model_id == COMMON_ID)
        return tuple((found.model_id, found.address, found.length) for found in chain), common

    def _only_growing(self, state: SiteState) -> SiteState:
        if state.lifetime_wh is not None:
            if self._lifetime_wh is not None and state.lifetime_wh < self._lifetime_wh:
                source = "production meter's exported" if self._meter[0] is not None else "inverters' lifetime"
                raise SunSpecError(f"the {source} energy went back from {self._lifetime_wh:,} Wh to "
                                   f"{state.lifetime_wh:,} Wh: refused (a replaced or reset device needs a new site)")
            self._lifetime_wh = state.lifetime_wh
        return state

    def _reader(self, unit: int):
        def read(address: int, count: int) -> list[int]:
            result = self._client.read_holding_registers(address, count=count, device_id=unit)
            if result.isError():
                raise SunSpecError(f"the site at {self.address} (unit id {unit}) refused registers "
                                   f"{address}..{address + count - 1}: {result}")
            return list(result.registers)

        return read

    def _reset(self) -> None:
        self.layout = None
        self._client.close()

    def close(self) -> None:
        with self._lock:
            self._client.close()
