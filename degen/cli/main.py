"""The `degen` command line: the entry point and the deployment view. Each command group has
its module in this package (`requester`, `rec`, `pool`, `web`, `site`); the daemons' groups
and the site commands that read the hardware come from the worker and oracle packages."""

from __future__ import annotations

from pathlib import Path

import click

from degen import __version__
from degen.cli.common import SuggestingGroup, chain_options, deployments_for
from degen.errors import DegenError
from degen.requester import akre


@click.group(cls=SuggestingGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="degen")
def main():
    """DeGEN: buy and sell green AI compute on-chain.

    \b
    Example:
      degen deployment
      degen rec show 1 --network ethereum:local:foundry
    """


@main.command()
@chain_options
def deployment(network: str, directory: Path):
    """Show the contract addresses deployed on a network (no connection needed; without
    --deployments, the first deployment file found).

    \b
    Example:
      degen deployment --network ethereum:sepolia
    """
    try:
        path, record = deployments_for(network, directory)[0]
    except (DegenError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    width = max(len(name) for name in record.model_fields)
    click.echo(f"{'file':<{width}}  {path}")
    for name, value in record.model_dump().items():
        click.echo(f"{name:<{width}}  {akre(value) if name == 'dispute_bond' else value}")


def _register_commands() -> None:
    """The SDK's command groups, and what the daemons add: their own groups (`degen worker`,
    `degen oracle`) as `degen.commands` entry points and the site commands that read or play
    the hardware (`degen site scan`, `simulate`, `config`) as `degen.site_commands`
    (pyproject.toml). The SDK finds them the way Ape finds its plugins and never imports a
    daemon itself."""
    from importlib.metadata import entry_points

    from degen.cli import requester
    from degen.cli.channel import channel_group
    from degen.cli.pool import pool_group
    from degen.cli.rec import rec
    from degen.cli.site import site
    from degen.cli.web import web

    for command in requester.COMMANDS + [channel_group, rec, pool_group, web, site]:
        main.add_command(command)
    for entry in entry_points(group="degen.site_commands"):
        site.add_command(entry.load(), name=entry.name)
    for entry in entry_points(group="degen.commands"):
        main.add_command(entry.load(), name=entry.name)


_register_commands()
