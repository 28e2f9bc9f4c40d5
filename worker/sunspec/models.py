"""The SunSpec models DeGEN reads or serves, as the SunSpec Alliance defines them: each model
is built from its JSON definition, the files its client library pysunspec2 ships (models as
data, one source of truth), and only when first asked for.

What the site agent reads, model by model:
- inverters: 101/102/103 (single, split, three phase; integers with scale factors), 111/112/113
  (the same in float32) and IEEE 1547-2018's 701 (DER AC measurements): AC power, lifetime
  energy, operating state;
- storage: 124 (basic storage controls), 802 (battery) and 713 (DER storage capacity): state
  of charge, and the capacity where the model has one;
- meters: 201-204 (single, split, wye, delta phase; integers with scale factors) and 211-214
  (float32): a production meter's exported energy and power.

A model's registers start with its ID and length L; every point's offset counts from the ID.
Repeating groups are not read (none of the models above has one)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from worker.sunspec.points import TYPES, Point


@dataclass(frozen=True)
class Model:
    id: int
    name: str
    points: dict[str, Point] = field(repr=False)

    @property
    def length(self) -> int:
        """L: the registers after ID and L."""
        return sum(point.size for point in self.points.values()) - 2

    def encode(self, values: dict) -> list[int]:
        """The model's registers (ID and L first); points not in `values` are "not implemented"."""
        unknown = set(values) - set(self.points)
        if unknown:
            raise KeyError(f"model {self.id} has no point {sorted(unknown)}")
        values = {**values, "ID": self.id, "L": self.length}
        return [word for point in self.points.values() for word in point.encode(values.get(point.name))]


@cache
def model(model_id: int) -> Model:
    """The model `model_id` as SunSpec's definition (pysunspec2's JSON) has it."""
    path = resources.files("sunspec2") / "models" / "json" / f"model_{model_id}.json"
    try:
        group = json.loads(path.read_text())["group"]
    except FileNotFoundError:
        raise KeyError(f"SunSpec defines no model {model_id}") from None
    points, offset = {}, 0
    for point in group["points"]:
        kind = point["type"]
        size = int(point.get("size") or TYPES[kind][0])
        points[point["name"]] = Point(point["name"], kind, offset, size, point.get("sf"), point.get("access") == "RW",
                                      point.get("mandatory") == "M")
        offset += size
    return Model(model_id, group["name"], points)


@dataclass(frozen=True)
class Role:
    """Which points of a model hold what the site agent reads (None: the model has none), and
    the names of its state enum's values."""

    power: str | None = None  # W
    energy: str | None = None  # lifetime Wh (an inverter's production, a meter's export)
    state_of_charge: str | None = None  # % of capacity
    capacity: str | None = None  # Wh
    state: str | None = None
    states: dict[int, str] = field(default_factory=dict, repr=False)


# enum16 values of St (inverters 101-113), InvSt (701) and ChaSt (storage 124 and 802)
INVERTER_STATES = {1: "off", 2: "sleeping", 3: "starting", 4: "mppt", 5: "throttled", 6: "shutting down", 7: "fault", 8: "standby"}
DER_STATES = {0: "off", 1: "sleeping", 2: "starting", 3: "running", 4: "throttled", 5: "shutting down", 6: "fault", 7: "standby"}
CHARGE_STATES = {1: "off", 2: "empty", 3: "discharging", 4: "charging", 5: "full", 6: "holding", 7: "testing"}

INVERTERS = {
    **{model_id: Role(power="W", energy="WH", state="St", states=INVERTER_STATES) for model_id in (101, 102, 103, 111, 112, 113)},
    701: Role(power="W", energy="TotWhInj", state="InvSt", states=DER_STATES),
}
STORAGE = {
    124: Role(state_of_charge="ChaState", state="ChaSt", states=CHARGE_STATES),
    802: Role(state_of_charge="SoC", capacity="WHRtg", state="ChaSt", states=CHARGE_STATES),
    713: Role(state_of_charge="SoC", capacity="WHRtg"),
}
METERS = {model_id: Role(power="W", energy="TotWhExp") for model_id in (201, 202, 203, 204, 211, 212, 213, 214)}
COMMON_ID = 1

# A SunSpec map opens with this marker at its base address and closes with the end model.
MARKER = (0x5375, 0x6E53)  # "SunS"
END_ID = 0xFFFF
END_MODEL = (END_ID, 0)
