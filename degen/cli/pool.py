"""`degen pool`: the EnergyPool's state, liquidity, swaps and a chart of a simulated week.
Amounts are in RECs (1 REC = 1 kWh) and AKRE; accounts as for the requester's commands."""

from __future__ import annotations

from pathlib import Path

import click

from degen import pool
from degen.cli.common import SuggestingGroup, base_units, chain_options, connected, energy_text, failures, time_text
from degen.cli.requester import account_option, load_account
from degen.pool_model import MWH_PER_REC, monthly_loss

slippage_option = click.option(
    "--slippage", default=1.0, show_default=True, type=float,
    help="Largest accepted price move, in percent of the quote (0 to 50).",
)


# Commands whose positional arguments are numbers: a negative one ("-10") is read as a number
# (and refused as one), not as an unknown option.
NUMBER_ARGUMENTS = {"ignore_unknown_options": True}


@click.group(name="pool", cls=SuggestingGroup)
def pool_group():
    """The REC/AKRE EnergyPool: state, liquidity, swaps, a simulated week.

    \b
    Examples:
      degen pool show
      degen pool swap 0.2 akre --slippage 1 --account TEST::1
      degen pool add 10 10 --account TEST::3
    """


@pool_group.command()
@click.option("--window", default=3600, show_default=True, type=click.IntRange(1), help="TWAP window, seconds.")
@chain_options
@failures
def show(window: int, network: str, directory: Path):
    """Print the reserves, spot price, TWAP, LP supply and the decay rate.

    \b
    Example:
      degen pool show --window 3600
    """
    with connected(network, directory, read_only=True) as deployed:
        click.echo(describe(pool.read(deployed, window), deployed.pool.address))


def describe(state: pool.PoolState, address: str) -> str:
    twap = (f"{pool.amount_text(state.twap, 'akre')} per REC over ≥ {state.twap_window} s"
            if state.twap is not None else f"not enough history for {state.twap_window} s")
    spot = f"{pool.amount_text(round(state.spot), 'akre')} per REC" if state.rec else "no RECs in the pool"
    half_life = (f"{state.half_life:,} s ({state.half_life / 86400:,.1f} days): {monthly_loss(state.half_life):.2%} of the "
                 f"REC reserve decays a month" if state.half_life else "none (no decay: Uniswap v2 maths)")
    return "\n".join([
        f"EnergyPool {address} at {time_text(state.timestamp)}",
        f"  REC reserve   {energy_text(state.rec)}",
        f"  AKRE reserve  {pool.amount_text(state.akre, 'akre')}",
        f"  spot price    {spot}",
        f"  TWAP          {twap}",
        f"  LP supply     {pool.amount_text(state.supply, 'lp')}",
        f"  half-life     {half_life}",
        f"  dissipated    {energy_text(state.dissipated)} burned by decay, ever",
    ])


@pool_group.command(context_settings=NUMBER_ARGUMENTS)
@click.argument("rec_amount")
@click.argument("akre_amount")
@slippage_option
@account_option
@chain_options
@failures
def add(rec_amount: str, akre_amount: str, slippage: float, alias: str, network: str, directory: Path):
    """Deposit up to REC_AMOUNT RECs and AKRE_AMOUNT AKRE for LP tokens (only what the pool's
    ratio takes is used).

    \b
    Example:
      degen pool add 100 5 --slippage 1 --account TEST::2
    """
    rec_units, akre_units = base_units(rec_amount, "rec"), base_units(akre_amount, "akre")
    with connected(network, directory) as deployed:
        rec_in, akre_in, liquidity = pool.add_liquidity(deployed, load_account(alias), rec_units, akre_units, slippage)
        click.echo(f"deposited {pool.amount_text(rec_in, 'rec')} and {pool.amount_text(akre_in, 'akre')} "
                   f"for {pool.amount_text(liquidity, 'lp')}")


@pool_group.command(context_settings=NUMBER_ARGUMENTS)
@click.argument("percent", type=click.FloatRange(0, 100, min_open=True))
@slippage_option
@account_option
@chain_options
@failures
def remove(percent: float, slippage: float, alias: str, network: str, directory: Path):
    """Withdraw PERCENT of your LP tokens as RECs and AKRE.

    \b
    Example:
      degen pool remove 50 --account TEST::2
    """
    with connected(network, directory) as deployed:
        liquidity, rec_out, akre_out = pool.remove_liquidity(deployed, load_account(alias), percent, slippage)
        click.echo(f"burned {pool.amount_text(liquidity, 'lp')} for {pool.amount_text(rec_out, 'rec')} "
                   f"and {pool.amount_text(akre_out, 'akre')}")


@pool_group.command(context_settings=NUMBER_ARGUMENTS)
@click.argument("amount")
@click.argument("token", type=click.Choice(pool.TOKENS, case_sensitive=False))
@slippage_option
@account_option
@chain_options
@failures
def swap(amount: str, token: str, slippage: float, alias: str, network: str, directory: Path):
    """Sell AMOUNT of TOKEN (rec or akre) for the other one.

    \b
    Examples:
      degen pool swap 10 rec --slippage 0.5 --account TEST::2    # sell 10 RECs
      degen pool swap 0.2 akre --account TEST::1                 # buy RECs with 0.2 AKRE
    """
    token = token.lower()
    units = base_units(amount, token)
    with connected(network, directory) as deployed:
        sold, bought = pool.swap(deployed, load_account(alias), token, units, slippage)
        other = "akre" if token == "rec" else "rec"
        click.echo(f"sold {pool.amount_text(sold, token)} for {pool.amount_text(bought, other)}")


@pool_group.command()
@click.option("--out", default="pool-week.png", show_default=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--days", default=7, show_default=True, type=click.IntRange(1, 90))
@click.option("--seed", default=1, show_default=True, type=int, help="Seed of the simulated trades.")
@click.option("--half-life-days", type=click.FloatRange(1 / 24, 36_500),
              help="Simulate another half-life (default: the pool's own).")
@chain_options
@failures
def chart(out: Path, days: int, seed: int, half_life_days: float | None, network: str, directory: Path):
    """Draw the pool's REC reserve and price over a simulated week of dissipation and trades,
    starting from its state on chain (the reference model the tests hold the contract to).

    \b
    Example:
      degen pool chart --out pool-week.png --days 7
    """
    with connected(network, directory, read_only=True) as deployed:
        state = pool.read(deployed)
    half_life = round(half_life_days * 86400) if half_life_days else state.half_life
    points = pool.simulate_week(state, days=days, seed=seed, half_life=half_life)
    pool.chart(points, out, half_life=half_life)
    first, last = points[0], points[-1]
    click.echo(f"wrote {out}: {days} days, REC reserve {first.rec / MWH_PER_REC:,.3f} → {last.rec / MWH_PER_REC:,.3f} kWh "
               f"({last.dissipated / MWH_PER_REC:,.3f} dissipated), price {first.spot / 10**18:.6f} → "
               f"{last.spot / 10**18:.6f} AKRE per REC")
