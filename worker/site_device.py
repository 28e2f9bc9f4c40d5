"""The simulated site as a SunSpec device over Modbus TCP, from register 40000, as the devices
DER owners buy present themselves: the common model (1), then one or more inverters, the
battery (none on a PV-only site) and optionally a production meter.

- Inverters: single-phase 101 (integers with scale factors), or IEEE 1547-2018's 701 (DER AC
  measurements) with `der_models`; several inverters share the PV equally, each with its own
  model in the chain. Storage: 124 (basic storage controls), or 713 (DER storage capacity)
  with `der_models`. A production meter: 201 (single phase), counting the PV's energy.
- Scale factors are chosen at start so the site's largest values fit their registers (W and A
  in int16, lifetime Wh in acc32 for ten years of peak output).
- Every mandatory point holds a value consistent with the others (A = W / PF / V, a cabinet
  temperature that follows the load); every other point reads "not implemented", the pad
  reads 0x8000.
- `ChaSt` follows the battery: charging, discharging, holding, empty or full.
- The writable points it implements (the common model's DA; 124's WChaMax, rates, control
  mode, MinRsvPct and ChaGriSet) keep what a client writes, and the simulator obeys WChaMax
  and MinRsvPct; a write to any other register is refused with Modbus exception 2 (illegal
  data address), a value out of range with 3 (illegal data value) and changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from worker.site_sim import SiteSimulator
from worker.sunspec.models import CHARGE_STATES, DER_STATES, END_MODEL, INVERTER_STATES, MARKER, Model, model
from worker.sunspec.points import SF_RANGE

BASE_ADDRESS = 40000
VOLTS, HERTZ, POWER_FACTOR_PCT = 230.0, 50.0, 98.0
HOURS_IN_TEN_YEARS = 10 * 366 * 24
CHARGE_STATE_IDS = {name: value for value, name in CHARGE_STATES.items()}
INVERTER_STATE_IDS = {name: value for value, name in INVERTER_STATES.items()}
DER_STATE_IDS = {name: value for value, name in DER_STATES.items()}
MAX_PV_PEAK_WATTS = 10**8  # what the scale factors serve: 100 MW
MAX_INVERTERS = 4
PAD = 0x8000
# The writable points the device implements, and the raw values each takes.
SETTABLE = {
    "DA": range(1, 248), "WChaMax": range(1, 0xFFFF), "WChaGra": range(0, 0xFFFF), "WDisChaGra": range(0, 0xFFFF),
    "StorCtl_Mod": range(0, 4), "MinRsvPct": range(0, 1001), "ChaGriSet": range(0, 2),
}


def fitting_sf(largest: float, limit: int, finest: int) -> int:
    """The finest scale factor (from `finest` up) at which `largest` fits `limit`."""
    for sf in range(finest, SF_RANGE.stop):
        if largest / 10.0**sf <= limit:
            return sf
    raise ValueError(f"{largest:g} does not fit a SunSpec register at any scale factor")


def raw(value: float, sf: int) -> int:
    return round(value / 10.0**sf)


@dataclass(frozen=True)
class Placed:
    """A model in the device's chain: where its ID register is, and its values now."""

    model: Model
    address: int
    values: Callable[[object], dict]  # the site's state -> {point: raw value}


class SunSpecDevice:
    """The register image of a SiteSimulator, rebuilt from it on every read."""

    def __init__(self, simulator: SiteSimulator, unit_id: int = 1, serial: str = "SIM-0001", *, inverters: int = 1,
                 der_models: bool = False, meter: bool = False):
        if simulator.pv_peak_watts > MAX_PV_PEAK_WATTS:
            raise ValueError(f"a PV peak above {MAX_PV_PEAK_WATTS:,} W is not simulated")
        if not 1 <= inverters <= MAX_INVERTERS:
            raise ValueError(f"1 to {MAX_INVERTERS} inverters are simulated, not {inverters}")
        self.simulator, self.unit_id, self.serial, self.inverters = simulator, unit_id, serial, inverters
        peak_va = simulator.pv_peak_watts * 100 / POWER_FACTOR_PCT
        self.w_sf = fitting_sf(peak_va, 0x7FFF, 0)
        self.a_sf = fitting_sf(peak_va / VOLTS, 0x7FFF, -2)  # int16 in 701 and the meter, uint16 in 101
        self.wh_sf = fitting_sf(simulator.lifetime_wh + simulator.pv_peak_watts * HOURS_IN_TEN_YEARS, 0xFFFFFFFF, 0)
        self.settings = {"DA": unit_id, "WChaGra": 100, "WDisChaGra": 100, "StorCtl_Mod": 0, "ChaGriSet": 0}
        chain: list[tuple[Model, Callable]] = [(model(1), self._common)]
        inverter = (model(701), self._der_inverter) if der_models else (model(101), self._inverter)
        chain += [inverter] * inverters
        if simulator.has_battery:
            chain.append((model(713), self._der_storage) if der_models else (model(124), self._storage))
        if meter:
            chain.append((model(201), self._meter))
        self.layout: list[Placed] = []
        address = BASE_ADDRESS + len(MARKER)
        for placed_model, values in chain:
            self.layout.append(Placed(placed_model, address, values))
            address += 2 + placed_model.length

    def registers(self) -> list[int]:
        """Every register from BASE_ADDRESS, the site as it is now."""
        state = self.simulator.advance()
        words = list(MARKER)
        for placed in self.layout:
            words += placed.model.encode(placed.values(state))
        return words + list(END_MODEL)

    def writable(self) -> set[int]:
        """Addresses of the registers a client may write: those of the SETTABLE points."""
        return {placed.address + point.offset + i for placed in self.layout for point in placed.model.points.values()
                if point.writable and point.name in SETTABLE for i in range(point.size)}

    # ---- each model's values -------------------------------------------------------------

    def _common(self, state) -> dict:
        return {"Mn": "DeGEN", "Md": "Simulated PV + battery" if self.simulator.has_battery else "Simulated PV",
                "Vr": "1.0", "SN": self.serial, "DA": self.settings["DA"], "Pad": PAD}

    def _share(self, state) -> tuple[float, float, float]:
        """One inverter's watts, amps and lifetime Wh: an equal share of the site's."""
        watts = state.pv_watts / self.inverters
        return watts, watts * 100 / POWER_FACTOR_PCT / VOLTS, state.lifetime_wh / self.inverters

    def _cabinet_deci_celsius(self, state) -> int:
        return raw(25 + 20 * state.pv_watts / max(self.simulator.pv_peak_watts, 1), -1)

    def _inverter(self, state) -> dict:
        watts, amps, wh = self._share(state)
        return {
            "A": raw(amps, self.a_sf), "AphA": raw(amps, self.a_sf), "A_SF": self.a_sf,
            "PhVphA": raw(VOLTS, -1), "V_SF": -1, "Hz": raw(HERTZ, -2), "Hz_SF": -2,
            "W": raw(watts, self.w_sf), "W_SF": self.w_sf, "WH": raw(wh, self.wh_sf), "WH_SF": self.wh_sf,
            "TmpCab": self._cabinet_deci_celsius(state), "Tmp_SF": -1,
            "St": INVERTER_STATE_IDS[state.inverter_state], "Evt1": 0, "Evt2": 0,
        }

    def _der_inverter(self, state) -> dict:
        watts, amps, wh = self._share(state)
        return {
            "ACType": 0, "St": 1, "InvSt": DER_STATE_IDS["running" if state.inverter_state == "mppt" else "sleeping"],
            "ConnSt": 1, "Alrm": 0, "W": raw(watts, self.w_sf), "A": raw(amps, self.a_sf), "LNV": raw(VOLTS, -1),
            "Hz": raw(HERTZ, -2), "TotWhInj": raw(wh, self.wh_sf), "TotWhAbs": 0, "TmpCab": self._cabinet_deci_celsius(state),
            "A_SF": self.a_sf, "V_SF": -1, "Hz_SF": -2, "W_SF": self.w_sf, "TotWh_SF": self.wh_sf, "Tmp_SF": -1,
        }

    def _storage(self, state) -> dict:
        sim = self.simulator
        return {
            "WChaMax": sim.battery_watts, "WChaMax_SF": 0, "WChaDisChaGra_SF": 0,
            "WChaGra": self.settings["WChaGra"], "WDisChaGra": self.settings["WDisChaGra"],
            "StorCtl_Mod": self.settings["StorCtl_Mod"], "ChaGriSet": self.settings["ChaGriSet"],
            "MinRsvPct": raw(sim.battery_floor_pct, -1), "MinRsvPct_SF": -1,
            "ChaState": raw(state.battery_soc_pct, -1), "ChaState_SF": -1,
            "ChaSt": CHARGE_STATE_IDS[state.battery_state],
        }

    def _der_storage(self, state) -> dict:
        wh_sf = fitting_sf(self.simulator.battery_wh, 0xFFFE, 0)
        return {"WHRtg": raw(self.simulator.battery_wh, wh_sf), "WHAvail": raw(self.simulator.battery_wh * state.battery_soc_pct / 100, wh_sf),
                "SoC": raw(state.battery_soc_pct, -1), "SoH": 1000, "Sta": 0, "WH_SF": wh_sf, "Pct_SF": -1}

    def _meter(self, state) -> dict:
        amps = state.pv_watts * 100 / POWER_FACTOR_PCT / VOLTS
        return {"A": raw(amps, self.a_sf), "AphA": raw(amps, self.a_sf), "A_SF": self.a_sf, "PhV": raw(VOLTS, -1),
                "PhVphA": raw(VOLTS, -1), "V_SF": -1, "Hz": raw(HERTZ, -2), "Hz_SF": -2, "W": raw(state.pv_watts, self.w_sf),
                "W_SF": self.w_sf, "TotWhExp": raw(state.lifetime_wh, self.wh_sf), "TotWh_SF": self.wh_sf,
                "TotWhImp": 1 + raw(state.lifetime_wh / 1000, self.wh_sf),  # the inverters' standby at night
                "Evt": 0}

    # ---- writes --------------------------------------------------------------------------

    def write(self, address: int, values: list[int]) -> int | None:
        """Applies a client's write of `values` at `address` (registers the caller checked are
        writable); the Modbus exception code for a value out of range, else None."""
        image = self.registers()
        image[address - BASE_ADDRESS:address - BASE_ADDRESS + len(values)] = values
        written = {point.name: point.decode(image[placed.address - BASE_ADDRESS:]) for placed in self.layout
                   for point in placed.model.points.values()
                   if point.name in SETTABLE and point.writable
                   and placed.address + point.offset < address + len(values) and address < placed.address + point.offset + point.size}
        if any(value not in SETTABLE[name] for name, value in written.items()):
            return 3  # ILLEGAL DATA VALUE: nothing is applied
        for name, value in written.items():
            if name == "WChaMax":
                self.simulator.battery_watts = value
            elif name == "MinRsvPct":
                self.simulator.battery_floor_pct = value / 10
            else:
                self.settings[name] = value
        return None


def modbus_device(device: SunSpecDevice):
    """The pymodbus device: read-only registers but for the writable points, every read served
    from the site as it is now, every write applied to it."""
    from pymodbus.constants import ExcCodes
    from pymodbus.simulator import DataType, SimData, SimDevice

    async def on_access(_function_code, start_address, address, count, registers, set_values):
        if set_values is not None:
            if (code := device.write(address, list(set_values))) is not None:
                return ExcCodes(code)
            return None
        image = device.registers()
        offset = BASE_ADDRESS - start_address
        registers[offset:offset + len(image)] = image
        return None

    image, writable = device.registers(), device.writable()
    blocks, start = [], 0
    for i in range(1, len(image) + 1):  # runs of registers that are all writable or all read-only
        if i == len(image) or ((BASE_ADDRESS + i) in writable) != ((BASE_ADDRESS + start) in writable):
            blocks.append(SimData(BASE_ADDRESS + start, values=image[start:i], datatype=DataType.REGISTERS,
                                  readonly=(BASE_ADDRESS + start) not in writable))
            start = i
    return SimDevice(id=device.unit_id, simdata=blocks, action=on_access)


async def serve(device: SunSpecDevice, host: str, port: int, on_ready: Callable[[], None] | None = None) -> None:
    """Serves the simulated site until cancelled."""
    from pymodbus.server import ModbusTcpServer

    server = ModbusTcpServer(modbus_device(device), address=(host, port))
    if not await server.listen():
        raise OSError(f"cannot listen on {host}:{port} (in use, or not an address of this machine)")
    if on_ready is not None:
        on_ready()
    try:
        await server.serving
    finally:
        await server.shutdown()
