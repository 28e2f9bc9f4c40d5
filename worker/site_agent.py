"""The site agent: reads the inverter and battery over SunSpec Modbus TCP for the worker's
energy policy. Connects lazily, finds the SunSpec models once, and reconnects after a
failure; every failure surfaces as SunSpecError with what went wrong."""

from __future__ import annotations

import threading

from worker import sunspec
from worker.policy import SiteState
from worker.sunspec import SunSpecError


class SiteAgent:
    def __init__(self, host: str, port: int = 502, device_id: int = 1, timeout_s: float = 3.0):
        from pymodbus.client import ModbusTcpClient

        self.address = f"{host}:{port}"
        self._client = ModbusTcpClient(host, port=port, timeout=timeout_s, retries=1)
        self._device_id = device_id
        self._models: dict[int, tuple[int, int]] | None = None
        self._lock = threading.Lock()

    def read(self) -> SiteState:
        with self._lock:
            try:
                if not self._client.connected and not self._client.connect():
                    raise SunSpecError(f"cannot connect to the site at {self.address}")
                if self._models is None:
                    self._models = sunspec.find_models(self._registers)
                return sunspec.read_site(self._registers, self._models)
            except SunSpecError:
                self._reset()
                raise
            except Exception as exc:  # pymodbus raises its own ModbusException tree and OSError
                self._reset()
                raise SunSpecError(f"reading the site at {self.address} failed: {exc}") from exc

    def _registers(self, address: int, count: int) -> list[int]:
        result = self._client.read_holding_registers(address, count=count, device_id=self._device_id)
        if result.isError():
            raise SunSpecError(f"the site at {self.address} refused registers {address}..{address + count - 1}: {result}")
        return list(result.registers)

    def _reset(self) -> None:
        self._models = None
        self._client.close()

    def close(self) -> None:
        with self._lock:
            self._client.close()
