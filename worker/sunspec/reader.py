"""Reading a site through SunSpec, whatever devices serve it: a site is what is connected to it.

A SunSpec device holds the marker "SunS" at a base address (40000, 50000 or 0), then a chain
of models, each `<id> <length> <length registers>`, ending with id 0xFFFF. The reader walks
that chain on each configured Modbus unit id and takes every inverter (101-103, 111-113, 701),
every storage model (124, 802, 713) and, when one is configured, the production meter
(201-204, 211-214). It reports the inverters' AC power and lifetime energy summed, the
batteries' state of charge weighted by their capacities (their mean where a model gives no
capacity, which the notes say), and the meter's exported energy as the site's lifetime energy.
A site without a storage model is PV only ("no battery"). A point the device does not
implement is reported as missing (None, named in `SiteState.missing`), never as 0; what the
site cannot be used without is refused with a SunSpecError that says why and where."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from degen.errors import DegenError
from worker.policy import SiteState
from worker.sunspec.models import END_ID, INVERTERS, MARKER, METERS, STORAGE, Role, model
from worker.sunspec.points import scaled

BASE_ADDRESSES = (40000, 50000, 0)
MAX_READ = 125  # registers one Modbus read may return
MAX_MODELS = 64  # a real device chains a handful; the walk is bounded

ReadRegisters = Callable[[int, int], list[int]]  # (address, count) -> registers; SunSpecError if refused


class SunSpecError(DegenError, ConnectionError):
    """The device is unreachable or does not speak SunSpec as expected."""


@dataclass(frozen=True)
class Found:
    """A model in a unit's chain: which, where its ID register is, and the length L the device
    declares for it."""

    model_id: int
    address: int
    length: int
    unit: int

    def __str__(self) -> str:
        return f"model {self.model_id} on unit id {self.unit} at {self.address}"


@dataclass(frozen=True)
class Layout:
    """What the site agent reads: every inverter and storage model, and the production meter."""

    inverters: tuple[Found, ...]
    storage: tuple[Found, ...]
    meter: Found | None = None

    @property
    def models(self) -> tuple[Found, ...]:
        return (*self.inverters, *self.storage, *((self.meter,) if self.meter else ()))


def find_models(read: ReadRegisters, unit: int) -> list[Found]:
    """Every model in a unit's chain, in order, from the first base address that holds the marker."""
    for base in BASE_ADDRESSES:
        try:
            marker = tuple(read(base, 2))
        except SunSpecError:
            continue  # no registers there: try the next base
        if marker == MARKER:
            return _walk(read, unit, base)
    raise SunSpecError(f"no SunSpec marker at {', '.join(map(str, BASE_ADDRESSES))} on unit id {unit}")


def _walk(read: ReadRegisters, unit: int, base: int) -> list[Found]:
    found, address = [], base + 2
    for _ in range(MAX_MODELS):
        try:
            model_id = read(address, 1)[0]
            if model_id == END_ID:
                return found
            length = read(address + 1, 1)[0]
        except SunSpecError as exc:
            after = f" (after {found[-1]})" if found else ""
            raise SunSpecError(f"unit id {unit}: the SunSpec model chain from base {base} breaks at register "
                               f"{address}{after}: {exc}") from None
        found.append(Found(model_id, address, length, unit))
        address += 2 + length
    raise SunSpecError(f"unit id {unit}: the SunSpec model chain from base {base} does not end within {MAX_MODELS} models")


def locate(chains: dict[int, list[Found]], meter_unit: int | None = None, meter_address: int | None = None) -> Layout:
    """The inverters, storage and production meter (on `meter_unit`, at `meter_address` where
    the unit holds several) among the units' chains; SunSpecError naming what is there when
    there is no inverter, the meter cannot be told, or a model is shorter than defined."""
    everything = [found for chain in chains.values() for found in chain]
    inverters = tuple(found for found in everything if found.model_id in INVERTERS)
    if not inverters:
        raise SunSpecError(f"no inverter model ({', '.join(map(str, INVERTERS))}) on the device ({seen(chains)})")
    storage = tuple(found for found in everything if found.model_id in STORAGE)
    meter = None if meter_unit is None else _production_meter(chains, meter_unit, meter_address)
    layout = Layout(inverters, storage, meter)
    for found in layout.models:
        defined = model(found.model_id).length
        if found.length < defined:
            raise SunSpecError(f"model {found.model_id} on unit id {found.unit} holds {found.length} registers; "
                               f"SunSpec defines {defined}")
    return layout


def _production_meter(chains: dict[int, list[Found]], unit: int, address: int | None) -> Found:
    meters = [found for found in chains.get(unit, []) if found.model_id in METERS]
    if address is not None:
        meters = [found for found in meters if found.address == address]
    where = f"unit id {unit}" + ("" if address is None else f" at {address}")
    if not meters:
        raise SunSpecError(f"no meter model ({', '.join(map(str, METERS))}) on {where} for the production meter ({seen(chains)})")
    if len(meters) > 1:
        raise SunSpecError(f"{where} holds {len(meters)} meters ({', '.join(str(m) for m in meters)}): name the "
                           "production meter's address ([site] production_meter_address)")
    return meters[0]


def seen(chains: dict[int, list[Found]]) -> str:
    """'unit 1: [1, 103]; unit 2: [1, 802]': the model ids found on each unit."""
    return "; ".join(f"unit {unit}: {[found.model_id for found in chain]}" for unit, chain in chains.items())


def read_model(read: ReadRegisters, found: Found) -> dict:
    """Every point of a found model, decoded (None: not implemented)."""
    definition = model(found.model_id)
    registers, length = [], definition.length + 2
    while len(registers) < length:
        count = min(MAX_READ, length - len(registers))
        registers += read(found.address + len(registers), count)
    return {name: point.decode(registers) for name, point in definition.points.items()}


def value(found: Found, points: dict, name: str | None) -> float | None:
    """A decoded point with its scale factor applied; None when the model has no such point or
    the device does not implement it (or its scale factor)."""
    if name is None:
        return None
    point = model(found.model_id).points[name]
    return points[name] if point.sf is None else scaled(points[name], points[point.sf])


def site_state(layout: Layout, decoded: dict[Found, dict]) -> SiteState:
    """The site as the energy policy and the meter samples need it, from every decoded model
    of `layout` (`decoded[found]`: `read_model`'s answer)."""
    missing, notes = [], []

    def total(models: tuple[Found, ...], roles: dict[int, Role], point: str, what: str) -> float | None:
        values = [value(found, decoded[found], getattr(roles[found.model_id], point)) for found in models]
        for found, got in zip(models, values):
            if got is None:
                missing.append(what if len(models) == 1 else f"{what} of {found}")
        return None if None in values else sum(values)

    pv = total(layout.inverters, INVERTERS, "power", "AC power (W)")
    inverters_wh = total(layout.inverters, INVERTERS, "energy", "lifetime energy (WH)")
    lifetime = inverters_wh
    if layout.meter is not None:
        lifetime = total((layout.meter,), METERS, "energy", "the production meter's exported energy (TotWhExp)")
    soc = _state_of_charge(layout.storage, decoded, missing, notes)
    return SiteState(
        pv_watts=None if pv is None else max(0.0, pv),  # an inverter drawing power at night reads negative
        battery_soc_pct=soc,
        lifetime_wh=None if lifetime is None else int(lifetime),
        inverter_state=_states(layout.inverters, INVERTERS, decoded),
        battery_state=_states(layout.storage, STORAGE, decoded) if layout.storage else "no battery",
        missing=tuple(missing),
        has_battery=bool(layout.storage),
        inverters_wh=None if layout.meter is None or inverters_wh is None else int(inverters_wh),
        notes=tuple(notes),
    )


def _state_of_charge(storage: tuple[Found, ...], decoded: dict[Found, dict], missing: list, notes: list) -> float | None:
    """The batteries' state of charge, % of their joint capacity: weighted by each one's
    capacity where every model gives it, else their mean (said in `notes`)."""
    if not storage:
        return None
    socs = [value(found, decoded[found], STORAGE[found.model_id].state_of_charge) for found in storage]
    for found, soc in zip(storage, socs):
        if soc is None:
            missing.append("state of charge" if len(storage) == 1 else f"state of charge of {found}")
    if None in socs:
        return None
    socs = [min(100.0, max(0.0, soc)) for soc in socs]
    capacities = [value(found, decoded[found], STORAGE[found.model_id].capacity) for found in storage]
    if len(storage) == 1:
        return socs[0]
    if None not in capacities and sum(capacities) > 0:
        return sum(soc * capacity for soc, capacity in zip(socs, capacities)) / sum(capacities)
    unknown = ", ".join(str(found) for found, capacity in zip(storage, capacities) if capacity is None) or "all of them"
    notes.append(f"state of charge is the mean of {len(storage)} batteries: no capacity reported by {unknown}")
    return sum(socs) / len(socs)


def _states(models: tuple[Found, ...], roles: dict[int, Role], decoded: dict[Found, dict]) -> str:
    """The devices' operating states by name ('mppt'; 'mppt, sleeping' when they differ)."""
    names = []
    for found in models:
        role = roles[found.model_id]
        raw = None if role.state is None else decoded[found][role.state]
        name = role.states.get(raw, "not reported" if raw is None else f"state {raw}")
        if name not in names:
            names.append(name)
    return ", ".join(names)


def describe(layout: Layout) -> str:
    """'2 inverters (model 103 on unit id 1 at 40070, …), no battery, production meter model 203 …'"""
    def things(models: tuple[Found, ...], one: str, many: str) -> str:
        return f"{len(models)} {one if len(models) == 1 else many} ({', '.join(map(str, models))})"

    parts = [things(layout.inverters, "inverter", "inverters"),
             things(layout.storage, "battery", "batteries") if layout.storage else "no battery"]
    if layout.meter is not None:
        parts.append(f"production meter {layout.meter}")
    return ", ".join(parts)
