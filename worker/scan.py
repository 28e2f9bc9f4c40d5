"""`degen site scan`: what a SunSpec device answers on each unit id (the models, where they
sit, what they hold), what the worker would read from it and sign, and the `[site]` section
of worker.toml that reads it — the first thing a DER owner runs, before configuring anything."""

from __future__ import annotations

from worker.site_agent import SiteAgent
from worker.sunspec.models import COMMON_ID, INVERTERS, METERS, STORAGE, model
from worker.sunspec.reader import Found, SunSpecError, locate, site_state, value



def parse_unit_ids(text: str) -> tuple[int, ...]:
    """'1,2,126' or '1-10,126' -> the unit ids, in order; ValueError for anything else."""
    units: list[int] = []
    for part in filter(None, (part.strip() for part in text.split(","))):
        low, _, high = part.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            raise ValueError(f"{part!r} is not a unit id or a range of them (e.g. 1-10)")
        first, last = int(low), int(high or low)
        if not 1 <= first <= last <= 247:
            raise ValueError(f"{part!r}: Modbus unit ids run from 1 to 247")
        units += [unit for unit in range(first, last + 1) if unit not in units]
    if not units:
        raise ValueError("name at least one unit id")
    return tuple(units)


def scan(host: str, port: int, unit_ids: tuple[int, ...], timeout_s: float = 1.0) -> list[str]:
    """The lines `degen site scan` prints; SunSpecError when no unit id holds a SunSpec map."""
    agent = SiteAgent(host, port, unit_ids, timeout_s)
    try:
        chains = agent.walk()
        lines = [f"SunSpec devices at {host}:{port}"]
        for unit, chain in chains.items():
            lines.append(f"unit id {unit}:")
            lines += [f"  {_describe(agent, found)}" for found in chain]
        lines += [f"  {refusal}" for refusal in agent.passed_over]
        lines.append("")
        try:
            layout = locate(chains)
        except SunSpecError as exc:
            return lines + [f"The worker cannot use this device: {exc}"]
        meters = [found for chain in chains.values() for found in chain if found.model_id in METERS]
        state = site_state(layout, {found: agent.decode(found) for found in layout.models})
        return lines + _would_sign(state, len(layout.inverters), len(layout.storage)) + [""] + _site_section(host, port, chains, meters)
    finally:
        agent.close()


def _describe(agent: SiteAgent, found: Found) -> str:
    """'model 103 inverter_three_phase at 40070 (50 registers): 10,860 W, 12,345,678,900 Wh, mppt'"""
    try:
        name = model(found.model_id).name
    except KeyError:
        return f"model {found.model_id} at {found.address} ({found.length} registers): not read by the worker"
    head = f"model {found.model_id} {name} at {found.address} ({found.length} registers)"
    if found.model_id not in (COMMON_ID, *INVERTERS, *STORAGE, *METERS):
        return f"{head}: not read by the worker"
    defined = model(found.model_id).length
    if found.length < defined:
        return f"{head}: shorter than the {defined} registers SunSpec defines, not usable"
    points = agent.decode(found)
    if found.model_id == COMMON_ID:
        return f"{head}: {points['Mn'] or '?'} {points['Md'] or '?'}, serial {points['SN'] or '?'}"
    role = {**INVERTERS, **STORAGE, **METERS}[found.model_id]
    shown = []
    for point, unit in ((role.power, "W"), (role.energy, "Wh"), (role.state_of_charge, "%"), (role.capacity, "Wh capacity")):
        if point is not None:
            got = value(found, points, point)
            shown.append(f"{point} not implemented" if got is None else f"{got:,.{0 if unit != '%' else 1}f} {unit}")
    if role.state is not None:
        raw = points[role.state]
        shown.append(role.states.get(raw, "state not reported" if raw is None else f"state {raw}"))
    kind = "inverter" if found.model_id in INVERTERS else "battery" if found.model_id in STORAGE else "meter"
    return f"{head}: {kind}, {', '.join(shown)}"


def _would_sign(state, inverters: int, batteries: int) -> list[str]:
    def number(got, unit: str, digits: int = 0) -> str:
        return "not reported" if got is None else f"{got:,.{digits}f} {unit}"

    battery = (f"{number(state.battery_soc_pct, '%', 1)} ({batteries} {'battery' if batteries == 1 else 'batteries'})"
               if state.has_battery else "no battery: a PV-only site, whose samples say so")
    lines = [
        "What the worker would read and sign in its meter samples:",
        f"  PV power         {number(state.pv_watts, 'W')} ({inverters} {'inverter' if inverters == 1 else 'inverters'})",
        f"  lifetime energy  {number(state.lifetime_wh, 'Wh')} (the inverters' register{'s' if inverters > 1 else ''})",
        f"  state of charge  {battery}",
    ]
    if state.missing:
        lines.append(f"  missing          {', '.join(state.missing)}: no sample is signed without them")
    lines += [f"  note             {note}" for note in state.notes]
    return lines


def _site_section(host: str, port: int, chains: dict[int, list[Found]], meters: list[Found]) -> list[str]:
    lines = ["Paste into worker.toml's [site] section, beside your site_id (`degen site config` writes it all):",
             f'modbus_host = "{host}"', f"modbus_port = {port}", f"modbus_unit_ids = [{', '.join(map(str, chains))}]"]
    for meter in meters:
        address = f"\n# production_meter_address = {meter.address}" if len(meters) > 1 else ""
        lines.append(f"# production_meter_unit_id = {meter.unit}   # {meter}: if it meters the PV's production, its exported "
                     f"energy goes in the samples{address}")
    return lines
