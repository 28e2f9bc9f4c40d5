"""Energy meters for the GPU worker, behind one interface.

A `Meter` exposes a cumulative energy counter in millijoules; the worker reads it before
and after a generation. Three drivers, tried in this order by `detect_meter`:

- `NvmlMeter`: an NVIDIA GPU's total-energy counter (NVML, mJ since the driver loaded).
- `RaplMeter`: the CPU package counters under /sys/class/powercap (µJ, wrapping).
- `PowerModelMeter`: declared watts × elapsed time. An *estimate*, and says so: its
  readings carry `estimated=True`, which the worker records in receipts' metadata and logs.
"""

from __future__ import annotations

import logging
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from degen.errors import DegenError
from degen.receipts import energy_bound

log = logging.getLogger(__name__)

MJ_PER_MWH = 3_600  # 1 mWh = 3.6 J = 3,600 mJ


class MeterUnavailable(DegenError, RuntimeError):
    """The meter's hardware counter cannot be read on this machine."""


class Meter(ABC):
    """A cumulative energy counter."""

    #: True when the readings are modelled, not measured.
    estimated: bool = False

    @property
    @abstractmethod
    def name(self) -> str:
        """A short description for logs and receipts' metadata."""

    @abstractmethod
    def energy_mj(self) -> int:
        """Energy used since an arbitrary origin, in mJ; never decreases."""


class NvmlMeter(Meter):
    """An NVIDIA GPU's total-energy counter through NVML (`nvidia-ml-py`)."""

    def __init__(self, device_index: int = 0, nvml=None):
        if nvml is None:
            try:
                import pynvml as nvml
            except ImportError as exc:  # pragma: no cover - the package is a dependency
                raise MeterUnavailable("nvidia-ml-py is not installed") from exc
        self._nvml = nvml
        try:
            nvml.nvmlInit()
            self._handle = nvml.nvmlDeviceGetHandleByIndex(device_index)
            self._gpu = nvml.nvmlDeviceGetName(self._handle)
            nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle)
        except nvml.NVMLError as exc:
            raise MeterUnavailable(f"NVML cannot read GPU {device_index}'s energy counter: {exc}") from exc
        self._index = device_index

    @property
    def name(self) -> str:
        gpu = self._gpu.decode() if isinstance(self._gpu, bytes) else self._gpu
        return f"nvml:{self._index}:{gpu}"

    def energy_mj(self) -> int:
        return int(self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle))


class RaplMeter(Meter):
    """The sum of the CPU package domains' RAPL counters (`intel-rapl:N/energy_uj`).

    Each counter wraps at its `max_energy_range_uj`; readings must come more often than
    one wrap (minutes at full load), which a per-job measurement always does."""

    def __init__(self, root: Path = Path("/sys/class/powercap")):
        self._domains = sorted(p for p in root.glob("intel-rapl:*") if p.name.count(":") == 1)
        if not self._domains:
            raise MeterUnavailable(f"no RAPL package domains under {root}")
        try:
            self._ranges = [int((d / "max_energy_range_uj").read_text()) for d in self._domains]
            self._last = [self._read(d) for d in self._domains]
        except OSError as exc:
            raise MeterUnavailable(f"RAPL counters under {root} are not readable: {exc}") from exc
        self._total_uj = 0

    @staticmethod
    def _read(domain: Path) -> int:
        return int((domain / "energy_uj").read_text())

    @property
    def name(self) -> str:
        return f"rapl:{len(self._domains)} package(s)"

    def energy_mj(self) -> int:
        for i, domain in enumerate(self._domains):
            now = self._read(domain)
            delta = now - self._last[i]
            if delta < 0:  # the counter wrapped
                delta += self._ranges[i] + 1
            self._total_uj += delta
            self._last[i] = now
        return self._total_uj // 1000


class PowerModelMeter(Meter):
    """Declared average power × elapsed time: an estimate, marked as such."""

    estimated = True

    def __init__(self, watts: float, clock: Callable[[], float] = time.monotonic):
        if not 0 < watts <= 100_000:
            raise ValueError(f"the power model needs 0 < watts <= 100000, got {watts}")
        self._watts = watts
        self._clock = clock
        self._origin = clock()

    @property
    def name(self) -> str:
        return f"power-model:{self._watts:g}W (estimate)"

    def energy_mj(self) -> int:
        return int((self._clock() - self._origin) * self._watts * 1000)


def detect_meter(model_watts: float, gpu_index: int = 0, rapl_root: Path = Path("/sys/class/powercap")) -> Meter:
    """The most direct meter this machine offers, falling back to the power model."""
    for make in (lambda: NvmlMeter(gpu_index), lambda: RaplMeter(rapl_root)):
        try:
            meter = make()
        except MeterUnavailable as exc:
            log.info("meter unavailable: %s", exc)
            continue
        log.info("metering energy with %s", meter.name)
        return meter
    meter = PowerModelMeter(model_watts)
    log.warning("no hardware energy counter: receipts carry an ESTIMATE from %s", meter.name)
    return meter


@dataclass
class Measurement:
    """What one metered stretch of work used."""

    started_at: int = 0  # the whole second the work began in (block timestamps name seconds the same way)
    ended: float = 0.0  # when it ended, to the fraction of a second
    energy_mj: int = 0
    estimated: bool = False

    @property
    def energy_mwh(self) -> int:
        """Whole mWh, rounded down: a receipt never claims more than was measured."""
        return self.energy_mj // MJ_PER_MWH


@contextmanager
def measure(meter: Meter, wall_clock: Callable[[], float] = time.time):
    """Meters the body of the `with` block; the Measurement is filled in on exit."""
    result = Measurement(estimated=meter.estimated)
    start = meter.energy_mj()
    result.started_at = int(wall_clock())
    yield result
    result.energy_mj = meter.energy_mj() - start
    result.ended = max(wall_clock(), result.started_at)


def window_end(started_at: int, ended: float, energy_mwh: int, max_gpu_watts: int) -> int:
    """A receipt's `finished_at` for work that began in second `started_at` and ended at
    `ended`: the whole second it ended in, as a block's timestamp names the second it was made
    in, so the delivery can go out at once; the next second instead when that window is empty
    or too short for the energy at the site's registered GPU power (the market's bound), which
    the delivery then waits for."""
    last = math.floor(ended)
    if last > started_at and energy_mwh <= energy_bound(max_gpu_watts, last - started_at):
        return last
    return max(math.ceil(ended), started_at + 1)


def split_energy(total_mwh: int, work: Sequence[int]) -> list[int]:
    """Splits a batched call's energy across its jobs in proportion to their work (e.g.
    pixels × steps), in whole mWh that add up exactly to `total_mwh` (largest remainders
    get the leftover units)."""
    if not work or any(w <= 0 for w in work):
        raise ValueError("every job in a batch needs positive work")
    whole = sum(work)
    shares = [total_mwh * w // whole for w in work]
    remainders = sorted(range(len(work)), key=lambda i: (total_mwh * work[i]) % whole, reverse=True)
    for i in remainders[: total_mwh - sum(shares)]:
        shares[i] += 1
    return shares


def make_meter(kind: str, model_watts: float) -> Meter:
    """The meter a worker config names: auto, nvml, rapl or model (the declared estimate)."""
    makers = {
        "auto": lambda: detect_meter(model_watts),
        "nvml": NvmlMeter,
        "rapl": RaplMeter,
        "model": lambda: PowerModelMeter(model_watts),
    }
    if kind not in makers:
        raise ValueError(f"unknown meter {kind!r}; use one of {', '.join(makers)}")
    return makers[kind]()
