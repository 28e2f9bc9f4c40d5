"""`degen channel`: a requester's pay-as-you-go channels with a site (JobChannels): open one
with a deposit, top it up, show it, close it and, after the notice, withdraw the rest.
Amounts in AKRE; accounts as for the requester's commands."""

from __future__ import annotations

from pathlib import Path

import click

from degen import channels
from degen.cli.common import ADDRESS, SuggestingGroup, TokenAmount, chain_options, connected, energy_text, failures, time_text
from degen.cli.requester import account_option, load_account
from degen.requester import akre


@click.group(name="channel", cls=SuggestingGroup)
def channel_group():
    """Pay-as-you-go channels with a site: a deposit, then jobs without a transaction each.

    \b
    Examples:
      degen channel open 1 20 --account TEST::1
      degen channel show --account TEST::1
      degen channel close 1 --account TEST::1
    """


@channel_group.command("open")
@click.argument("site_id", type=click.IntRange(1))
@click.argument("deposit", type=TokenAmount("akre"))
@click.option("--beneficiary", type=ADDRESS, help="In whose name green jobs' RECs are retired (default: you).")
@account_option
@chain_options
@failures
def open_command(site_id: int, deposit: int, beneficiary: str | None, alias: str, network: str, directory: Path):
    """Open a channel with SITE_ID, depositing DEPOSIT AKRE for its jobs (one transaction, with
    a permit when the market has no allowance).

    \b
    Example:
      degen channel open 1 20 --account TEST::1
    """
    with connected(network, directory) as deployed:
        channel_id = channels.open_channel(deployed, load_account(alias), site_id, deposit, beneficiary)
        click.echo(f"channel {channel_id} open with site {site_id}: {akre(deposit)} deposited")
        click.echo(describe(channels.state(deployed, channel_id), deployed.channels.NOTICE_PERIOD()))


@channel_group.command("top-up")
@click.argument("channel_id", type=click.IntRange(1))
@click.argument("amount", type=TokenAmount("akre"))
@account_option
@chain_options
@failures
def top_up(channel_id: int, amount: int, alias: str, network: str, directory: Path):
    """Add AMOUNT AKRE to one of your open channels.

    \b
    Example:
      degen channel top-up 1 5 --account TEST::1
    """
    with connected(network, directory) as deployed:
        deposit = channels.top_up(deployed, load_account(alias), channel_id, amount)
        click.echo(f"channel {channel_id}: {akre(amount)} added, {akre(deposit)} deposited")


@channel_group.command("show")
@click.argument("channel_id", type=click.IntRange(1), required=False)
@click.option("--account", "alias", envvar="DEGEN_ACCOUNT", help="Show every channel this account opened.")
@chain_options
@failures
def show(channel_id: int | None, alias: str | None, network: str, directory: Path):
    """Print a channel (or every channel an account opened): its site, deposit, what the
    site's owner redeemed so far, and its closing.

    \b
    Examples:
      degen channel show 1
      degen channel show --account TEST::1
    """
    if (channel_id is None) == (alias is None):
        raise click.UsageError("name a CHANNEL_ID or an --account")
    with connected(network, directory, read_only=alias is None) as deployed:
        found = ([channels.state(deployed, channel_id)] if channel_id is not None
                 else channels.opened_by(deployed, load_account(alias).address))
        if not found:
            click.echo("no channels")
        notice = deployed.channels.NOTICE_PERIOD()
        click.echo("\n".join(describe(channel, notice) for channel in found))


@channel_group.command()
@click.argument("channel_id", type=click.IntRange(1))
@account_option
@chain_options
@failures
def close(channel_id: int, alias: str, network: str, directory: Path):
    """Start a channel's notice: the site can still redeem your vouchers until it ends, then
    `degen channel withdraw` takes back the rest.

    \b
    Example:
      degen channel close 1 --account TEST::1
    """
    with connected(network, directory) as deployed:
        closes_at = channels.close(deployed, load_account(alias), channel_id)
        click.echo(f"channel {channel_id} closing: withdraw the rest from {time_text(closes_at)} with "
                   f"`degen channel withdraw {channel_id} --account {alias}`")


@channel_group.command()
@click.argument("channel_id", type=click.IntRange(1))
@account_option
@chain_options
@failures
def withdraw(channel_id: int, alias: str, network: str, directory: Path):
    """After a channel's notice, take back what no redeemed voucher claims; the channel then
    closes for good.

    \b
    Example:
      degen channel withdraw 1 --account TEST::1
    """
    with connected(network, directory) as deployed:
        refund = channels.withdraw(deployed, load_account(alias), channel_id)
        click.echo(f"channel {channel_id} closed: {akre(refund)} back to you")


def describe(channel: channels.ChannelState, notice_s: int) -> str:
    if channel.closed:
        closing = "closed (withdrawn)"
    elif channel.closes_at:
        closing = f"closing: the rest can be withdrawn from {time_text(channel.closes_at)}"
    else:
        closing = f"open (closing gives the site {notice_s // 3600} h to redeem first)"
    return "\n".join([
        f"channel {channel.channel_id}: {channel.requester} with site {channel.site_id}",
        f"  deposit      {akre(channel.deposit)} ({akre(channel.available)} not yet redeemed)",
        f"  redeemed     {akre(channel.redeemed)} for {channel.jobs} jobs, {energy_text(channel.redeemed_mwh)} "
        f"({energy_text(channel.redeemed_green_mwh)} green)",
        f"  certificates {channel.beneficiary}",
        f"  state        {closing}",
    ])
