"""The ABIs committed under abi/ (for integrators without Ape) are what the contracts compile to."""

import json
import subprocess
import sys
from pathlib import Path

from degen.contracts import abi_of

ROOT = Path(__file__).resolve().parents[1]
DEPLOYABLES = sorted(path.stem for path in (ROOT / "contracts").glob("*.vy"))


def test_every_deployable_has_its_compiled_abi_committed(project):
    assert sorted(path.stem for path in (ROOT / "abi").glob("*.json")) == DEPLOYABLES
    for name in DEPLOYABLES:
        committed = json.loads((ROOT / "abi" / f"{name}.json").read_text())
        assert committed == abi_of(getattr(project, name).contract_type), f"abi/{name}.json is stale: run make abi"


def _entries(abi: list[dict]) -> set[str]:
    return {json.dumps(entry, sort_keys=True) for entry in abi if entry["type"] in ("function", "event")}


def test_every_deployable_has_a_vyper_interface_with_every_function_and_event(project):
    """contracts/interfaces/I<Contract>.vyi: a new function or event without its interface line fails here."""
    for name in DEPLOYABLES:
        interface = f"interfaces/I{name}.vyi"
        compiled = json.loads(subprocess.run([sys.executable, "-m", "vyper", "-f", "abi", interface], cwd=ROOT / "contracts",
                                             capture_output=True, text=True, check=True, timeout=120).stdout)
        missing = _entries(abi_of(getattr(project, name).contract_type)) - _entries(compiled)
        extra = _entries(compiled) - _entries(abi_of(getattr(project, name).contract_type))
        assert not missing and not extra, f"{interface}: missing {sorted(missing)}, extra {sorted(extra)}"


def _without_internal_types(entry):
    if isinstance(entry, dict):
        return {key: _without_internal_types(value) for key, value in entry.items() if key != "internalType"}
    if isinstance(entry, list):
        return [_without_internal_types(value) for value in entry]
    return entry


def test_the_solidity_interfaces_match_the_compiled_contracts(project):
    """contracts/interfaces/solidity/I<Contract>.sol, compiled by solc, has every function and
    event of the deployable with the same ABI (flags are uint256, their values in a library)."""
    from tests.solidity import compile_solidity

    built = compile_solidity(sorted((ROOT / "contracts/interfaces/solidity").glob("*.sol")))
    for name in DEPLOYABLES:
        solidity = _entries(_without_internal_types(built[f"I{name}"]["abi"]))
        compiled = _entries(abi_of(getattr(project, name).contract_type))
        assert solidity == compiled, f"I{name}.sol: missing {sorted(compiled - solidity)}, extra {sorted(solidity - compiled)}"
