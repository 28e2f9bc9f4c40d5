"""The site agent reading a simulated PV + battery site over a real Modbus TCP connection,
the simulator's physics, and the energy policy fed from the device (tests/worker/
test_sunspec.py holds the reader and the simulator to SunSpec's own definitions)."""

import time
from contextlib import ExitStack

import pytest

from degen.processes import degen, free_port, running
from worker.policy import Policy, energy_allows
from worker.site_agent import SiteAgent
from worker.site_sim import SiteSimulator, solar_watts
from worker.sunspec.reader import SunSpecError

POLICY = Policy(battery_reserve_pct=30, gpu_watts=450)


@pytest.fixture
def simulated_site():
    """Starts `degen site simulate` in its own process on a free port; returns an agent on it."""
    with ExitStack() as cleanup:

        def agent_for(*options: str) -> SiteAgent:
            port = free_port()
            cleanup.enter_context(running(degen("site", "simulate", "--port", str(port), *options), ready="SunSpec site simulator on"))
            agent = SiteAgent("127.0.0.1", port)
            cleanup.callback(agent.close)
            return agent

        yield agent_for


def test_reads_a_sunny_noon_and_the_policy_accepts_green(simulated_site):
    agent = simulated_site("--start-hour", "12", "--soc", "20", "--speed", "0")
    state = agent.read()
    assert state.pv_watts == 6_000 and state.battery_soc_pct == 20.0
    assert state.lifetime_wh == 1_000_000 and state.inverter_state == "mppt"
    assert energy_allows(POLICY, state).reason == "PV 6000 W covers the GPU's 450 W"


def test_the_policy_refuses_green_jobs_at_night_on_a_low_battery(simulated_site):
    agent = simulated_site("--start-hour", "22", "--soc", "25", "--speed", "0")
    state = agent.read()
    assert state.pv_watts == 0 and state.battery_soc_pct == 25.0 and state.inverter_state == "sleeping"
    decision = energy_allows(POLICY, state)
    assert not decision.accept and "battery at 25% is at or below the 30% reserve" in decision.reason


def test_night_on_a_full_battery_is_green_enough(simulated_site):
    agent = simulated_site("--start-hour", "2", "--soc", "90", "--speed", "0")
    assert energy_allows(POLICY, agent.read()).accept


def test_the_device_moves_with_simulated_time(simulated_site):
    agent = simulated_site("--start-hour", "11", "--soc", "40", "--speed", "3600")
    first = agent.read()
    time.sleep(0.5)
    later = agent.read()
    assert later.battery_soc_pct > first.battery_soc_pct and later.lifetime_wh > first.lifetime_wh


def test_an_unreachable_site_is_a_clear_error():
    agent = SiteAgent("127.0.0.1", free_port(), timeout_s=0.5)
    with pytest.raises(SunSpecError, match="cannot connect to the site at 127.0.0.1"):
        agent.read()


def test_the_simulator_battery_follows_pv_minus_load():
    now = [0.0]
    site = SiteSimulator(pv_peak_watts=6_000, battery_wh=10_000, battery_watts=5_000, load_watts=1_000,
                         soc_pct=50, start_hour=12, speed=1, clock=lambda: now[0])
    now[0] = 360  # six minutes at ~6 kW PV, 1 kW load: ~+500 Wh, i.e. +5%
    state = site.advance()
    assert state.battery_soc_pct == pytest.approx(55.0, abs=0.05)
    assert state.lifetime_wh == pytest.approx(1_000_000 + 600, abs=1)
    now[0] += 4 * 3600  # the early afternoon fills it, never past 100%
    assert site.advance().battery_soc_pct == 100.0
    now[0] += 14 * 3600  # the night drains it to the floor, never below
    assert site.advance().battery_soc_pct == site.battery_floor_pct


def test_solar_curve():
    assert solar_watts(5_000, 12) == 5_000
    assert solar_watts(5_000, 3) == solar_watts(5_000, 6) == solar_watts(5_000, 18) == 0
    assert solar_watts(5_000, 9) == pytest.approx(solar_watts(5_000, 15)) == pytest.approx(5_000 / 2**0.5)
    with pytest.raises(ValueError):
        SiteSimulator(soc_pct=101)
