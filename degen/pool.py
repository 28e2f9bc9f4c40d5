"""The EnergyPool from Python, through Ape: its state for `degen pool show`, liquidity and swaps
bounded by a slippage percentage, and the simulated week of dissipation and trades behind
`degen pool chart`. Every refusal is a PoolActionError with one sentence saying what to do."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from degen.contracts import Deployed
from degen.errors import DegenError
from degen.pool_model import MWH_PER_REC, PoolError, PoolModel, decayed, monthly_loss, price_per_rec

AKRE = 10**18
DEADLINE_S = 600
MAX_SLIPPAGE_PCT = 50.0
TOKENS = ("rec", "akre")


class PoolActionError(DegenError, RuntimeError):
    """A pool action cannot go ahead; the message says why and what to do."""


@dataclass(frozen=True)
class PoolState:
    """What `degen pool show` prints: reserves decayed to the latest block, LP supply, the
    decay parameters, the TWAP over `twap_window` seconds (None without enough history) and
    every mWh RECToken ever dissipated."""

    rec: int
    akre: int
    supply: int
    half_life: int
    timestamp: int
    twap: int | None
    twap_window: int
    dissipated: int

    @property
    def spot(self) -> float:
        """AKRE base units per REC at the current reserves."""
        return price_per_rec(self.rec, self.akre)

    def model(self) -> PoolModel:
        """The reference model at this state (accumulator and observations left empty)."""
        return PoolModel(half_life=self.half_life, rec=self.rec, akre=self.akre, supply=self.supply,
                         timestamp=self.timestamp)


def read(deployed: Deployed, twap_window: int = 3600) -> PoolState:
    pool = deployed.pool
    rec, akre = pool.get_reserves()
    now = pool.chain_manager.blocks.head.timestamp
    oldest = pool.oldest_observation()
    twap = pool.consult(twap_window) if 0 < oldest <= now - twap_window else None
    return PoolState(rec=rec, akre=akre, supply=pool.totalSupply(), half_life=pool.HALF_LIFE(), timestamp=now,
                     twap=twap, twap_window=twap_window, dissipated=deployed.rec.total_dissipated())


def at_least(amount: int, slippage_pct: float) -> int:
    """The least of `amount` to accept with `slippage_pct` percent of slippage."""
    return amount * (10_000 - round(slippage_pct * 100)) // 10_000


def swap(deployed: Deployed, account: Any, token_in: str, amount: int, slippage_pct: float) -> tuple[int, int]:
    """Sells `amount` of `token_in` ("rec" or "akre") for the other token; returns (sold, bought)."""
    _check_slippage(slippage_pct)
    state = read(deployed)
    selling = deployed.rec if token_in == "rec" else deployed.token
    _check_balance(selling, account, amount, token_in)
    try:
        quote = state.model().swap_exact_in(token_in, amount, state.timestamp)
    except PoolError as refusal:
        raise PoolActionError(_sentence(str(refusal))) from None
    _approve(selling, account, deployed.pool, amount)
    tx = _send(deployed.pool.swap_exact_in, selling, amount, at_least(quote, slippage_pct), account.address,
               state.timestamp + DEADLINE_S, sender=account)
    return amount, tx.return_value


def add_liquidity(deployed: Deployed, account: Any, rec_amount: int, akre_amount: int,
                  slippage_pct: float) -> tuple[int, int, int]:
    """Deposits at most the given amounts at the pool's ratio; returns (RECs, AKRE, LP minted)."""
    _check_slippage(slippage_pct)
    state = read(deployed)
    try:
        _, _, liquidity = state.model().add_liquidity(rec_amount, akre_amount, state.timestamp)
    except PoolError as refusal:
        raise PoolActionError(_sentence(str(refusal))) from None
    _check_balance(deployed.rec, account, rec_amount, "rec")
    _check_balance(deployed.token, account, akre_amount, "akre")
    _approve(deployed.rec, account, deployed.pool, rec_amount)
    _approve(deployed.token, account, deployed.pool, akre_amount)
    tx = _send(deployed.pool.add_liquidity, rec_amount, akre_amount, at_least(liquidity, slippage_pct),
               state.timestamp + DEADLINE_S, sender=account)
    added = tx.decode_logs(deployed.pool.LiquidityAdded)[0]
    return added.rec_amount, added.akre_amount, added.liquidity


def remove_liquidity(deployed: Deployed, account: Any, percent: float, slippage_pct: float) -> tuple[int, int, int]:
    """Burns `percent` of the account's LP tokens; returns (LP burned, RECs, AKRE)."""
    _check_slippage(slippage_pct)
    held = deployed.pool.balanceOf(account)
    liquidity = held * round(percent * 100) // 10_000
    if liquidity == 0:
        raise PoolActionError(f"{account.address} holds no liquidity in the pool to remove")
    state = read(deployed)
    rec_out, akre_out = liquidity * state.rec // state.supply, liquidity * state.akre // state.supply
    tx = _send(deployed.pool.remove_liquidity, liquidity, at_least(rec_out, slippage_pct),
               at_least(akre_out, slippage_pct), state.timestamp + DEADLINE_S, sender=account)
    paid = tx.return_value
    return liquidity, paid[0], paid[1]


@dataclass(frozen=True)
class Point:
    """One hour of the simulated week."""

    hours: float
    rec: int
    rec_without_trades: int
    spot: float
    twap: float | None
    dissipated: int


def simulate_week(state: PoolState, *, half_life: int, days: int = 7, seed: int = 1) -> list[Point]:
    """`days` of hourly trading on the reference model, from the pool's state: by day, sites
    with surplus sell RECs; in the evening, providers buy RECs for green jobs; an arbitrageur
    restocks the pool whenever the REC price drifts 2 % above where it started (the decay
    keeps pushing it up). `half_life` may differ from the pool's, to show the decay. Seeded,
    so a chart can be reproduced."""
    if state.rec == 0 or state.akre == 0:
        raise PoolActionError("the pool has no liquidity to simulate; add some first (degen pool add)")
    rng = random.Random(seed)
    model = PoolModel(half_life=half_life, rec=state.rec, akre=state.akre, supply=state.supply)
    start = state.timestamp
    model.advance(start)
    reference = price_per_rec(model.rec, model.akre)
    points = [_point(model, start, start, state.rec)]
    for hour in range(days * 24):
        now = start + hour * 3600 + rng.randrange(1, 3600)
        local_hour = hour % 24
        if 8 <= local_hour < 16 and rng.random() < 0.6:
            _try(model.swap_exact_in, "rec", int(model.rec * rng.uniform(0.002, 0.015)), now)
        elif local_hour >= 17 and rng.random() < 0.5:
            _try(model.swap_exact_out, "akre", int(model.at(now)[0] * rng.uniform(0.002, 0.012)), now)
        rec_now, akre_now, _ = model.at(now + 1)
        if price_per_rec(rec_now, akre_now) > reference * 1.02:
            restock = math.isqrt(rec_now * akre_now * MWH_PER_REC // max(1, int(reference))) - rec_now
            _try(model.swap_exact_in, "rec", restock, now + 1)
        points.append(_point(model, start + (hour + 1) * 3600, start, state.rec))
    return points


def chart(points: list[Point], path: Path, *, half_life: int) -> Path:
    """Draws the REC reserve (with and without trades) and the REC price (spot and 1-hour
    TWAP) over the simulated hours as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    hours = [p.hours for p in points]
    figure, (reserve_axis, price_axis) = pyplot.subplots(2, 1, sharex=True, figsize=(9, 6.5), dpi=110)
    reserve_axis.plot(hours, [p.rec / MWH_PER_REC for p in points], label="REC reserve, with trades", color="#2a7f62")
    reserve_axis.plot(hours, [p.rec_without_trades / MWH_PER_REC for p in points], "--",
                      label="REC reserve, dissipation only", color="#999999")
    reserve_axis.set_ylabel("RECs (kWh)")
    reserve_axis.legend(loc="best")
    decay = (f"half-life {half_life / 86400:,.1f} days ({monthly_loss(half_life):.2%} a month)"
             if half_life else "no decay")
    reserve_axis.set_title(f"EnergyPool, simulated: {decay}; {points[-1].dissipated / MWH_PER_REC:,.3f} REC dissipated")
    price_axis.plot(hours, [p.spot / AKRE for p in points], label="spot", color="#c0562f")
    twap = [(p.hours, p.twap / AKRE) for p in points if p.twap is not None]
    if twap:
        price_axis.plot(*zip(*twap), label="1-hour TWAP (consult)", color="#3366aa")
    price_axis.set_ylabel("AKRE per REC")
    price_axis.set_xlabel("hours")
    price_axis.legend(loc="best")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    pyplot.close(figure)
    return path


def _point(model: PoolModel, now: int, start: int, initial_rec: int) -> Point:
    rec, akre, _ = model.at(now)
    try:
        twap = float(model.consult(3600, now))
    except PoolError:
        twap = None
    return Point(hours=(now - start) / 3600, rec=rec, rec_without_trades=decayed(initial_rec, model.rate_wad, now - start),
                 spot=price_per_rec(rec, akre), twap=twap, dissipated=model.dissipated + model.rec - rec)


def _try(action, token_in: str, amount: int, now: int) -> None:
    """A simulated trade; one the pool would refuse (too small, too large) is skipped."""
    try:
        action(token_in, amount, now)
    except PoolError:
        pass


def _check_slippage(slippage_pct: float) -> None:
    if not 0 <= slippage_pct <= MAX_SLIPPAGE_PCT:
        raise PoolActionError(f"slippage must be between 0 and {MAX_SLIPPAGE_PCT:g} %, got {slippage_pct:g}")


def _check_balance(token: Any, account: Any, amount: int, name: str) -> None:
    held = token.balanceOf(account)
    if held < amount:
        raise PoolActionError(
            f"{account.address} holds {amount_text(held, name)} but the action needs {amount_text(amount, name)}"
        )


def _approve(token: Any, account: Any, spender: Any, amount: int) -> None:
    if token.allowance(account, spender) < amount:
        token.approve(spender, amount, sender=account)


def _send(method, *args, **kwargs):
    from ape.exceptions import ContractLogicError

    try:
        return method(*args, **kwargs)
    except ContractLogicError as exc:
        raise PoolActionError(_sentence(str(exc.message))) from None


def _sentence(reason: str) -> str:
    if reason == "pool: slippage":
        return "the price moved beyond your slippage bound before the transaction ran; quote again or allow more"
    return f"the pool refused: {reason}"


DECIMALS = {"rec": 6, "akre": 18, "lp": 12, "native": 18}
SYMBOLS = {"rec": "REC", "akre": "AKRE", "lp": "DGLP", "native": "native"}  # native: the chain's own token, gas money


def amount_text(amount: int, token: str) -> str:
    """Base units, exactly, as "12.5 REC", "0.000000001 AKRE" or "22.36 DGLP"."""
    value = Decimal(amount).scaleb(-DECIMALS[token]).normalize()
    return f"{value:,f} {SYMBOLS[token]}"
