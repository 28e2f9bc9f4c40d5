"""What the `degen` commands share: the chain options, connecting through Ape, and how
energy and times are printed."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import click

from degen import deployments
from degen.errors import DegenError

MWH_PER_REC = 1_000_000  # 1 REC = 1 kWh = 10^6 mWh (6 decimals)


def chain_options(command):
    """--network and --deployments for commands that read the contracts."""
    command = click.option(
        "--deployments", "directory", type=click.Path(path_type=Path), default=deployments.DEFAULT_DIR,
        show_default=True, help="Folder of deployment files.",
    )(command)
    return click.option(
        "--network", default="ethereum:local:foundry", show_default=True,
        help="Ape network choice; its deployment file names the contracts.",
    )(command)


@contextmanager
def connected(network: str, directory: Path):
    """Connects to `network` through Ape and yields the deployment's contracts; SDK errors
    become one-line CLI errors."""
    try:
        record = deployments.load(network, directory)
        from ape import networks
        from ape.logging import LogLevel, logger

        from degen.contracts import at

        logger.set_level(LogLevel.WARNING)  # no "Confirmed 0x…" line per transaction

        with networks.parse_network_choice(network):
            yield at(ape_project(), record)
    except (DegenError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None


def failures(function):
    """Turns an SDK error (a refused action, a bad value) into one sentence and exit status 1."""
    from functools import wraps

    @wraps(function)
    def wrapped(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except (DegenError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None

    return wrapped


def ape_project():
    """The DeGEN Ape project (its compiled contract types), wherever the command runs from."""
    import os
    import sys

    # ape-vyper finds the compiler on PATH; the venv's bin holds it.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    from ape import Project

    return Project(Path(__file__).resolve().parents[1])


def energy_text(mwh: int) -> str:
    kwh = f"{mwh / MWH_PER_REC:,.6f}".rstrip("0").rstrip(".")
    return f"{mwh:,} mWh ({kwh} REC = {kwh} kWh)"


def time_text(seconds: int) -> str:
    return f"{datetime.fromtimestamp(seconds, timezone.utc):%Y-%m-%d %H:%M:%S} UTC"
