"""The docs say what the code does: every revert reason is in the spec, the README shows
the two commands CI runs, and the gas table is the benchmark's output."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_revert_reason_is_specified():
    spec = (ROOT / "docs/SPEC.md").read_text()
    reasons = set()
    for contract in [*(ROOT / "contracts").glob("*.vy"), *(ROOT / "contracts/examples").glob("*.vy")]:
        reasons |= set(re.findall(r'"((?:market|registry|rec|certificate|pool|router|offset|committee|channels): [^"]+)"', contract.read_text()))
    assert reasons, "no revert reasons found"
    missing = sorted(r for r in reasons if r.split(": ", 1)[1] not in spec)
    assert not missing, f"docs/SPEC.md does not explain: {missing}"


def test_readme_shows_the_commands_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci/run").read_text()
    for command in re.findall(r"^(make \w+)$", ci, flags=re.M):
        assert command in readme, command


def test_gas_table_comes_from_the_benchmark():
    gas = (ROOT / "docs/gas.md").read_text()
    assert "Produced by `bench/gas.py`" in gas
    assert re.search(r"Lifecycle create \+ accept \+ deliver \+ settle: [\d,]+ gas", gas)


def test_performance_table_comes_from_the_worker_benchmark():
    performance = (ROOT / "docs/performance.md").read_text()
    assert "Produced by `bench/worker.py`" in performance
    for row in ("direct pipeline calls", "worker (max_batch 1)", "worker, batching (max_batch 8)"):
        for determinism in ("on", "off"):
            assert re.search(rf"^\| {re.escape(row)} \| {determinism} \| [\d.]+ \| [\d.]+ \| [\d.]+× \|", performance, flags=re.M), row
        assert re.search(rf"^\| {re.escape(row)} \| [\d.]+ \|$", performance, flags=re.M), f"{row}: cost of determinism"


def test_performance_has_the_oracle_benchmark():
    performance = (ROOT / "docs/performance.md").read_text()
    assert "Produced by `bench/oracle.py`" in performance and performance.count("Produced by") == 3
    for size in (1, 10, 100):
        assert re.search(rf"^\| issue_batch of {size}: gas per site-period \| [\d,]+ \|", performance, flags=re.M), size


def test_performance_has_the_committee_benchmark():
    section = (ROOT / "docs/performance.md").read_text().split("## Oracle committee", 1)[1]
    assert "`bench/committee.py` (`make bench-committee`)" in section
    assert re.search(r"^\| issuance report of 100 site-periods: gas per site-period \| [\d,]+ \| ≤ 50,000 met \|$", section, flags=re.M)
    for report in ("site activation report", "dispute verdict report", "equivocation proof"):
        assert re.search(rf"^\| {report} .* \| [\d,]+ \| \|$", section, flags=re.M), report
    assert re.search(r"^\| from the sample that closes the hour .* \| [\d.]+ / [\d.]+ s \|$", section, flags=re.M)
    assert re.search(r"^\| bytes of those requests per member per issued site-period.* \| [\d,]+ / [\d,]+ B \|$", section, flags=re.M)


def test_performance_has_the_web_page_benchmark():
    performance = (ROOT / "docs/performance.md").read_text()
    section = performance.split("## Web page", 1)[1]
    assert "`bench/web.py` (`make bench-web`)" in section
    assert re.search(r"^\| all \| [\d,]+ \| [\d,]+ \(\d+ kB; target ≤ 250 kB met\) \|$", section, flags=re.M)
    for measure in ("open the page → offers shown", "\"Post job\" → verified image on screen", "the market's overhead"):
        assert re.search(rf"^\| {re.escape(measure)}.* \| [\d.]+ \| [\d.]+ \| [\d.]+ \|$", section, flags=re.M), measure
    for mining in ("a block per transaction", "a block every 2 s"):  # the overhead with instant and with L2-like blocks
        assert re.search(rf"^\| the market's overhead .*, {mining} \| [\d.]+ \| [\d.]+ \| [\d.]+ \|$", section, flags=re.M), mining


def test_readme_documents_every_cli_command():
    from click import Group

    from degen.cli.main import main

    readme = (ROOT / "README.md").read_text()

    def commands(group, prefix):
        for name, command in group.commands.items():
            if isinstance(command, Group):
                yield from commands(command, f"{prefix} {name}")
            else:
                yield f"{prefix} {name}"

    missing = [command for command in commands(main, "degen") if command not in readme]
    assert not missing, f"README.md does not show: {missing}"


def test_the_spec_gives_every_state_its_flag_value():
    """The SPEC's table of flag values is the one the SDK (held to the contracts) uses."""
    from degen.models import JobState, SiteStatus

    spec = (ROOT / "docs/SPEC.md").read_text()
    table = {name: int(value) for name, value in re.findall(r"`([A-Z]+)` \| (\d+) \|", spec)}
    assert {state.name: state.value for state in (*SiteStatus, *JobState)} == table


def _abi_type(argument: dict) -> str:
    if argument["type"].startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in argument["components"]) + ")" + argument["type"][5:]
    return argument["type"]


def _event_line(event) -> str:
    arguments = (f"{_abi_type(a)}{' indexed' if a.get('indexed') else ''} {a['name']}" for a in event.model_dump()["inputs"])
    return f"{event.name}({', '.join(arguments)})"


def test_the_spec_lists_every_event_as_the_abis_have_it(project):
    block = (ROOT / "docs/SPEC.md").read_text().split("\n## Events\n")[1].split("```")[1]
    listed: dict[str, set[str]] = {}
    contract = None  # each contract's name line comes before its indented events
    for line in block.strip().splitlines():
        if line.startswith(" "):
            listed[contract].add(line.strip())
        else:
            contract = line.strip()
            listed[contract] = set()
    deployables = sorted(path.stem for path in (ROOT / "contracts").glob("*.vy"))
    compiled = {name: {_event_line(e) for e in getattr(project, name).contract_type.events} for name in deployables}
    assert listed == compiled
