"""Reading a site's inverter and battery through SunSpec, whatever device serves them.

A SunSpec device holds the marker "SunS" at a base address (40000, 50000 or 0), then a chain
of models, each `<id> <length> <length registers>`, ending with id 0xFFFF. The reader looks
for that chain on each configured Modbus unit id, takes the first inverter (101-103 integer
with scale factors, 111-113 float) and the first battery (124 storage, or 802 battery) it
finds, and reads PV power, lifetime energy, state of charge and the states. A point the
device does not implement is reported as missing (None, named in `SiteState.missing`), never
as 0; what the site cannot be used without is refused with a SunSpecError that says why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from degen.errors import DegenError
from worker.policy import SiteState
from worker.sunspec.models import (BATTERIES, CHARGE_STATES, END_ID, INVERTER_STATES, INVERTERS, MARKER, STATE_OF_CHARGE,
                                   Model)
from worker.sunspec.points import scaled

BASE_ADDRESSES = (40000, 50000, 0)
MAX_READ = 125  # registers one Modbus read may return
MAX_MODELS = 64  # a real device chains a handful; the walk is bounded

ReadRegisters = Callable[[int, int], list[int]]  # (address, count) -> registers; SunSpecError if refused


class SunSpecError(DegenError, ConnectionError):
    """The device is unreachable or does not speak SunSpec as expected."""


@dataclass(frozen=True)
class Found:
    """A model found in a device's chain: which, where its ID register is, on which unit."""

    model: Model
    address: int
    unit: int


def find_models(read: ReadRegisters, unit: int) -> dict[int, tuple[int, int]]:
    """{model id: (address of its ID register, length)} on one unit, from the first base
    address that holds the marker."""
    for base in BASE_ADDRESSES:
        try:
            if tuple(read(base, 2)) == MARKER:
                return _walk(read, base + 2)
        except SunSpecError:
            continue  # no registers there: try the next base
    raise SunSpecError(f"no SunSpec marker at {', '.join(map(str, BASE_ADDRESSES))} on unit id {unit}")


def _walk(read: ReadRegisters, address: int) -> dict[int, tuple[int, int]]:
    models = {}
    for _ in range(MAX_MODELS):
        model_id = read(address, 1)[0]
        if model_id == END_ID:
            return models
        length = read(address + 1, 1)[0]
        models.setdefault(model_id, (address, length))
        address += 2 + length
    raise SunSpecError("the SunSpec model chain does not end")


def locate(chains: dict[int, dict[int, tuple[int, int]]]) -> tuple[Found, Found]:
    """The inverter and the battery among the units' model chains (the first unit that has
    each); SunSpecError naming what is there when one is missing or shorter than defined."""
    def first(kinds: dict[int, Model], what: str) -> Found:
        for unit, models in chains.items():
            for model_id, model in kinds.items():
                if model_id in models:
                    address, length = models[model_id]
                    if length < model.length:
                        raise SunSpecError(f"model {model_id} on unit id {unit} holds {length} registers; SunSpec defines "
                                           f"{model.length}")
                    return Found(model, address, unit)
        seen = ", ".join(f"unit {unit}: {sorted(models)}" for unit, models in chains.items())
        raise SunSpecError(f"no {what} model ({', '.join(map(str, kinds))}) on the device ({seen})")

    return first(INVERTERS, "inverter"), first(BATTERIES, "battery")


def read_model(read: ReadRegisters, found: Found) -> dict:
    """Every point of a found model, decoded (None: not implemented)."""
    registers, length = [], found.model.length + 2
    while len(registers) < length:
        count = min(MAX_READ, length - len(registers))
        registers += read(found.address + len(registers), count)
    return {name: point.decode(registers) for name, point in found.model.points.items()}


def site_state(inverter: Found, inverter_points: dict, battery: Found, battery_points: dict) -> SiteState:
    """The site as the energy policy and the meter samples need it, from the decoded models."""
    def value(found: Found, points: dict, name: str) -> float | None:
        point = found.model.points[name]
        return points[name] if point.sf is None else scaled(points[name], points[point.sf])

    pv = value(inverter, inverter_points, "W")
    lifetime = value(inverter, inverter_points, "WH")
    soc = value(battery, battery_points, STATE_OF_CHARGE[battery.model.id])
    missing = tuple(what for what, got in (("AC power (W)", pv), ("lifetime energy (WH)", lifetime),
                                          ("state of charge", soc)) if got is None)
    state, charge = inverter_points["St"], battery_points["ChaSt"]
    return SiteState(
        pv_watts=None if pv is None else max(0.0, pv),  # an inverter drawing power at night reads negative
        battery_soc_pct=None if soc is None else min(100.0, max(0.0, soc)),
        lifetime_wh=None if lifetime is None else int(lifetime),
        inverter_state=INVERTER_STATES.get(state, "not reported" if state is None else f"state {state}"),
        battery_state=CHARGE_STATES.get(charge, "not reported" if charge is None else f"state {charge}"),
        missing=missing,
    )
