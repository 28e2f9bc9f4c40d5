"""The `degen` command line. Requester commands (offers, generate, jobs, ...) arrive with
the end-to-end story; this module holds the entry point and the deployment view."""

from __future__ import annotations

from pathlib import Path

import click

from degen import __version__, deployments
from degen.errors import DegenError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="degen")
def main():
    """DeGEN: buy and sell green AI compute on-chain.

    \b
    Example:
      degen deployment --network ethereum:local
    """


@main.command()
@click.option("--network", default="ethereum:local", show_default=True, help="ecosystem:network of the deployment.")
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=deployments.DEFAULT_DIR, show_default=True)
def deployment(network: str, directory: Path):
    """Show the contract addresses deployed on NETWORK.

    \b
    Example:
      degen deployment --network ethereum:local
    """
    try:
        record = deployments.load(network, directory)
    except (DegenError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    width = max(len(name) for name in record.model_fields)
    for name, value in record.model_dump().items():
        click.echo(f"{name:<{width}}  {value}")
