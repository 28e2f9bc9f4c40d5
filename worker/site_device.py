"""The simulated site as a SunSpec device over Modbus TCP: the common model (1), a single-phase
inverter (101) and basic storage controls (124) from register 40000, as a real PV + battery
inverter presents them.

- Scale factors are chosen at start so the site's largest values fit their registers (W and
  VA in int16, A in uint16, lifetime Wh in acc32 for ten years of peak output).
- Every mandatory point holds a value consistent with the others (VA = W / PF, A = VA / V,
  a cabinet temperature that follows the load); every other point reads "not implemented".
- `ChaSt` follows the battery: charging, discharging, holding, empty or full.
- The writable points it implements (the common model's DA; 124's WChaMax, rates, control
  mode, MinRsvPct and ChaGriSet) keep what a client writes, and the simulator obeys WChaMax
  and MinRsvPct; a write to any other register is refused with Modbus exception 2 (illegal
  data address), a value out of range with 3 (illegal data value) and changes nothing."""

from __future__ import annotations

from typing import Callable

from worker.site_sim import SiteSimulator
from worker.sunspec.models import CHARGE_STATES, COMMON, END_MODEL, INVERTER_STATES, INVERTERS, MARKER, STORAGE, Model
from worker.sunspec.points import SF_RANGE

BASE_ADDRESS = 40000
INVERTER = INVERTERS[101]
VOLTS, HERTZ, POWER_FACTOR_PCT = 230.0, 50.0, 98.0
HOURS_IN_TEN_YEARS = 10 * 366 * 24
CHARGE_STATE_IDS = {name: value for value, name in CHARGE_STATES.items()}
INVERTER_STATE_IDS = {name: value for value, name in INVERTER_STATES.items()}
MAX_PV_PEAK_WATTS = 10**8  # what the scale factors serve: 100 MW
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


class SunSpecDevice:
    """The register image of a SiteSimulator, rebuilt from it on every read."""

    def __init__(self, simulator: SiteSimulator, unit_id: int = 1, serial: str = "SIM-0001"):
        if simulator.pv_peak_watts > MAX_PV_PEAK_WATTS:
            raise ValueError(f"a PV peak above {MAX_PV_PEAK_WATTS:,} W is not simulated")
        self.simulator, self.unit_id, self.serial = simulator, unit_id, serial
        peak_va = simulator.pv_peak_watts * 100 / POWER_FACTOR_PCT
        self.w_sf = fitting_sf(peak_va, 0x7FFF, 0)  # W and VA share it: VA is the larger
        self.a_sf = fitting_sf(peak_va / VOLTS, 0xFFFE, -2)
        self.wh_sf = fitting_sf(simulator.lifetime_wh + simulator.pv_peak_watts * HOURS_IN_TEN_YEARS, 0xFFFFFFFF, 0)
        self.settings = {"DA": unit_id, "WChaGra": 100, "WDisChaGra": 100, "StorCtl_Mod": 0, "ChaGriSet": 0}
        self.layout: list[tuple[Model, int]] = []  # each model and the address of its ID register
        address = BASE_ADDRESS + len(MARKER)
        for model in (COMMON, INVERTER, STORAGE):
            self.layout.append((model, address))
            address += 2 + model.length

    def registers(self) -> list[int]:
        """Every register from BASE_ADDRESS, the site as it is now."""
        state = self.simulator.advance()
        words = list(MARKER)
        for model, _ in self.layout:
            words += model.encode(self._values(model, state))
        return words + list(END_MODEL)

    def writable(self) -> set[int]:
        """Addresses of the registers a client may write: those of the SETTABLE points."""
        return {address + point.offset + i for model, address in self.layout for point in model.points.values()
                if point.writable and point.name in SETTABLE for i in range(point.size)}

    def _values(self, model: Model, state) -> dict:
        sim = self.simulator
        if model is COMMON:
            return {"Mn": "DeGEN", "Md": "Simulated PV + battery", "Vr": "1.0", "SN": self.serial, "DA": self.settings["DA"],
                    "Pad": None}
        if model is INVERTER:
            va = state.pv_watts * 100 / POWER_FACTOR_PCT
            amps = va / VOLTS
            return {
                "A": raw(amps, self.a_sf), "AphA": raw(amps, self.a_sf), "A_SF": self.a_sf,
                "PhVphA": raw(VOLTS, -1), "V_SF": -1, "Hz": raw(HERTZ, -2), "Hz_SF": -2,
                "W": raw(state.pv_watts, self.w_sf), "VA": raw(va, self.w_sf), "W_SF": self.w_sf, "VA_SF": self.w_sf,
                "PF": raw(POWER_FACTOR_PCT, -1), "PF_SF": -1,
                "WH": raw(state.lifetime_wh, self.wh_sf), "WH_SF": self.wh_sf,
                "TmpCab": raw(25 + 20 * state.pv_watts / max(sim.pv_peak_watts, 1), -1), "Tmp_SF": -1,
                "St": INVERTER_STATE_IDS[state.inverter_state], "Evt1": 0, "Evt2": 0,
            }
        return {
            "WChaMax": sim.battery_watts, "WChaMax_SF": 0, "WChaDisChaGra_SF": 0,
            "WChaGra": self.settings["WChaGra"], "WDisChaGra": self.settings["WDisChaGra"],
            "StorCtl_Mod": self.settings["StorCtl_Mod"], "ChaGriSet": self.settings["ChaGriSet"],
            "MinRsvPct": raw(sim.battery_floor_pct, -1), "MinRsvPct_SF": -1,
            "ChaState": raw(state.battery_soc_pct, -1), "ChaState_SF": -1,
            "ChaSt": CHARGE_STATE_IDS[state.battery_state],
        }

    def write(self, address: int, values: list[int]) -> int | None:
        """Applies a client's write of `values` at `address` (registers the caller checked are
        writable); the Modbus exception code for a value out of range, else None."""
        image = self.registers()
        image[address - BASE_ADDRESS:address - BASE_ADDRESS + len(values)] = values
        written = {point.name: point.decode(image[at - BASE_ADDRESS:]) for model, at in self.layout
                   for point in model.points.values()
                   if point.name in SETTABLE and at + point.offset < address + len(values) and address < at + point.offset + point.size}
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


async def serve(simulator: SiteSimulator, host: str, port: int, on_ready: Callable[[], None] | None = None,
                unit_id: int = 1) -> None:
    """Serves the simulated site until cancelled."""
    from pymodbus.server import ModbusTcpServer

    server = ModbusTcpServer(modbus_device(SunSpecDevice(simulator, unit_id)), address=(host, port))
    if not await server.listen():
        raise OSError(f"cannot listen on {host}:{port} (in use, or not an address of this machine)")
    if on_ready is not None:
        on_ready()
    try:
        await server.serving
    finally:
        await server.shutdown()
