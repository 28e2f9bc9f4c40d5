"""The EnergyPool's maths in Python, integer step for integer step: the reference the tests
hold the contract to (fee, rounding directions, decay, LP shares, the price accumulator and
its observations) and the engine of `degen pool chart`. Every refusal raises `PoolError`
with the contract's revert reason."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

FEE_BPS = 30
BPS = 10_000
MINIMUM_LIQUIDITY = 1_000
OBSERVATION_PERIOD = 900
OBSERVATIONS = 96
MWH_PER_REC = 10**6
WAD = 10**18
LN2_WAD = 693_147_180_559_945_309
MAX_RESERVE = 2**112 - 1
CUMULATIVE_MODULUS = 2**224
MONTH = 30 * 86400


class PoolError(ValueError):
    """A refused pool action; the message is the contract's revert reason."""


def half_life_for_monthly_loss(fraction: float) -> int:
    """The half-life (seconds) of a reserve that loses `fraction` of itself every 30 days."""
    if not 0 < fraction < 1:
        raise ValueError(f"a monthly loss is a fraction between 0 and 1, got {fraction}")
    return round(MONTH * math.log(2) / -math.log(1 - fraction))


def monthly_loss(half_life: int) -> float:
    """The fraction of a reserve with this half-life (seconds, 0: none) that decays in 30 days."""
    return 1 - 0.5 ** (MONTH / half_life) if half_life else 0.0


def decay_rate_wad(half_life: int) -> int:
    """lambda = ln 2 / half-life per second, scaled by 1e18, as the contract fixes it."""
    return LN2_WAD // half_life if half_life else 0


def _sdiv(a: int, b: int) -> int:
    """EVM signed division: truncates toward zero."""
    quotient = abs(a) // abs(b)
    return quotient if (a >= 0) == (b > 0) else -quotient


def wad_exp(x: int) -> int:
    """exp(x / 1e18) * 1e18 exactly as snekmate's `math._wad_exp` computes it (a (6, 7)-term
    rational approximation after range reduction by powers of two, in 2**96 fixed point).
    The steps and constants are transcribed so that the model matches the chain bit for bit;
    a test checks this against the contract over random inputs."""
    if x <= -41_446_531_673_892_822_313:
        return 0
    if x >= 135_305_999_368_893_231_589:
        raise OverflowError("math: wad_exp overflow")
    x = _sdiv(x << 78, 5**18)
    ln2_q96 = 54_916_777_467_707_473_351_141_471_128
    k = (_sdiv(x << 96, ln2_q96) + 2**95) >> 96
    x -= k * ln2_q96
    y = (((x + 1_346_386_616_545_796_478_920_950_773_328) * x) >> 96) + 57_155_421_227_552_351_082_224_309_758_442
    p = (
        ((((y + x - 94_201_549_194_550_492_254_356_042_504_812) * y) >> 96) + 28_719_021_644_029_726_153_956_944_680_412_240)
        * x
    ) + (4_385_272_521_454_847_904_659_076_985_693_276 << 96)
    q = (((x - 2_855_989_394_907_223_263_936_484_059_900) * x) >> 96) + 50_020_603_652_535_783_019_961_831_881_945
    q = ((q * x) >> 96) - 533_845_033_583_426_703_283_633_433_725_380
    q = ((q * x) >> 96) + 3_604_857_256_930_695_427_073_651_918_091_429
    q = ((q * x) >> 96) - 14_423_608_567_350_463_180_887_372_962_807_573
    q = ((q * x) >> 96) + 26_449_188_498_355_588_339_934_803_723_976_023
    r = _sdiv(p, q)
    return (r * 3_822_833_074_963_236_453_042_738_258_902_158_003_155_416_615_667) >> (195 - k)


def decayed(reserve: int, rate_wad: int, elapsed: int) -> int:
    """The REC reserve after `elapsed` seconds of decay, rounded down (never above `reserve`)."""
    if rate_wad == 0 or reserve == 0 or elapsed == 0:
        return reserve
    return reserve * min(wad_exp(-rate_wad * elapsed), WAD) // WAD


def amount_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """What selling `amount_in` pays after the 0.3 % fee, rounded down (Uniswap v2's getAmountOut)."""
    if amount_in <= 0:
        raise PoolError("pool: zero amount")
    if amount_in > MAX_RESERVE:
        raise PoolError("pool: amount too large")
    if reserve_in <= 0 or reserve_out <= 0:
        raise PoolError("pool: insufficient liquidity")
    with_fee = amount_in * (BPS - FEE_BPS)
    out = with_fee * reserve_out // (reserve_in * BPS + with_fee)
    if out == 0:
        raise PoolError("pool: zero output")
    return out


def amount_in(amount_out_: int, reserve_in: int, reserve_out: int) -> int:
    """What buying `amount_out_` costs after the fee, rounded up (Uniswap v2's getAmountIn)."""
    if amount_out_ <= 0:
        raise PoolError("pool: zero amount")
    if reserve_in <= 0 or amount_out_ >= reserve_out:
        raise PoolError("pool: insufficient liquidity")
    return reserve_in * amount_out_ * BPS // ((reserve_out - amount_out_) * (BPS - FEE_BPS)) + 1


def price_per_rec(rec: int, akre: int) -> float:
    """The spot price of one REC (10**6 mWh) in AKRE base units (for display and charts)."""
    return akre * MWH_PER_REC / rec if rec else math.inf


@dataclass
class PoolModel:
    """One pool's state. Tokens are named "rec" and "akre"; times are unix seconds and must
    not go backwards. `dissipated` counts every mWh the decay burned."""

    half_life: int
    rec: int = 0
    akre: int = 0
    supply: int = 0
    cumulative: int = 0
    timestamp: int = 0
    index: int = 0
    observations: list[tuple[int, int]] = field(default_factory=lambda: [(0, 0)] * OBSERVATIONS)
    dissipated: int = 0

    @property
    def rate_wad(self) -> int:
        return decay_rate_wad(self.half_life)

    def at(self, now: int) -> tuple[int, int, int]:
        """(REC reserve, AKRE reserve, cumulative price) at `now`, without changing the pool."""
        if self.timestamp == 0 or now == self.timestamp:
            return self.rec, self.akre, self.cumulative
        elapsed = now - self.timestamp
        if elapsed < 0:
            raise ValueError(f"time went backwards: {now} < {self.timestamp}")
        rec = decayed(self.rec, self.rate_wad, elapsed)
        cumulative = self.cumulative
        if self.rec and self.akre:
            price_start = (self.akre << 112) // self.rec
            price_end = (self.akre << 112) // rec if rec else price_start
            cumulative = (cumulative + ((price_start + price_end) >> 1) * elapsed) % CUMULATIVE_MODULUS
        return rec, self.akre, cumulative

    def advance(self, now: int) -> int:
        """Brings the pool to `now` as the first action of a block does; returns the RECs burned."""
        if now == self.timestamp:
            return 0
        rec, _, cumulative = self.at(now)
        burned = self.rec - rec
        last = self.timestamp
        self.rec, self.cumulative, self.timestamp = rec, cumulative, now
        if last == 0:
            self.observations[0] = (now, cumulative)
        elif now // OBSERVATION_PERIOD != last // OBSERVATION_PERIOD:
            self.index = (self.index + 1) % OBSERVATIONS
            self.observations[self.index] = (now, cumulative)
        self.dissipated += burned
        return burned

    def add_liquidity(self, rec_amount: int, akre_amount: int, now: int) -> tuple[int, int, int]:
        """Deposits at most the given amounts; returns (RECs taken, AKRE taken, LP minted)."""
        if rec_amount > MAX_RESERVE or akre_amount > MAX_RESERVE:
            raise PoolError("pool: amount too large")
        rec, akre = self._preview(now)
        rec_in, akre_in = rec_amount, akre_amount
        if self.supply == 0:
            liquidity = math.isqrt(rec_in * akre_in)
            if liquidity <= MINIMUM_LIQUIDITY:
                raise PoolError("pool: first deposit too small")
            liquidity -= MINIMUM_LIQUIDITY
            minted = liquidity + MINIMUM_LIQUIDITY
        else:
            if not (rec and akre):
                raise PoolError("pool: depleted")
            matching = rec_amount * akre // rec
            if matching <= akre_amount:
                akre_in = matching
            else:
                rec_in = akre_amount * rec // akre
            liquidity = min(rec_in * self.supply // rec, akre_in * self.supply // akre)
            minted = liquidity
        if liquidity == 0:
            raise PoolError("pool: zero liquidity")
        self._check_reserves(rec + rec_in, akre + akre_in)
        self.advance(now)
        self.rec, self.akre = rec + rec_in, akre + akre_in
        self.supply += minted
        return rec_in, akre_in, liquidity

    def remove_liquidity(self, liquidity: int, now: int) -> tuple[int, int]:
        """Burns `liquidity` LP units for their share; returns (RECs, AKRE) paid."""
        rec, akre = self._preview(now)
        rec_out, akre_out = liquidity * rec // self.supply, liquidity * akre // self.supply
        if rec_out == 0 and akre_out == 0:
            raise PoolError("pool: zero output")
        self.advance(now)
        self.rec, self.akre = rec - rec_out, akre - akre_out
        self.supply -= liquidity
        return rec_out, akre_out

    def swap_exact_in(self, token_in: str, amount: int, now: int) -> int:
        """Sells `amount` of `token_in`; returns the output."""
        reserve_in, reserve_out = self._sides(token_in, now)
        out = amount_out(amount, reserve_in, reserve_out)
        self._book(token_in, amount, out, now)
        return out

    def swap_exact_out(self, token_in: str, amount: int, now: int) -> int:
        """Buys `amount` of the other token; returns the input paid."""
        reserve_in, reserve_out = self._sides(token_in, now)
        paid = amount_in(amount, reserve_in, reserve_out)
        self._book(token_in, paid, amount, now)
        return paid

    def sync(self, rec_balance: int, akre_balance: int, now: int) -> None:
        """Adopts the balances (after decay was burned from them) as the reserves."""
        self._check_reserves(rec_balance, akre_balance)
        self.advance(now)
        self.rec, self.akre = rec_balance, akre_balance

    def consult(self, window: int, now: int) -> int:
        """The contract's `consult`: AKRE base units per REC, time-weighted, rounded down."""
        if window <= 0:
            raise PoolError("pool: zero window")
        _, _, cumulative = self.at(now)
        target = now - window
        stored = [obs for obs in self.observations if obs[0] != 0]
        candidates = [obs for obs in stored if obs[0] <= target]
        if target <= 0 or not stored or not candidates or min(stored)[0] > target:
            raise PoolError("pool: window beyond history")
        then_time, then_cumulative = max(candidates)
        difference = (cumulative - then_cumulative) % CUMULATIVE_MODULUS
        return difference * MWH_PER_REC // (now - then_time) >> 112

    def _preview(self, now: int) -> tuple[int, int]:
        rec, akre, _ = self.at(now)
        return rec, akre

    def _sides(self, token_in: str, now: int) -> tuple[int, int]:
        rec, akre = self._preview(now)
        if token_in == "rec":
            return rec, akre
        if token_in == "akre":
            return akre, rec
        raise PoolError("pool: unknown token")

    def _book(self, token_in: str, paid: int, out: int, now: int) -> None:
        rec, akre = self._preview(now)
        rec, akre = (rec + paid, akre - out) if token_in == "rec" else (rec - out, akre + paid)
        self._check_reserves(rec, akre)
        self.advance(now)
        self.rec, self.akre = rec, akre

    @staticmethod
    def _check_reserves(rec: int, akre: int) -> None:
        if rec > MAX_RESERVE or akre > MAX_RESERVE:
            raise PoolError("pool: reserve overflow")
