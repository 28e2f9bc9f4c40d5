"""Writes abi/<Contract>.json, the compiled ABI of every deployable, for integrators who do
not use Ape (TypeScript, Go, a raw web3 client). A test holds the committed files equal to
what the contracts compile to.

    make abi      (or: ape run abi)
"""

import json
from pathlib import Path

import click
from ape import project

from degen.contracts import abi_of

OUT = Path("abi")


def deployables() -> list[str]:
    """The contracts a deployment creates: every top-level contract in contracts/."""
    return sorted(path.stem for path in Path("contracts").glob("*.vy"))


def abi_json(name: str) -> str:
    return json.dumps(abi_of(getattr(project, name).contract_type), indent=2) + "\n"


@click.command()
def cli():
    """Write abi/<Contract>.json for every deployable."""
    OUT.mkdir(exist_ok=True)
    for name in deployables():
        (OUT / f"{name}.json").write_text(abi_json(name))
        click.echo(f"wrote {OUT / name}.json")
