"""SunSpec devices that are not ours: register images built from the SunSpec Alliance's own
model definitions (pysunspec2), served over a real Modbus TCP server on 127.0.0.1 from a
thread of the test process."""

from __future__ import annotations

import asyncio
import threading
from contextlib import contextmanager

from sunspec2 import device as sunspec_device

from degen.processes import free_port
from worker.sunspec.models import END_MODEL, MARKER



def model_image(model_id: int, values: dict) -> list[int]:
    """One model's registers (ID, L, points) as pysunspec2 encodes them: raw `values` by point
    name; every other point holds SunSpec's "not implemented" value."""
    model = sunspec_device.Model(model_id=model_id)
    length = sum(point.len for point in model.points.values()) - 2
    for name, value in {**values, "ID": model_id, "L": length}.items():
        model.points[name].value = value
    data = model.get_mb()
    return [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]


def device_image(*models: tuple[int, dict]) -> list[int]:
    """A whole SunSpec map: the marker, the models in order, the end model."""
    return [*MARKER, *(word for model_id, values in models for word in model_image(model_id, values)), *END_MODEL]


@contextmanager
def serving(units: dict[int, tuple[int, list[int]]], writable: bool = False):
    """Serves {unit id: (base address, registers)} over Modbus TCP (nothing below the base
    address: a read there is refused, as on a real device); yields the port. `writable`: a
    client may change the registers (a test moving a reading)."""
    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice

    port, loop, ready, failed = free_port(), asyncio.new_event_loop(), threading.Event(), []
    devices = [SimDevice(id=unit, simdata=[SimData(base, values=registers, datatype=DataType.REGISTERS, readonly=not writable)])
               for unit, (base, registers) in units.items()]
    servers = []

    async def run():
        try:
            servers.append(ModbusTcpServer(devices, address=("127.0.0.1", port)))
            if not await servers[0].listen():
                raise OSError(f"cannot listen on 127.0.0.1:{port}")
        except Exception as exc:  # noqa: BLE001 - reported to the test
            failed.append(exc)
            return
        finally:
            ready.set()
        await servers[0].serving

    thread = threading.Thread(target=lambda: loop.run_until_complete(run()), daemon=True)
    thread.start()
    ready.wait(10)
    if failed:
        raise failed[0]
    try:
        yield port
    finally:
        asyncio.run_coroutine_threadsafe(servers[0].shutdown(), loop).result(10)
        thread.join(10)
        loop.close()
