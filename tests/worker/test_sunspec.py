"""SunSpec held to the SunSpec Alliance's own library (pysunspec2): our model tables and point
codec against its definitions; its client scanning our simulator in every kind of scenario;
our reader on devices that are not ours (register images built from its definitions, served
over real Modbus TCP); and what the reader refuses or reports as missing."""

from __future__ import annotations

import math
import struct
import subprocess
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
from worker.sunspec.models import COMMON_ID, INVERTERS, METERS, STORAGE, model
from worker.sunspec.points import TYPES, Point
from worker.sunspec.reader import SunSpecError

MODELS = [COMMON_ID, *INVERTERS, *STORAGE, *METERS]


# ---- our models, codec and roles against SunSpec's definitions ------------------------------

@pytest.mark.parametrize("model_id", MODELS)
def test_each_model_has_sunspecs_points_where_its_client_puts_them(model_id):
    """Our models come from pysunspec2's definitions; its own decoder agrees on every offset."""
    ours = model(model_id)
    theirs = sunspec_device.Model(model_id=model_id)
    assert ours.name == theirs.gname and not sunspec_device.get_model_def(model_id)["group"].get("groups")
    assert ours.length + 2 == theirs.len  # theirs counts ID and L
    assert [(p.name, p.offset, p.size) for p in ours.points.values()] == [
        (name, point.offset, point.len) for name, point in theirs.points.items()]


@pytest.mark.parametrize("model_id", [*INVERTERS, *STORAGE, *METERS])
def test_the_points_the_reader_takes_are_what_their_role_says(model_id):
    role = {**INVERTERS, **STORAGE, **METERS}[model_id]
    points = model(model_id).points
    kinds = {"power": {"int16", "float32"}, "energy": {"acc32", "uint64", "float32"},
             "state_of_charge": {"uint16", "float32"}, "capacity": {"uint16", "float32"}, "state": {"enum16"}}
    for what, allowed in kinds.items():
        name = getattr(role, what)
        if name is not None:
            assert points[name].type in allowed, (model_id, what, name)
            assert points[name].sf is None or points[points[name].sf].type == "sunssf"
    symbols = {s["value"]: s["name"] for s in sunspec_device.get_model_def(model_id)["group"]["points"][
        [p.name for p in points.values()].index(role.state)]["symbols"]} if role.state else {}
    # (model 111's definition spells its states with a stray "GG" prefix: GGMPPT)
    assert {value: name.lower().removeprefix("gg").replace("_", " ") for value, name in symbols.items()} == role.states


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
            point.encode(1 << (16 * point.size))


def test_strings_round_trip_and_empty_is_missing():
    point = Point("Mn", "string", 0, 16)
    assert point.decode(point.encode("Fronius")) == "Fronius" and point.decode(point.encode(None)) is None
    with pytest.raises(ValueError, match="longer than 32 characters"):
        point.encode("x" * 33)


# ---- pysunspec2 scans our simulator -----------------------------------------------------------

# What the simulator implements; every other point must read "not implemented".
IMPLEMENTED = {
    1: {"ID", "L", "Mn", "Md", "Vr", "SN", "DA", "Pad"},
    101: {"ID", "L", "A", "AphA", "A_SF", "PhVphA", "V_SF", "W", "W_SF", "Hz", "Hz_SF", "WH", "WH_SF", "TmpCab", "Tmp_SF",
          "St", "Evt1", "Evt2"},
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
    w, amps, volts = (inverter.points[name].cvalue for name in ("W", "A", "PhVphA"))
    assert w >= 0 and volts == 230 and inverter.Hz.cvalue == 50 and models[1].Pad.value == 0x8000
    assert amps * volts == pytest.approx(w / 0.98, rel=0.01, abs=1)  # at a power factor of 98 %
    assert inverter.AphA.cvalue == amps  # one phase carries it all
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
    ({1: (40000, device_image((1, COMMON_POINTS), (124, STORAGE_124)))},
     r"no inverter model \(101, 102, 103, 111, 112, 113, 701\) on the device \(unit 1: \[1, 124\]\)"),
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


# ---- a site is what is connected to it ------------------------------------------------------------

SHAPES = {  # simulator options: the models pysunspec2 finds, and how many of each
    "PV only": (["--battery-wh", "0"], {1: 1, 101: 1}),
    "two inverters and a production meter": (["--inverters", "2", "--meter"], {1: 1, 101: 2, 124: 1, 201: 1}),
    "IEEE 1547-2018": (["--der-models"], {1: 1, 701: 1, 713: 1}),
    "IEEE 1547-2018, three inverters, PV only": (["--der-models", "--inverters", "3", "--battery-wh", "0"], {1: 1, 701: 3}),
}


def scan_all(port: int) -> dict:
    """pysunspec2's client on the device: {model id: [every instance, every point read]}."""
    client = SunSpecModbusClientDeviceTCP(slave_id=1, ipaddr="127.0.0.1", ipport=port, timeout=5)
    try:
        client.scan()
        return {model_id: models for model_id, models in client.models.items() if isinstance(model_id, int)}
    finally:
        client.close()


@pytest.mark.parametrize("shape", SHAPES)
def test_sunspecs_client_reads_every_shape_of_the_simulator_and_so_do_we(simulator, shape):
    options, expected = SHAPES[shape]
    port = simulator("--start-hour", "11", *options)
    models = scan_all(port)
    assert {model_id: len(instances) for model_id, instances in models.items()} == expected
    for instances in models.values():
        for instance in instances:
            assert instance.error_info == "", (instance.model_id, instance.error_info)
            assert all(p.value is not None for p in instance.points.values() if p.pdef.get("mandatory") == "M")
    inverters = [m for model_id in (101, 701) for m in models.get(model_id, [])]
    energy = "TotWhInj" if 701 in models else "WH"
    meter = models.get(201, [None])[0]
    ours = SiteAgent("127.0.0.1", port, meter_unit=1 if meter else None).read()
    assert ours.pv_watts == pytest.approx(sum(m.W.cvalue for m in inverters))
    assert ours.lifetime_wh == (meter.TotWhExp.cvalue if meter else sum(getattr(m, energy).cvalue for m in inverters))
    if meter:
        assert ours.inverters_wh == sum(m.WH.cvalue for m in inverters)
    storage = models.get(124) or models.get(713)
    assert ours.has_battery == bool(storage) and ours.missing == ()
    if storage:
        assert ours.battery_soc_pct == (storage[0].ChaState.cvalue if 124 in models else storage[0].SoC.cvalue)
    else:
        assert ours.battery_soc_pct is None and ours.battery_state == "no battery"


SMA_COMMON = {"Mn": "SMA", "Md": "STP 10.0-3AV-40", "SN": "3012345678"}
SOLAREDGE_COMMON = {"Mn": "SolarEdge", "Md": "SE10K", "SN": "7E123456"}
METER_203 = {  # a three-phase production meter: 10,850 W, 12,000,000 Wh exported (scale factor 1)
    "A": 157, "AphA": 52, "AphB": 52, "AphC": 53, "A_SF": -1, "PhV": 2302, "PhVphA": 2301, "PhVphB": 2302, "PhVphC": 2303,
    "PPV": 3987, "PhVphAB": 3986, "PhVphBC": 3987, "PhVphCA": 3988, "V_SF": -1, "Hz": 5000, "Hz_SF": -2, "W": 1085, "W_SF": 1,
    "TotWhExp": 1_200_000, "TotWhImp": 1234, "TotWh_SF": 1, "Evt": 0,
}
DER_MEASURE = {  # IEEE 1547-2018 model 701: 7,500 W, 5,000,000,000 Wh injected in a uint64 (scale factor 0)
    "ACType": 2, "St": 1, "InvSt": 3, "ConnSt": 1, "W": 7500, "W_SF": 0, "A": 109, "A_SF": -1, "LNV": 2300, "V_SF": -1,
    "Hz": 5000, "Hz_SF": -2, "TotWhInj": 5_000_000_000, "TotWhAbs": 12, "TotWh_SF": 0,
}
DER_STORAGE = {"WHRtg": 500, "WH_SF": 1, "SoC": 400, "Pct_SF": -1, "SoH": 980, "Sta": 0}  # 40 % of 5 kWh
DER_CAPACITY = {"WMaxRtg": 100, "W_SF": 2}  # 10 kW rated: a model in the chain the reader passes over


def read_site(units: dict, **agent) -> object:
    with serving(units) as port:
        return SiteAgent("127.0.0.1", port, **agent).read()


def test_a_pv_only_sma_like_inverter_on_unit_126_reads_with_no_battery():
    vendor = [model_id for model_id in (11, 12, 120, 121, 122, 123, 126, 127, 128, 131, 132)]
    image = device_image((1, SMA_COMMON), *((model_id, {}) for model_id in vendor[:2]), (103, THREE_PHASE),
                         *((model_id, {}) for model_id in vendor[2:]))
    state = read_site({126: (40000, image)}, unit_ids=(126,))
    assert (state.pv_watts, state.lifetime_wh) == (10_860, 12_345_678_900)
    assert (state.has_battery, state.battery_soc_pct, state.battery_state, state.missing) == (False, None, "no battery", ())


def test_a_solaredge_like_inverter_with_a_203_meter_in_its_chain():
    image = device_image((1, SOLAREDGE_COMMON), (103, THREE_PHASE), (1, {**SOLAREDGE_COMMON, "Md": "WND-3Y"}), (203, METER_203))
    units = {1: (40000, image)}
    assert read_site(units).lifetime_wh == 12_345_678_900  # no meter configured: the inverter's register
    metered = read_site(units, meter_unit=1)
    assert (metered.lifetime_wh, metered.inverters_wh, metered.pv_watts) == (12_000_000, 12_345_678_900, 10_860)
    assert not metered.has_battery


def test_two_inverters_in_one_chain_and_on_two_units_are_summed():
    other = {**THREE_PHASE, "W": 500, "W_SF": 1, "WH": 1_000_000, "WH_SF": 0, "St": 2}  # 5,000 W, 1,000,000 Wh, sleeping
    one_chain = read_site({1: (40000, device_image((1, COMMON_POINTS), (103, THREE_PHASE), (103, other), (124, STORAGE_124)))})
    assert (one_chain.pv_watts, one_chain.lifetime_wh) == (15_860, 12_346_678_900)
    assert one_chain.inverter_state == "mppt, sleeping"
    two_units = read_site({1: (40000, device_image((1, COMMON_POINTS), (103, THREE_PHASE))),
                           2: (40000, device_image((1, {**COMMON_POINTS, "SN": "31234568"}), (113, FLOAT_THREE_PHASE)))},
                          unit_ids=(1, 2))
    assert (two_units.pv_watts, two_units.lifetime_wh) == (10_860 + 4321.5, 12_345_678_900 + 987_654)


def test_a_device_answering_on_every_unit_id_is_counted_once():
    image = device_image((1, COMMON_POINTS), (103, THREE_PHASE))
    with serving({1: (40000, image), 2: (40000, image)}) as port:
        agent = SiteAgent("127.0.0.1", port, unit_ids=(1, 2))
        state = agent.read()
    assert (state.pv_watts, state.lifetime_wh) == (10_860, 12_345_678_900)
    assert agent.passed_over == ("unit id 2 answers with unit id 1's device: counted once",)


def test_ieee_2018_models_701_702_713():
    state = read_site({1: (40000, device_image((1, COMMON_POINTS), (701, DER_MEASURE), (702, DER_CAPACITY), (713, DER_STORAGE)))})
    assert (state.pv_watts, state.lifetime_wh, state.battery_soc_pct) == (7500, 5_000_000_000, 40.0)
    assert (state.inverter_state, state.has_battery, state.missing) == ("running", True, ())


def test_a_103_inverter_with_713_storage():
    state = read_site({1: (0, device_image((1, COMMON_POINTS), (103, THREE_PHASE), (713, DER_STORAGE)))})
    assert (state.pv_watts, state.battery_soc_pct, state.missing) == (10_860, 40.0, ())


def test_batteries_are_weighted_by_capacity_or_averaged_when_one_has_none():
    weighted = read_site({1: (40000, device_image((1, COMMON_POINTS), (103, THREE_PHASE), (802, BATTERY_802), (713, DER_STORAGE)))})
    assert weighted.battery_soc_pct == pytest.approx((73.4 * 10_240 + 40.0 * 5_000) / 15_240) and weighted.notes == ()
    averaged = read_site({1: (40000, device_image((1, COMMON_POINTS), (103, THREE_PHASE), (124, STORAGE_124), (802, BATTERY_802)))})
    assert averaged.battery_soc_pct == pytest.approx((81.25 + 73.4) / 2)
    assert averaged.notes == ("state of charge is the mean of 2 batteries: no capacity reported by model 124 on unit id 1 at 40122",)


def test_a_production_meter_disagreeing_with_the_inverter_is_flagged():
    image = device_image((1, COMMON_POINTS), (103, THREE_PHASE), (203, METER_203))
    inverter_wh, meter_wh = 40000 + 2 + 68 + 24, 40000 + 2 + 68 + 52 + 2 + 36  # WH of 103, TotWhExp of 203
    with serving({1: (40000, image)}, writable=True) as port:
        agent = SiteAgent("127.0.0.1", port, meter_unit=1, meter_tolerance_pct=2.0)
        first = agent.read()
        assert agent.meter_check.last["agree"] and first.lifetime_wh == 12_000_000
        writer = ModbusTcpClient("127.0.0.1", port=port)
        writer.connect()
        writer.write_registers(inverter_wh, list(divmod(123_456_789 + 100, 0x10000)), device_id=1)  # +10,000 Wh (sf 2)
        writer.write_registers(meter_wh, list(divmod(1_200_000 + 500, 0x10000)), device_id=1)  # +5,000 Wh (sf 1)
        writer.close()
        later = agent.read()
    assert later.lifetime_wh == 12_005_000 and later.inverters_wh == 12_345_688_900  # the samples carry the meter's
    assert agent.meter_check.last == {"meter_wh": 5_000, "inverters_wh": 10_000, "difference_pct": 50.0,
                                      "tolerance_pct": 2.0, "agree": False}


def test_a_unit_with_several_meters_needs_the_production_meters_address():
    image = device_image((1, SOLAREDGE_COMMON), (103, THREE_PHASE), (203, METER_203), (203, {**METER_203, "TotWhExp": 7}))
    with pytest.raises(SunSpecError, match=r"unit id 1 holds 2 meters \(model 203 on unit id 1 at 40122, model 203 on unit id 1 "
                                           r"at 40229\): name the production meter's address"):
        read_site({1: (40000, image)}, meter_unit=1)
    assert read_site({1: (40000, image)}, meter_unit=1, meter_address=40229).lifetime_wh == 70
    with pytest.raises(SunSpecError, match=r"no meter model \(201, 202, 203, 204, 211, 212, 213, 214\) on unit id 2"):
        read_site({1: (40000, image)}, meter_unit=2)


def test_a_chain_that_breaks_part_way_names_where_not_a_missing_marker():
    image = device_image((1, COMMON_POINTS), (103, THREE_PHASE))[:-2]  # the map stops after 103: no end model
    with pytest.raises(SunSpecError, match=r"unit id 1: the SunSpec model chain from base 40000 breaks at register 40122 "
                                           r"\(after model 103 on unit id 1 at 40070\): .*refused registers 40122\.\.40122"):
        read_site({1: (40000, image)})


# ---- degen site scan: what a DER owner sees first ---------------------------------------------------

def scan_cli(port: int, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(degen("site", "scan", f"127.0.0.1:{port}", *options), capture_output=True, text=True, timeout=120)


def test_scan_shows_an_sma_like_pv_only_inverter_on_unit_126():
    image = device_image((1, SMA_COMMON), (11, {}), (12, {}), (103, THREE_PHASE), (120, {}), (160, {}))
    with serving({126: (40000, image)}) as port:
        shown = scan_cli(port, "--unit-ids", "1,126")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout
    assert "unit id 126:\n  model 1 common at 40002 (66 registers): SMA STP 10.0-3AV-40, serial 3012345678\n" in lines
    assert "model 103 inverter_three_phase at 40185 (50 registers): inverter, 10,860 W, 12,345,678,900 Wh, mppt" in lines
    assert "model 160 mppt at" in lines and "not read by the worker" in lines
    assert "unit id 1 does not answer" in lines or "no SunSpec marker at 40000, 50000, 0 on unit id 1" in lines
    assert "  state of charge  no battery: a PV-only site, whose samples say so" in lines
    assert lines.rstrip().endswith('modbus_host = "127.0.0.1"\nmodbus_port = ' + str(port) + "\nmodbus_unit_ids = [126]")


def test_scan_offers_a_solaredge_like_meter_and_reads_ieee_2018_models_on_two_units():
    solaredge = device_image((1, SOLAREDGE_COMMON), (103, THREE_PHASE), (1, {**SOLAREDGE_COMMON, "Md": "WND-3Y"}), (203, METER_203))
    der = device_image((1, {**COMMON_POINTS, "SN": "2018"}), (701, DER_MEASURE), (702, DER_CAPACITY), (713, DER_STORAGE))
    with serving({1: (40000, solaredge), 2: (0, der)}) as port:
        shown = scan_cli(port, "--unit-ids", "1-2")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout
    assert "model 203 ac_meter_abcn at 40190 (105 registers): meter, 10,850 W, 12,000,000 Wh" in lines
    assert "model 701 DERMeasureAC at 70 (153 registers): inverter, 7,500 W, 5,000,000,000 Wh, running" in lines
    assert "model 713 DERStorageCapacity at" in lines and "battery, 40.0 %, 5,000 Wh capacity" in lines
    assert "  PV power         18,360 W (2 inverters)" in lines and "  lifetime energy  17,345,678,900 Wh" in lines
    assert "  state of charge  40.0 % (1 battery)" in lines and "modbus_unit_ids = [1, 2]" in lines
    assert "# production_meter_unit_id = 1   # model 203 on unit id 1 at 40190" in lines


def test_scan_says_why_nothing_was_found():
    with serving({1: (40000, [0x1234] * 10)}) as port:
        refused = scan_cli(port, "--unit-ids", "1")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "no SunSpec marker at 40000, 50000, 0 on unit id 1. Is Modbus TCP enabled on the device" in refused.stderr
    inverterless = device_image((1, COMMON_POINTS), (124, STORAGE_124))
    with serving({1: (40000, inverterless)}) as port:
        shown = scan_cli(port, "--unit-ids", "1")
    assert shown.returncode == 0 and "The worker cannot use this device: no inverter model" in shown.stdout
    bad = scan_cli(1, "--unit-ids", "0-3")
    assert bad.returncode == 2 and "Modbus unit ids run from 1 to 247" in bad.stderr


@pytest.mark.parametrize("units, agent", [
    ({1: (40000, device_image((1, COMMON_POINTS), (103, THREE_PHASE), (103, {**THREE_PHASE, "W": 500, "WH": 1_000}), (124, STORAGE_124)))}, {}),
    ({1: (0, device_image((1, COMMON_POINTS), (103, THREE_PHASE), (713, DER_STORAGE)))}, {}),
    ({1: (40000, device_image((1, COMMON_POINTS), (103, THREE_PHASE), (802, BATTERY_802), (713, DER_STORAGE)))}, {}),
    ({1: (40000, device_image((1, COMMON_POINTS), (103, THREE_PHASE), (203, METER_203), (124, STORAGE_124)))}, {"meter_unit": 1}),
], ids=["two inverters in a chain", "103 and 713", "two batteries weighted", "a production meter"])
def test_scan_shows_what_the_worker_reads(units, agent):
    with serving(units) as port:
        state = SiteAgent("127.0.0.1", port, **agent).read()
        shown = scan_cli(port, "--unit-ids", "1")
    assert shown.returncode == 0, shown.stderr
    assert f"  PV power         {state.pv_watts:,.0f} W" in shown.stdout
    assert f"  lifetime energy  {state.inverters_wh or state.lifetime_wh:,} Wh" in shown.stdout  # scan shows the inverters'
    assert f"  state of charge  {state.battery_soc_pct:,.1f} %" in shown.stdout
