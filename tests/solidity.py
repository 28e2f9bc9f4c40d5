"""Compiling Solidity in the tests with solc-js (npm `solc`, pinned in package.json): the
integrator's side of the contracts, built from their Solidity interfaces only."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def compile_solidity(paths: list[Path]) -> dict[str, dict]:
    """{contract name: {"abi": [...], "bytecode": "0x…"}} for every contract and interface in
    `paths` (and what they import), compiled with optimisation; raises with solc's errors."""
    request = {
        "language": "Solidity",
        "sources": {str(path.relative_to(ROOT)): {"content": path.read_text()} for path in paths},
        "settings": {"optimizer": {"enabled": True, "runs": 200}, "evmVersion": "cancun",
                     "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}}},
    }
    with tempfile.TemporaryDirectory() as folder:
        answer = Path(folder) / "output.json"
        # solc-js's own CLI cuts long outputs short when piped: the compiler is called directly,
        # reading imports relative to the repository root, and writes its answer to a file.
        subprocess.run(["node", "-e", _COMPILE, str(answer)], input=json.dumps(request), cwd=ROOT, env=_NODE_ENV,
                       capture_output=True, text=True, timeout=300, check=True)
        output = json.loads(answer.read_text())
    errors = [e["formattedMessage"] for e in output.get("errors", []) if e["severity"] == "error"]
    if errors:
        raise RuntimeError("solc refused the sources:\n" + "\n".join(errors))
    return {name: {"abi": built["abi"], "bytecode": "0x" + built["evm"]["bytecode"]["object"]}
            for source in output["contracts"].values() for name, built in source.items()}


_COMPILE = """
const fs = require("fs");
const solc = require("solc");
const input = fs.readFileSync(0, "utf8");
const imports = (path) => fs.existsSync(path) ? { contents: fs.readFileSync(path, "utf8") } : { error: "not found: " + path };
fs.writeFileSync(process.argv[1], solc.compile(input, { import: imports }));
"""
_NODE_ENV = {**os.environ, "NODE_PATH": str(ROOT / "node_modules")}
