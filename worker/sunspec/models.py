"""The SunSpec models DeGEN reads or serves, point by point as the SunSpec Alliance defines
them (tests/worker/test_sunspec_models.py holds each to pysunspec2's own definitions):

- 1 common; 101/102/103 inverters (single, split, three phase) as integers with scale
  factors; 111/112/113 the same as float32; 124 basic storage controls; 802 battery.

A model's registers start with its ID and length L; every point's offset counts from the ID.
Each line of a table: `name type[:registers] [sf=POINT] [rw] [M]` (M: mandatory)."""

from __future__ import annotations

from dataclasses import dataclass, field

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


def _model(model_id: int, name: str, table: str, mandatory: tuple[str, ...] = ()) -> Model:
    points, offset = {}, 0
    for line in ["ID uint16 M", "L uint16 M", *filter(None, (line.strip() for line in table.splitlines()))]:
        point_name, kind, *flags = line.split()
        kind, _, size = kind.partition(":")
        sf = next((flag[3:] for flag in flags if flag.startswith("sf=")), None)
        size = int(size) if size else TYPES[kind][0]
        points[point_name] = Point(point_name, kind, offset, size, sf, "rw" in flags, "M" in flags or point_name in mandatory)
        offset += size
    return Model(model_id, name, points)


COMMON = _model(1, "common", """
    Mn string:16 M
    Md string:16 M
    Opt string:8
    Vr string:8
    SN string:16 M
    DA uint16 rw
    Pad pad
""")

_INVERTER = """
    A uint16 sf=A_SF M
    AphA uint16 sf=A_SF M
    AphB uint16 sf=A_SF
    AphC uint16 sf=A_SF
    A_SF sunssf M
    PPVphAB uint16 sf=V_SF
    PPVphBC uint16 sf=V_SF
    PPVphCA uint16 sf=V_SF
    PhVphA uint16 sf=V_SF M
    PhVphB uint16 sf=V_SF
    PhVphC uint16 sf=V_SF
    V_SF sunssf M
    W int16 sf=W_SF M
    W_SF sunssf M
    Hz uint16 sf=Hz_SF M
    Hz_SF sunssf M
    VA int16 sf=VA_SF
    VA_SF sunssf
    VAr int16 sf=VAr_SF
    VAr_SF sunssf
    PF int16 sf=PF_SF
    PF_SF sunssf
    WH acc32 sf=WH_SF M
    WH_SF sunssf M
    DCA uint16 sf=DCA_SF
    DCA_SF sunssf
    DCV uint16 sf=DCV_SF
    DCV_SF sunssf
    DCW int16 sf=DCW_SF
    DCW_SF sunssf
    TmpCab int16 sf=Tmp_SF M
    TmpSnk int16 sf=Tmp_SF
    TmpTrns int16 sf=Tmp_SF
    TmpOt int16 sf=Tmp_SF
    Tmp_SF sunssf M
    St enum16 M
    StVnd enum16
    Evt1 bitfield32 M
    Evt2 bitfield32 M
    EvtVnd1 bitfield32
    EvtVnd2 bitfield32
    EvtVnd3 bitfield32
    EvtVnd4 bitfield32
"""


def _as_float(line: str) -> str:
    """A point of the integer inverter models as the float models hold it: measurements in
    float32, no scale factors (their points are gone), states and events unchanged."""
    name, kind, *flags = line.split()
    if kind in ("uint16", "int16", "acc32"):
        kind = "float32"
    return " ".join([name, kind, *(flag for flag in flags if not flag.startswith("sf="))])


_INVERTER_FLOAT = "\n".join(_as_float(line) for line in _INVERTER.strip().splitlines() if "sunssf" not in line)
_PHASE_B, _PHASE_C = ("AphB", "PhVphB"), ("AphC", "PhVphC")

INVERTERS = {
    101: _model(101, "inverter_single_phase", _INVERTER),
    102: _model(102, "inverter_split_phase", _INVERTER, _PHASE_B),
    103: _model(103, "inverter_three_phase", _INVERTER, _PHASE_B + _PHASE_C),
    111: _model(111, "inverter_single_phase_float", _INVERTER_FLOAT),
    112: _model(112, "inverter_split_phase_float", _INVERTER_FLOAT, _PHASE_B),
    113: _model(113, "inverter_three_phase_float", _INVERTER_FLOAT, _PHASE_B + _PHASE_C),
}

STORAGE = _model(124, "storage_basic", """
    WChaMax uint16 sf=WChaMax_SF rw M
    WChaGra uint16 sf=WChaDisChaGra_SF rw M
    WDisChaGra uint16 sf=WChaDisChaGra_SF rw M
    StorCtl_Mod bitfield16 rw M
    VAChaMax uint16 sf=VAChaMax_SF rw
    MinRsvPct uint16 sf=MinRsvPct_SF rw
    ChaState uint16 sf=ChaState_SF
    StorAval uint16 sf=StorAval_SF
    InBatV uint16 sf=InBatV_SF
    ChaSt enum16
    OutWRte int16 sf=InOutWRte_SF rw
    InWRte int16 sf=InOutWRte_SF rw
    InOutWRte_WinTms uint16 rw
    InOutWRte_RvrtTms uint16 rw
    InOutWRte_RmpTms uint16 rw
    ChaGriSet enum16 rw
    WChaMax_SF sunssf M
    WChaDisChaGra_SF sunssf M
    VAChaMax_SF sunssf
    MinRsvPct_SF sunssf
    ChaState_SF sunssf
    StorAval_SF sunssf
    InBatV_SF sunssf
    InOutWRte_SF sunssf
""")

BATTERY = _model(802, "battery", """
    AHRtg uint16 sf=AHRtg_SF M
    WHRtg uint16 sf=WHRtg_SF M
    WChaRteMax uint16 sf=WChaDisChaMax_SF M
    WDisChaRteMax uint16 sf=WChaDisChaMax_SF M
    DisChaRte uint16 sf=DisChaRte_SF
    SoCMax uint16 sf=SoC_SF
    SoCMin uint16 sf=SoC_SF
    SocRsvMax uint16 sf=SoC_SF rw
    SoCRsvMin uint16 sf=SoC_SF rw
    SoC uint16 sf=SoC_SF M
    DoD uint16 sf=DoD_SF
    SoH uint16 sf=SoH_SF
    NCyc uint32
    ChaSt enum16
    LocRemCtl enum16 M
    Hb uint16
    CtrlHb uint16 rw
    AlmRst uint16 rw M
    Typ enum16 M
    State enum16 M
    StateVnd enum16
    WarrDt uint32
    Evt1 bitfield32 M
    Evt2 bitfield32 M
    EvtVnd1 bitfield32 M
    EvtVnd2 bitfield32 M
    V uint16 sf=V_SF M
    VMax uint16 sf=V_SF
    VMin uint16 sf=V_SF
    CellVMax uint16 sf=CellV_SF
    CellVMaxStr uint16
    CellVMaxMod uint16
    CellVMin uint16 sf=CellV_SF
    CellVMinStr uint16
    CellVMinMod uint16
    CellVAvg uint16 sf=CellV_SF
    A int16 sf=A_SF M
    AChaMax uint16 sf=AMax_SF
    ADisChaMax uint16 sf=AMax_SF
    W int16 sf=W_SF M
    ReqInvState enum16
    ReqW int16 sf=W_SF
    SetOp enum16 rw M
    SetInvState enum16 rw M
    AHRtg_SF sunssf M
    WHRtg_SF sunssf M
    WChaDisChaMax_SF sunssf M
    DisChaRte_SF sunssf
    SoC_SF sunssf M
    DoD_SF sunssf
    SoH_SF sunssf
    V_SF sunssf M
    CellV_SF sunssf M
    A_SF sunssf M
    AMax_SF sunssf M
    W_SF sunssf
""")

BATTERIES = {STORAGE.id: STORAGE, BATTERY.id: BATTERY}
STATE_OF_CHARGE = {STORAGE.id: "ChaState", BATTERY.id: "SoC"}  # the point each battery model holds it in
# enum16 values of ChaSt (models 124 and 802) and St (inverters)
CHARGE_STATES = {1: "off", 2: "empty", 3: "discharging", 4: "charging", 5: "full", 6: "holding", 7: "testing"}
INVERTER_STATES = {1: "off", 2: "sleeping", 3: "starting", 4: "mppt", 5: "throttled", 6: "shutting down", 7: "fault", 8: "standby"}

# A SunSpec map opens with this marker at its base address and closes with the end model.
MARKER = (0x5375, 0x6E53)  # "SunS"
END_ID = 0xFFFF
END_MODEL = (END_ID, 0)
