"""The ABIs committed under abi/ (for integrators without Ape) are what the contracts compile to."""

import json
from pathlib import Path

from degen.contracts import abi_of

ROOT = Path(__file__).resolve().parents[1]


def test_every_deployable_has_its_compiled_abi_committed(project):
    deployables = sorted(path.stem for path in (ROOT / "contracts").glob("*.vy"))
    assert sorted(path.stem for path in (ROOT / "abi").glob("*.json")) == deployables
    for name in deployables:
        committed = json.loads((ROOT / "abi" / f"{name}.json").read_text())
        assert committed == abi_of(getattr(project, name).contract_type), f"abi/{name}.json is stale: run make abi"
