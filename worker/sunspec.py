"""The SunSpec register map the site agent reads and the simulator serves (one definition
for both sides).

A SunSpec device exposes holding registers from 40000: the marker "SunS", then a chain of
models, each `<id> <length> <length registers>`, ending with id 0xFFFF. We use the Common
model (1), an inverter model with integer + scale-factor encoding (101 single phase, 102 split
phase, 103 three phase share one layout) and Basic Storage Controls (124). Values are
`raw × 10^sf`; the spec's "not implemented" values (0x8000 for int16, 0xFFFF for uint16,
0 for acc32) mean the device does not report the point."""

from __future__ import annotations

from typing import Callable

from degen.errors import DegenError
from worker.policy import SiteState

BASE_ADDRESS = 40000
MARKER = (0x5375, 0x6E53)  # "SunS"
END_ID = 0xFFFF

COMMON_ID, COMMON_LENGTH = 1, 66
INVERTER_IDS = (101, 102, 103)
INVERTER_LENGTH = 50
STORAGE_ID, STORAGE_LENGTH = 124, 24

# Offsets inside a model's data (after its id and length registers).
INV_W, INV_W_SF = 12, 13          # AC power, int16 W
INV_WH, INV_WH_SF = 22, 24        # lifetime energy, acc32 Wh
INV_ST = 36                       # operating state, enum16
STOR_WCHAMAX, STOR_WCHAMAX_SF = 0, 16   # battery power rating, uint16 W
STOR_MINRSVPCT, STOR_MINRSVPCT_SF = 5, 19  # the battery's own discharge floor, uint16 %
STOR_CHASTATE, STOR_CHASTATE_SF = 6, 20    # state of charge, uint16 %
STOR_AVAL, STOR_AVAL_SF = 7, 21            # energy available, uint16 Ah (unused here)

INVERTER_STATES = {1: "off", 2: "sleeping", 3: "starting", 4: "mppt", 5: "throttled", 6: "shutting down", 7: "fault", 8: "standby"}
SOC_SF = -1  # the simulator reports state of charge in tenths of a percent

MAX_READ = 125  # registers one Modbus read may return


class SunSpecError(DegenError, ConnectionError):
    """The device is unreachable or does not speak SunSpec as expected."""


# ---- encoding (the simulator) -------------------------------------------------------------

def _int16(value: int) -> int:
    if not -0x8000 <= value <= 0x7FFF:
        raise ValueError(f"{value} does not fit int16")
    return value & 0xFFFF


def _text(value: str, registers: int) -> list[int]:
    raw = value.encode("ascii")[: registers * 2].ljust(registers * 2, b"\x00")
    return [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]


def device_map(manufacturer: str, model: str, serial: str) -> list[int]:
    """Registers from BASE_ADDRESS for a single-phase inverter with a battery, values zero."""
    common = _text(manufacturer, 16) + _text(model, 16) + _text("", 8) + _text("1.0", 8) + _text(serial, 16) + [1, 0x8000]
    assert len(common) == COMMON_LENGTH
    return [
        *MARKER,
        COMMON_ID, COMMON_LENGTH, *common,
        INVERTER_IDS[0], INVERTER_LENGTH, *([0] * INVERTER_LENGTH),
        STORAGE_ID, STORAGE_LENGTH, *([0] * STORAGE_LENGTH),
        END_ID, 0,
    ]


INVERTER_AT = 2 + 2 + COMMON_LENGTH + 2  # offset of the inverter model's data in device_map
STORAGE_AT = INVERTER_AT + INVERTER_LENGTH + 2


def write_reading(registers: list[int], reading: SiteState, battery_watts: int, battery_floor_pct: float) -> None:
    """Writes `reading` into a `device_map` in place."""
    inverter, storage = INVERTER_AT, STORAGE_AT
    registers[inverter + INV_W] = _int16(round(reading.pv_watts))
    registers[inverter + INV_W_SF] = 0
    registers[inverter + INV_WH] = (reading.lifetime_wh >> 16) & 0xFFFF
    registers[inverter + INV_WH + 1] = reading.lifetime_wh & 0xFFFF
    registers[inverter + INV_WH_SF] = 0
    registers[inverter + INV_ST] = 4 if reading.pv_watts > 0 else 2
    registers[storage + STOR_WCHAMAX] = battery_watts
    registers[storage + STOR_WCHAMAX_SF] = 0
    registers[storage + STOR_MINRSVPCT] = round(battery_floor_pct)
    registers[storage + STOR_MINRSVPCT_SF] = 0
    registers[storage + STOR_CHASTATE] = round(reading.battery_soc_pct * 10 ** -SOC_SF)
    registers[storage + STOR_CHASTATE_SF] = _int16(SOC_SF)
    registers[storage + STOR_AVAL] = 0xFFFF
    registers[storage + STOR_AVAL_SF] = _int16(0)


# ---- decoding (the site agent) ------------------------------------------------------------

ReadRegisters = Callable[[int, int], list[int]]  # (address, count) -> registers


def _signed(raw: int) -> int:
    return raw - 0x10000 if raw & 0x8000 else raw


def _scaled(raw: int, sf_raw: int, point: str, *, signed: bool) -> float:
    if raw == (0x8000 if signed else 0xFFFF) or sf_raw == 0x8000:
        raise SunSpecError(f"the device does not report {point}")
    value, sf = (_signed(raw) if signed else raw), _signed(sf_raw)
    return round(value * 10.0**sf, max(0, -sf))


def find_models(read: ReadRegisters) -> dict[int, tuple[int, int]]:
    """Walks the model chain: {model id: (address of its data, length)}."""
    if tuple(read(BASE_ADDRESS, 2)) != MARKER:
        raise SunSpecError(f"no SunSpec marker at {BASE_ADDRESS}")
    models, address = {}, BASE_ADDRESS + 2
    for _ in range(64):  # a real device chains a handful of models; bound the walk
        model_id, length = read(address, 2)
        if model_id == END_ID:
            return models
        models.setdefault(model_id, (address + 2, length))
        address += 2 + length
    raise SunSpecError("the SunSpec model chain does not end")


def read_site(read: ReadRegisters, models: dict[int, tuple[int, int]]) -> SiteState:
    """Reads PV power and lifetime energy from the inverter model and the battery's state
    of charge from the storage model."""
    inverter = next((models[i] for i in INVERTER_IDS if i in models), None)
    if inverter is None or STORAGE_ID not in models:
        raise SunSpecError(f"the device lacks an inverter model {INVERTER_IDS} or storage model {STORAGE_ID}")
    (inv_at, inv_len), (stor_at, stor_len) = inverter, models[STORAGE_ID]
    if inv_len < INVERTER_LENGTH or stor_len < STORAGE_LENGTH:
        raise SunSpecError("the inverter or storage model is shorter than SunSpec defines")
    inv, stor = read(inv_at, INVERTER_LENGTH), read(stor_at, STORAGE_LENGTH)
    lifetime_raw = (inv[INV_WH] << 16) | inv[INV_WH + 1]
    if lifetime_raw == 0:
        raise SunSpecError("the device does not report lifetime energy")
    return SiteState(
        pv_watts=max(0.0, _scaled(inv[INV_W], inv[INV_W_SF], "AC power", signed=True)),
        lifetime_wh=int(lifetime_raw * 10 ** _signed(inv[INV_WH_SF])),
        battery_soc_pct=_scaled(stor[STOR_CHASTATE], stor[STOR_CHASTATE_SF], "state of charge", signed=False),
        inverter_state=INVERTER_STATES.get(inv[INV_ST], f"state {inv[INV_ST]}"),
    )
