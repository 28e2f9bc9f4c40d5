"""Meters and the persisted meter register. NVML needs an NVIDIA GPU and RAPL a readable
powercap tree, which CI lacks: the real drivers run here against what the machine has
(and report it unavailable), and their counter logic runs against a stand-in NVML library
and a powercap tree laid out as the kernel does."""

import math
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from degen.errors import InvalidInput
from degen.receipts import energy_bound
from worker.meter import (
    MJ_PER_MWH, Measurement, MeterUnavailable, NvmlMeter, PowerModelMeter, RaplMeter, detect_meter,
    measure, split_energy, window_end,
)
from worker.register import MeterRegister


class StandInNvml(SimpleNamespace):
    """The four NVML calls NvmlMeter makes, over a counter the test moves."""

    class NVMLError(Exception):
        pass

    def __init__(self, counter_mj=0, fail=False):
        super().__init__(counter_mj=counter_mj, fail=fail)

    def nvmlInit(self):
        if self.fail:
            raise self.NVMLError("Not Supported")

    def nvmlDeviceGetHandleByIndex(self, index):
        return ("gpu", index)

    def nvmlDeviceGetName(self, handle):
        return b"Stand-in GPU"

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        return self.counter_mj


def test_nvml_driver_on_this_machine_reports_what_it_finds():
    try:
        meter = NvmlMeter()
    except MeterUnavailable as exc:
        assert "NVML" in str(exc)
    else:  # a GPU host
        first = meter.energy_mj()
        assert meter.energy_mj() >= first >= 0


def test_nvml_counter_logic():
    nvml = StandInNvml(counter_mj=5_000)
    meter = NvmlMeter(0, nvml=nvml)
    assert meter.name == "nvml:0:Stand-in GPU" and not meter.estimated
    with measure(meter) as used:
        nvml.counter_mj += 7_200_000
    assert used.energy_mj == 7_200_000 and used.energy_mwh == 2_000 and not used.estimated
    with pytest.raises(MeterUnavailable, match="Not Supported"):
        NvmlMeter(0, nvml=StandInNvml(fail=True))


def _powercap(root: Path, packages: dict[int, tuple[int, int]]) -> Path:
    for index, (energy, max_range) in packages.items():
        domain = root / f"intel-rapl:{index}"
        domain.mkdir(parents=True)
        (domain / "energy_uj").write_text(f"{energy}\n")
        (domain / "max_energy_range_uj").write_text(f"{max_range}\n")
        (root / f"intel-rapl:{index}:0").mkdir()  # a sub-domain (core), not summed
    return root


def test_rapl_sums_packages_and_survives_wraparound(tmp_path):
    root = _powercap(tmp_path, {0: (1_000, 10_000_000), 1: (9_999_000, 10_000_000)})
    meter = RaplMeter(root)
    assert meter.name == "rapl:2 package(s)"
    (root / "intel-rapl:0" / "energy_uj").write_text("3_001_000".replace("_", ""))
    (root / "intel-rapl:1" / "energy_uj").write_text("999000")  # wrapped past 10,000,000
    assert meter.energy_mj() == (3_000_000 + 1_000_001) // 1000


def test_rapl_unavailable(tmp_path):
    with pytest.raises(MeterUnavailable, match="no RAPL"):
        RaplMeter(tmp_path)
    domain = _powercap(tmp_path / "locked", {0: (1, 10)}) / "intel-rapl:0" / "energy_uj"
    domain.unlink()
    with pytest.raises(MeterUnavailable, match="not readable"):
        RaplMeter(tmp_path / "locked")


def test_power_model_is_a_declared_estimate():
    now = [100.0]
    meter = PowerModelMeter(300, clock=lambda: now[0])
    assert meter.estimated and "estimate" in meter.name
    now[0] += 12
    assert meter.energy_mj() == 3_600_000  # 300 W × 12 s = 3,600 J
    with pytest.raises(ValueError):
        PowerModelMeter(0)


def test_detect_falls_back_to_the_estimate_here(tmp_path):
    meter = detect_meter(250, rapl_root=tmp_path)
    if isinstance(meter, PowerModelMeter):
        assert meter.estimated
    else:  # a machine with NVML
        assert isinstance(meter, NvmlMeter)


def test_measurement_rounds_energy_down():
    assert Measurement(energy_mj=2 * MJ_PER_MWH - 1).energy_mwh == 1


@given(total=st.integers(0, 10**9), work=st.lists(st.integers(1, 10**7), min_size=1, max_size=16))
def test_split_energy_is_exact_and_proportional(total, work):
    shares = split_energy(total, work)
    assert sum(shares) == total
    for share, w in zip(shares, work):
        assert abs(share - total * w / sum(work)) < 1


def test_split_energy_refuses_empty_work():
    with pytest.raises(ValueError):
        split_energy(10, [])
    with pytest.raises(ValueError):
        split_energy(10, [3, 0])


def test_register_persists_and_is_idempotent_per_job(tmp_path):
    path = tmp_path / "state" / "worker.sqlite"
    register = MeterRegister(path, site_id=1)
    first = register.read("31337:0xabc:1", 1_500)
    assert (first.meter_start, first.meter_end, first.energy_mwh) == (0, 1_500, 1_500)
    assert register.read("31337:0xabc:1", 9_999) == first  # the same job gets the same reading
    register.close()

    reopened = MeterRegister(path, site_id=1)  # a restart
    assert reopened.value == 1_500
    second = reopened.read("31337:0xabc:2", 700)
    assert (second.meter_start, second.meter_end) == (1_500, 2_200)
    assert reopened.catch_up(1_000) == 2_200  # never backwards
    assert reopened.catch_up(5_000) == 5_000  # but catches up with the chain
    assert reopened.read("31337:0xabc:3", 1).meter_start == 5_000
    with pytest.raises(InvalidInput):
        reopened.read("31337:0xabc:4", -1)
    assert MeterRegister(path, site_id=2).value == 0  # sites are independent


def test_a_receipt_ends_in_the_second_the_work_ended_in_when_the_energy_fits():
    # began in second 100, ended at 101.4: the window names seconds 100..101, deliverable at once
    assert window_end(100, 101.4, energy_mwh=100, max_gpu_watts=450) == 101
    # within one second: an empty window takes no energy, so the next second
    assert window_end(100, 100.6, energy_mwh=100, max_gpu_watts=450) == 101
    # 150 mWh is more than 450 W for one second (125 mWh): the next second, which holds it
    assert energy_bound(450, 1) == 125
    assert window_end(100, 101.4, energy_mwh=150, max_gpu_watts=450) == 102


@given(started=st.integers(0, 10**9), took=st.floats(0, 10_000), energy=st.integers(0, 10**7), watts=st.integers(1, 10_000))
def test_a_receipt_window_names_the_seconds_of_the_work(started, took, energy, watts):
    ended = started + took
    end = window_end(started, ended, energy, watts)
    assert started < end and math.floor(ended) <= end <= max(math.ceil(ended), started + 1)
    if end < ended:  # it ends in the second the work ended in only where the energy fits that window
        assert energy <= energy_bound(watts, end - started)
