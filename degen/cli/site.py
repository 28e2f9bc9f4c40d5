"""`degen site …`: the DER owner's commands."""

from __future__ import annotations

import click

from degen.cli.common import SuggestingGroup


@click.group(cls=SuggestingGroup)
def site():
    """The DER site: inverter, PV and battery.

    \b
    Example:
      degen site simulate --port 5020
    """
