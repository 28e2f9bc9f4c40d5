"""SunSpec held to the SunSpec Alliance's own library (pysunspec2): our model tables and point
codec against its definitions; its client scanning our simulator in every kind of scenario;
our reader on devices that are not ours (register images built from its definitions, served
over real Modbus TCP); and what the reader refuses or reports as missing."""

from __future__ import annotations

import math
import struct
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymodbus.client import ModbusTcpClient
from sunspec2 import device as sunspec_device
from sunspec2 import mb
from sunspec2.modbus.client import SunSpecModbusClientDeviceTCP

from degen.processes import degen, free_port, running
from tests.worker.sunspec_devices import device_image, model_image, serving
from worker.site_agent import SiteAgent
from worker.sunspec.models import BATTERY, COMMON, INVERTERS, STORAGE
from worker.sunspec.points import TYPES, Point
from worker.sunspec.reader import SunSpecError

MODELS = [COMMON, *INVERTERS.values(), STORAGE, BATTERY]


# ---- our tables and codec against SunSpec's definitions ----------------------------------------

@pytest.mark.parametrize("model", MODELS, ids=lambda model: str(model.id))
def test_our_model_tables_are_sunspecs(model):
    definition = sunspec_device.get_model_def(model.id)["group"]
    assert definition["name"] == model.name and not definition.get("groups")  # no repeating groups in these
    expected, offset = [], 0
    for point in definition["points"]:
        size = int(point.get("size") or mb.point_type_info[point["type"]].len)
        expected.append((point["name"], point["type"], offset, size, point.get("sf"), point.get("access") == "RW",
                         point.get("mandatory") == "M"))
        offset += size
    assert [(p.name, p.type, p.offset, p.size, p.sf, p.writable, p.mandatory) for p in model.points.values()] == expected
    assert model.length == offset - 2


NUMERIC = sorted(set(TYPES) - {"string"})


@st.composite
def typed_values(draw):
    kind = draw(st.sampled_from(NUMERIC))
    size, unimplemented = TYPES[kind]
    if kind == "float32":
        value = draw(st.floats(width=32, allow_nan=False))
    else:
        bits = 16 * size
        signed = kind in ("int16", "sunssf", "int32")
        low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        value = draw(st.integers(low, high).filter(lambda v: unimplemented is None or v % (1 << bits) != unimplemented))
    return Point("P", kind, 0, size), value


@given(typed_values())
def test_points_encode_and_decode_as_sunspec_does(typed):
    point, value = typed
    ours = point.encode(value)
    theirs = mb.point_type_info[point.type].to_data(value, 2 * point.size)
    assert b"".join(word.to_bytes(2, "big") for word in ours) == theirs
    decoded = point.decode(ours)
    assert decoded == (struct.unpack(">f", struct.pack(">f", value))[0] if point.type == "float32" else value)


@pytest.mark.parametrize("kind", NUMERIC)
def test_a_point_that_is_not_implemented_decodes_to_none_never_zero(kind):
    point = Point("P", kind, 0, TYPES[kind][0])
    registers = point.encode(None)
    assert bytes(b"".join(w.to_bytes(2, "big") for w in registers)) == mb.create_unimpl_value(kind, 2 * point.size)
    if TYPES[kind][1] is None:  # accumulators and pads: SunSpec's "not implemented" is 0, which we read as 0
        assert point.decode(registers) == 0
    else:
        assert point.decode(registers) is None
    if kind == "float32":
        assert point.decode(point.encode(math.nan)) is None  # any NaN
    else:
        with pytest.raises(ValueError, match="does not fit"):
            point.encode(1 << 32)


def test_strings_round_trip_and_empty_is_missing():
    point = Point("Mn", "string", 0, 16)
    assert point.decode(point.encode("Fronius")) == "Fronius" and point.decode(point.encode(None)) is None
    with pytest.raises(ValueError, match="longer than 32 characters"):
        point.encode("x" * 33)


# ---- pysunspec2 scans our simulator -----------------------------------------------------------

# What the simulator implements; every other point must read "not implemented".
IMPLEMENTED = {
    1: {"ID", "L", "Mn", "Md", "Vr", "SN", "DA", "Pad"},
    101: {"ID", "L", "A", "AphA", "A_SF", "PhVphA", "V_SF", "W", "W_SF", "Hz", "Hz_SF", "VA", "VA_SF", "PF", "PF_SF",
          "WH", "WH_SF", "TmpCab", "Tmp_SF", "St", "Evt1", "Evt2"},
    124: {"ID", "L", "WChaMax", "WChaGra", "WDisChaGra", "StorCtl_Mod", "MinRsvPct", "ChaState", "ChaSt", "ChaGriSet",
          "WChaMax_SF", "WChaDisChaGra_SF", "MinRsvPct_SF", "ChaState_SF"},
}
SCENARIOS = {  # name: (simulator options, the battery's ChaSt, the inverter's St)
    "noon": (["--start-hour", "12", "--soc", "50"], "CHARGING", "MPPT"),
    "noon, full battery": (["--start-hour", "12", "--soc", "100"], "FULL", "MPPT"),
    "night": (["--start-hour", "22", "--soc", "60"], "DISCHARGING", "SLEEPING"),
    "night, low state of charge": (["--start-hour", "2", "--soc", "5"], "EMPTY", "SLEEPING"),
    "night, no load": (["--start-hour", "23", "--soc", "40", "--load-watts", "0"], "HOLDING", "SLEEPING"),
    "40 kW PV": (["--pv-peak-watts", "40000", "--start-hour", "12"], "CHARGING", "MPPT"),
    "300 kW charging station": (["--pv-peak-watts", "300000", "--battery-watts", "65534", "--start-hour", "13"], "CHARGING", "MPPT"),
    "100 MW": (["--pv-peak-watts", "100000000", "--start-hour", "12"], "CHARGING", "MPPT"),
    "300 W PV under a 400 W load": (["--pv-peak-watts", "300", "--start-hour", "12"], "DISCHARGING", "MPPT"),
}


@pytest.fixture
def simulator():
    """Starts `degen site simulate` with options (clock frozen unless told); yields its port."""
    started = []

    def start(*options: str) -> int:
        port = free_port()
        clock = () if "--speed" in options else ("--speed", "0")
        started.append(running(degen("site", "simulate", "--port", str(port), *clock, *options), ready="SunSpec site simulator on"))
        started[-1].__enter__()
        return port

    yield start
    for process in started:
        process.__exit__(None, None, None)


def scan(port: int) -> dict:
    """pysunspec2's client on the device: {model id: the model, every point read}."""
    client = SunSpecModbusClientDeviceTCP(slave_id=1, ipaddr="127.0.0.1", ipport=port, timeout=5)
    try:
        client.scan()
        return {model_id: models[0] for model_id, models in client.models.items() if isinstance(model_id, int)}
    finally:
        client.close()


def symbol(model, name: str) -> str:
    point = model.points[name]
    return next(s["name"] for s in point.pdef["symbols"] if s["value"] == point.value)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_sunspecs_client_reads_the_simulator_without_an_error(simulator, scenario):
    options, charge_state, inverter_state = SCENARIOS[scenario]
    port = simulator(*options)
    models = scan(port)
    assert sorted(models) == [1, 101, 124]
    for model_id, model in models.items():
        assert model.error_info == "", (model_id, model.error_info)
        implemented = {name for name, point in model.points.items() if point.value is not None}
        assert implemented == IMPLEMENTED[model_id], model_id
        for name, point in model.points.items():
            if point.pdef.get("mandatory") == "M":
                assert point.value is not None, (model_id, name)
            if point.value is not None and point.pdef.get("symbols") and point.pdef["type"].startswith("enum"):
                assert point.value in {s["value"] for s in point.pdef["symbols"]}, (model_id, name, point.value)
    inverter, storage = models[101], models[124]
    w, va, amps, volts = (inverter.points[name].cvalue for name in ("W", "VA", "A", "PhVphA"))
    assert va >= w >= 0 and volts == 230 and inverter.Hz.cvalue == 50
    assert amps * volts == pytest.approx(va, rel=0.01, abs=1)
    assert inverter.AphA.cvalue == amps and inverter.PF.cvalue == 98  # one phase carries it all, at 98 %
    assert symbol(storage, "ChaSt") == charge_state and symbol(inverter, "St") == inverter_state

    ours = SiteAgent("127.0.0.1", port).read()  # our reader sees what SunSpec's does
    assert (ours.pv_watts, ours.lifetime_wh, ours.battery_soc_pct) == (w, inverter.WH.cvalue, storage.ChaState.cvalue)
    assert ours.battery_state == charge_state.lower() and ours.missing == ()


def test_a_new_installation_reads_zero_watt_hours_where_sunspec_cannot_tell(simulator):
    """SunSpec's "not implemented" for an accumulator is 0, so its client cannot tell a new
    inverter's 0 Wh from a missing register; we read 0 Wh (before: the site was refused)."""
    port = simulator("--lifetime-wh", "0", "--start-hour", "3")
    inverter = scan(port)[101]
    assert inverter.error_info == "" and inverter.WH.value is None and inverter.WH_SF.value == 0
    state = SiteAgent("127.0.0.1", port).read()
    assert state.lifetime_wh == 0 and state.missing == ()


def test_a_fast_clock_moves_every_point_consistently(simulator):
    port = simulator("--start-hour", "11", "--soc", "40", "--speed", "3600")
    first = scan(port)
    time.sleep(1.0)
    later = scan(port)
    assert later[101].WH.cvalue > first[101].WH.cvalue and later[124].ChaState.cvalue > first[124].ChaState.cvalue
    assert all(model.error_info == "" for model in (*first.values(), *later.values()))


def test_read_only_registers_refuse_writes_and_settings_stick(simulator):
    port = simulator("--start-hour", "12")
    client = ModbusTcpClient("127.0.0.1", port=port)
    client.connect()
    try:
        common, inverter, storage = 40000 + 2, 40000 + 2 + 68, 40000 + 2 + 68 + 52  # each model's ID register
        for address in (common + 2, inverter + 14, storage + 8):  # Mn, W, ChaState
            before = client.read_holding_registers(address, count=1, device_id=1).registers
            refused = client.write_register(address, 1234, device_id=1)
            assert refused.isError() and refused.exception_code == 2, address  # ILLEGAL DATA ADDRESS
            assert client.read_holding_registers(address, count=1, device_id=1).registers == before
        assert not client.write_register(storage + 2, 3_000, device_id=1).isError()  # WChaMax
        assert client.read_holding_registers(storage + 2, count=1, device_id=1).registers == [3_000]
        out_of_range = client.write_register(storage + 7, 2_000, device_id=1)  # MinRsvPct 200.0 %
        assert out_of_range.isError() and out_of_range.exception_code == 3  # ILLEGAL DATA VALUE
        assert client.read_holding_registers(storage + 7, count=1, device_id=1).registers == [50]  # still 5.0 %
    finally:
        client.close()


def test_a_pv_peak_beyond_what_the_simulator_serves_is_refused_by_the_cli():
    import subprocess

    refused = subprocess.run(degen("site", "simulate", "--pv-peak-watts", "200000000"), capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "200000000" in refused.stderr and "Traceback" not in refused.stderr


# ---- our reader on devices that are not ours ------------------------------------------------------

COMMON_POINTS = {"Mn": "Fronius", "Md": "Symo 10.0-3-M", "SN": "31234567"}
THREE_PHASE = {  # 10,860 W, 12,345,678.9 kWh: scale factors -1, 1 and 2
    "A": 1575, "AphA": 525, "AphB": 525, "AphC": 525, "A_SF": -1, "PhVphA": 2302, "PhVphB": 2297, "PhVphC": 2310, "V_SF": -1,
    "W": 1086, "W_SF": 1, "Hz": 4998, "Hz_SF": -2, "VA": 1100, "VA_SF": 1, "WH": 123_456_789, "WH_SF": 2,
    "TmpCab": 412, "Tmp_SF": -1, "St": 4, "Evt1": 0, "Evt2": 0,
}
BATTERY_802 = {  # 73.4 % of a 10.24 kWh lithium battery, discharging
    "AHRtg": 200, "AHRtg_SF": 0, "WHRtg": 1024, "WHRtg_SF": 1, "WChaRteMax": 500, "WDisChaRteMax": 500, "WChaDisChaMax_SF": 1,
    "SoC": 734, "SoC_SF": -1, "ChaSt": 3, "LocRemCtl": 0, "AlmRst": 0, "Typ": 4, "State": 3, "Evt1": 0, "Evt2": 0,
    "EvtVnd1": 0, "EvtVnd2": 0, "V": 4010, "V_SF": -1, "CellV_SF": -3, "A": -52, "A_SF": -1, "AMax_SF": 0, "W": -2100,
    "W_SF": 0, "SetOp": 1, "SetInvState": 3,
}
FLOAT_THREE_PHASE = {"A": 6.25, "AphA": 2.1, "AphB": 2.1, "AphC": 2.05, "PhVphA": 230.5, "PhVphB": 229.9, "PhVphC": 231.0,
                     "W": 4321.5, "Hz": 50.01, "WH": 987_654.0, "TmpCab": 38.5, "St": 5, "Evt1": 0, "Evt2": 0}
STORAGE_124 = {"WChaMax": 5000, "WChaMax_SF": 0, "WChaGra": 100, "WDisChaGra": 100, "WChaDisChaGra_SF": 0, "StorCtl_Mod": 0,
               "ChaState": 8125, "ChaState_SF": -2, "ChaSt": 4}


def test_a_three_phase_inverter_and_an_802_battery_on_two_unit_ids():
    inverter = device_image((1, COMMON_POINTS), (103, THREE_PHASE))
    battery = device_image((1, {**COMMON_POINTS, "Mn": "BYD"}), (802, BATTERY_802))
    with serving({1: (50000, inverter), 2: (0, battery)}) as port:
        state = SiteAgent("127.0.0.1", port, unit_ids=(1, 2)).read()
    assert (state.pv_watts, state.lifetime_wh, state.battery_soc_pct) == (10_860, 12_345_678_900, 73.4)
    assert (state.inverter_state, state.battery_state, state.missing) == ("mppt", "discharging", ())


def test_a_float_inverter_with_basic_storage_at_base_zero_behind_an_absent_unit():
    image = device_image((1, COMMON_POINTS), (113, FLOAT_THREE_PHASE), (124, STORAGE_124))
    with serving({1: (0, image)}) as port:
        state = SiteAgent("127.0.0.1", port, unit_ids=(7, 1)).read()  # nothing answers on unit 7: passed over
    assert (state.pv_watts, state.lifetime_wh, state.battery_soc_pct) == (4321.5, 987_654, 81.25)
    assert (state.inverter_state, state.battery_state) == ("throttled", "charging")


@pytest.mark.parametrize("inverter, storage, missing", [
    ((103, {**THREE_PHASE, "W": None}), (124, STORAGE_124), ("AC power (W)",)),  # int16 0x8000
    ((103, {**THREE_PHASE, "W_SF": None}), (124, STORAGE_124), ("AC power (W)",)),  # its scale factor 0x8000
    ((103, {**THREE_PHASE, "WH_SF": None}), (124, STORAGE_124), ("lifetime energy (WH)",)),
    ((113, {**FLOAT_THREE_PHASE, "W": None, "WH": None}), (124, STORAGE_124), ("AC power (W)", "lifetime energy (WH)")),  # NaN
    ((103, THREE_PHASE), (124, {**STORAGE_124, "ChaState": None, "ChaSt": None}), ("state of charge",)),  # uint16 0xFFFF
    ((103, THREE_PHASE), (802, {**BATTERY_802, "SoC_SF": None}), ("state of charge",)),
])
def test_a_point_the_device_does_not_implement_is_missing_not_zero(inverter, storage, missing):
    with serving({1: (40000, device_image((1, COMMON_POINTS), inverter, storage))}) as port:
        state = SiteAgent("127.0.0.1", port).read()
    assert state.missing == missing
    assert (state.pv_watts is None, state.lifetime_wh is None, state.battery_soc_pct is None) == (
        "AC power (W)" in missing, "lifetime energy (WH)" in missing, "state of charge" in missing)


def test_a_new_installation_reads_zero_watt_hours():
    image = device_image((1, COMMON_POINTS), (103, {**THREE_PHASE, "WH": 0}), (124, STORAGE_124))
    with serving({1: (40000, image)}) as port:
        assert SiteAgent("127.0.0.1", port).read().lifetime_wh == 0


@pytest.mark.parametrize("units, refusal", [
    ({1: (40000, device_image((1, COMMON_POINTS), (103, THREE_PHASE)))}, r"no battery model \(124, 802\) on the device \(unit 1: \[1, 103\]\)"),
    ({1: (40000, device_image((1, COMMON_POINTS), (124, STORAGE_124)))}, r"no inverter model \(101, 102, 103, 111, 112, 113\)"),
    ({1: (40000, [0x1234] * 10)}, "no SunSpec marker at 40000, 50000, 0 on unit id 1"),
    ({1: (40000, [0x5375, 0x6E53, 103, 40, *model_image(103, THREE_PHASE)[2:42], 0xFFFF, 0])},
     "model 103 on unit id 1 holds 40 registers; SunSpec defines 50"),
])
def test_what_the_reader_cannot_use_is_refused_with_the_reason(units, refusal):
    with serving(units) as port:
        with pytest.raises(SunSpecError, match=refusal):
            SiteAgent("127.0.0.1", port).read()


def test_lifetime_energy_that_goes_back_is_refused():
    image = device_image((1, COMMON_POINTS), (103, THREE_PHASE), (124, STORAGE_124))
    with serving({1: (40000, image)}, writable=True) as port:
        agent = SiteAgent("127.0.0.1", port)
        assert agent.read().lifetime_wh == 12_345_678_900
        wh = 40000 + 2 + 68 + 24  # WH of model 103, after the common model
        writer = ModbusTcpClient("127.0.0.1", port=port)
        writer.connect()
        writer.write_registers(wh, [0, 1000], device_id=1)  # 100,000 Wh
        writer.close()
        with pytest.raises(SunSpecError, match="lifetime energy went back from 12,345,678,900 Wh to 100,000 Wh"):
            agent.read()
