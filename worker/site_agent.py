"""The site agent: reads the inverter and battery over SunSpec Modbus TCP for the worker's
energy policy and meter samples. Connects lazily, finds the SunSpec models once (on each
configured unit id), and reconnects after a failure; every failure surfaces as SunSpecError
with what went wrong. The inverter's lifetime energy register only grows: a reading below
the last one is refused."""

from __future__ import annotations

import threading

from worker.policy import SiteState
from worker.sunspec.reader import Found, SunSpecError, find_models, locate, read_model, site_state


class SiteAgent:
    def __init__(self, host: str, port: int = 502, unit_ids: tuple[int, ...] = (1,), timeout_s: float = 3.0):
        from pymodbus.client import ModbusTcpClient

        if not unit_ids:
            raise ValueError("name at least one Modbus unit id")
        self.address = f"{host}:{port}"
        self._client = ModbusTcpClient(host, port=port, timeout=timeout_s, retries=1)
        self._unit_ids = tuple(unit_ids)
        self._located: tuple[Found, Found] | None = None
        self._lifetime_wh: int | None = None  # the register's last reading
        self._lock = threading.Lock()

    def read(self) -> SiteState:
        with self._lock:
            try:
                if not self._client.connected and not self._client.connect():
                    raise SunSpecError(f"cannot connect to the site at {self.address}")
                if self._located is None:
                    self._located = locate(self._chains())
                inverter, battery = self._located
                state = site_state(inverter, read_model(self._reader(inverter.unit), inverter),
                                   battery, read_model(self._reader(battery.unit), battery))
            except SunSpecError:
                self._reset()
                raise
            except Exception as exc:  # pymodbus raises its own ModbusException tree and OSError
                self._reset()
                raise SunSpecError(f"reading the site at {self.address} failed: {exc}") from exc
            return self._only_growing(state)

    def _chains(self) -> dict[int, dict[int, tuple[int, int]]]:
        """The model chain of every unit id that has one; SunSpecError when none does."""
        chains, refusals = {}, []
        for unit in self._unit_ids:
            try:
                chains[unit] = find_models(self._reader(unit), unit)
            except SunSpecError as exc:
                refusals.append(str(exc))
            except Exception as exc:  # noqa: BLE001 - a unit that does not answer must not hide the others
                refusals.append(f"unit id {unit} does not answer: {exc}")
        if not chains:
            raise SunSpecError(f"the site at {self.address}: {'; '.join(refusals)}")
        return chains

    def _only_growing(self, state: SiteState) -> SiteState:
        if state.lifetime_wh is not None:
            if self._lifetime_wh is not None and state.lifetime_wh < self._lifetime_wh:
                raise SunSpecError(f"the inverter's lifetime energy went back from {self._lifetime_wh:,} Wh to "
                                   f"{state.lifetime_wh:,} Wh: refused (a replaced or reset inverter needs a new site)")
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
        self._located = None
        self._client.close()

    def close(self) -> None:
        with self._lock:
            self._client.close()
