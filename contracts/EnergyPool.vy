# pragma version ~=0.4.3
"""
@title EnergyPool
@custom:contract-name EnergyPool
@license GNU Affero General Public License v3.0 only
@notice A constant-product market between RECs (1 unit = 1 mWh) and AKRE,
        whose REC reserve dissipates like stored energy. The pool is its own
        LP token (ERC-20 with EIP-2612 permit, 12 decimals). Swaps pay a 0.3% fee to the
        liquidity providers; the first deposit locks MINIMUM_LIQUIDITY LP
        units in the pool for good.

        Dissipation: the REC reserve decays as R(t) = R(t0) * exp(-lambda * (t - t0)),
        lambda = ln 2 / HALF_LIFE, fixed at deployment (HALF_LIFE 0: no
        decay, and the maths is exactly Uniswap v2's). The decay is applied
        lazily, before anything else, by the first action of each block: the
        decayed RECs are burned through RECToken.dissipate (its `Dissipated`
        event names this pool). RECs that sit idle lose value as a battery
        loses charge; arbitrage restocks the pool.

        Price: `consult(window)` is the time-weighted price of one REC in
        AKRE over at least `window` seconds, from a cumulative price updated
        on the first action of each block from the reserves as they stood
        before it (Uniswap v2's accumulator; the price's rise under decay is
        integrated by the trapezoid rule), and observations of it kept once
        per OBSERVATION_PERIOD. Trades inside one block never move it;
        moving it takes holding a price across blocks, against arbitrage.
        Spot reserves (`get_reserves`) are for quoting a trade, never for
        valuing anything: one swap moves them arbitrarily far.
@custom:kill The pool has no owner and cannot be stopped: liquidity
             providers can always withdraw with `remove_liquidity`. To retire
             it, stop routing to it and let them withdraw.
"""


from ethereum.ercs import IERC20
from .interfaces import IRECToken

# @dev snekmate's ERC-20 needs an owner; the LP token has no owner powers exported.
from snekmate.auth import ownable
initializes: ownable

# @dev The LP token; only this contract mints and burns it.
from snekmate.tokens import erc20
initializes: erc20[ownable := ownable]

# @dev The deployer gives up the owner and minter powers snekmate grants it.
from .modules import ownerless
initializes: ownerless[ownable := ownable, erc20 := erc20]

# @dev `_wad_exp` for the decay factor.
from snekmate.utils import math

# @dev The swap pricing (fee on the input); pure, so not initialized.
from .modules import constant_product

exports: (
    erc20.transfer,
    erc20.transferFrom,
    erc20.approve,
    erc20.balanceOf,
    erc20.allowance,
    erc20.totalSupply,
    erc20.name,
    erc20.symbol,
    erc20.decimals,
    erc20.permit,
    erc20.nonces,
    erc20.DOMAIN_SEPARATOR,
    erc20.eip712Domain,
    constant_product.__interface__,
)


# @dev LP units locked in the pool by the first deposit.
MINIMUM_LIQUIDITY: public(constant(uint256)) = 1_000
# @dev One observation of the cumulative price is kept per period (seconds).
OBSERVATION_PERIOD: public(constant(uint256)) = 900
# @dev Observations kept: 96 periods of 15 minutes, a day of history.
OBSERVATIONS: public(constant(uint256)) = 96
# @dev Half-life bounds (0 is also allowed: no decay).
MIN_HALF_LIFE: public(constant(uint256)) = 3600
MAX_HALF_LIFE: public(constant(uint256)) = 100 * 365 * 86400
# @dev Units of one REC (1 kWh) in RECToken base units (mWh): prices are quoted per REC.
_MWH_PER_REC: constant(uint256) = 10**6
_LN2_WAD: constant(uint256) = 693_147_180_559_945_309
_WAD: constant(uint256) = 10**18
# @dev Cumulative prices are UQ112.112 price-seconds kept modulo 2**224; only
# differences are meaningful, and they are exact while a window's true
# difference is below 2**224 (any price below 2**95 AKRE units per mWh).
_CUMULATIVE_MODULUS: constant(uint256) = 2**224
# @dev Reserves are packed in 112 bits each, as the pricing bounds inputs.
_MAX_RESERVE: constant(uint256) = constant_product.MAX_RESERVE


# @dev The tokens.
REC_TOKEN: public(immutable(address))
AKRE_TOKEN: public(immutable(address))
# @dev The REC reserve's half-life in seconds (0: no decay) and its decay
# rate lambda = ln 2 / HALF_LIFE per second, scaled by 1e18.
HALF_LIFE: public(immutable(uint256))
DECAY_RATE_WAD: public(immutable(uint256))


# @dev Reserves as of the last action: REC (112 bits) | AKRE (112) | index of
# the newest observation (32).
_reserves_word: uint256
# @dev Cumulative price (224 bits) | time of the last action (32).
_clock_word: uint256
# @dev Ring of observations, each a clock word as it stood at the first
# action of a period.
_observations: uint256[OBSERVATIONS]


# @dev The pool's state as an action sees it.
struct _State:
    rec: uint256
    akre: uint256
    index: uint256
    cumulative: uint256
    timestamp: uint256


event LiquidityAdded:
    provider: indexed(address)
    rec_amount: uint256
    akre_amount: uint256
    liquidity: uint256

event LiquidityRemoved:
    provider: indexed(address)
    rec_amount: uint256
    akre_amount: uint256
    liquidity: uint256

event Swap:
    sender: indexed(address)
    to: indexed(address)
    token_in: indexed(address)
    amount_in: uint256
    amount_out: uint256

# @dev The reserves after every change, decay included.
event Sync:
    reserve_rec: uint256
    reserve_akre: uint256


@deploy
def __init__(rec_token_: address, akre_token_: address, half_life_: uint256):
    """
    @param rec_token_ The RECToken.
    @param akre_token_ The AkreToken.
    @param half_life_ The REC reserve's half-life in seconds, 0 for none
           (a Li-ion self-discharge of 2 % a month is 88,930,531 s).
    """
    assert rec_token_ != empty(address) and akre_token_ != empty(address), "pool: zero token"
    assert rec_token_ != akre_token_, "pool: same token"
    assert half_life_ == 0 or (half_life_ >= MIN_HALF_LIFE and half_life_ <= MAX_HALF_LIFE), "pool: bad half-life"
    ownable.__init__()
    # 12 decimals: LP units are sqrt(mWh x AKRE base units), sqrt(10**6 x 10**18).
    erc20.__init__("DeGEN REC-AKRE LP", "DGLP", 12, "EnergyPool", "1")
    ownerless._give_up_deployer_powers()
    REC_TOKEN = rec_token_
    AKRE_TOKEN = akre_token_
    HALF_LIFE = half_life_
    DECAY_RATE_WAD = _LN2_WAD // half_life_ if half_life_ > 0 else 0


@external
@nonreentrant
def add_liquidity(rec_amount: uint256, akre_amount: uint256, min_liquidity: uint256, deadline: uint256) -> uint256:
    """
    @notice Deposits RECs and AKRE for LP tokens. The first deposit sets the
            price; later ones take as much of both as the current ratio
            allows (the rest stays with the caller). Needs allowances on
            both tokens.
    @param rec_amount The most RECs (mWh) to deposit.
    @param akre_amount The most AKRE to deposit.
    @param min_liquidity The fewest LP tokens to accept.
    @param deadline Latest block time to execute at.
    @return uint256 The LP tokens minted to the caller.
    """
    self._check_deadline(deadline)
    assert rec_amount <= _MAX_RESERVE and akre_amount <= _MAX_RESERVE, "pool: amount too large"
    state: _State = self._advance()
    supply: uint256 = erc20.totalSupply
    rec_in: uint256 = rec_amount
    akre_in: uint256 = akre_amount
    liquidity: uint256 = 0
    if supply == 0:
        liquidity = isqrt(rec_in * akre_in)
        assert liquidity > MINIMUM_LIQUIDITY, "pool: first deposit too small"
        liquidity -= MINIMUM_LIQUIDITY
        erc20._mint(self, MINIMUM_LIQUIDITY)
    else:
        assert state.rec > 0 and state.akre > 0, "pool: depleted"
        akre_matching: uint256 = rec_amount * state.akre // state.rec
        if akre_matching <= akre_amount:
            akre_in = akre_matching
        else:
            rec_in = akre_amount * state.rec // state.akre
        liquidity = min(rec_in * supply // state.rec, akre_in * supply // state.akre)
    assert liquidity > 0, "pool: zero liquidity"
    assert liquidity >= min_liquidity, "pool: slippage"

    extcall IERC20(REC_TOKEN).transferFrom(msg.sender, self, rec_in)
    extcall IERC20(AKRE_TOKEN).transferFrom(msg.sender, self, akre_in)
    state.rec += rec_in
    state.akre += akre_in
    self._store(state)
    erc20._mint(msg.sender, liquidity)
    log LiquidityAdded(provider=msg.sender, rec_amount=rec_in, akre_amount=akre_in, liquidity=liquidity)
    return liquidity


@external
@nonreentrant
def remove_liquidity(liquidity: uint256, min_rec: uint256, min_akre: uint256, deadline: uint256) -> (uint256, uint256):
    """
    @notice Burns the caller's LP tokens for their share of both reserves
            (after decay), rounded down.
    @param liquidity LP tokens to burn.
    @param min_rec The fewest RECs to accept.
    @param min_akre The fewest AKRE to accept.
    @param deadline Latest block time to execute at.
    @return (uint256, uint256) RECs and AKRE paid to the caller.
    """
    self._check_deadline(deadline)
    state: _State = self._advance()
    supply: uint256 = erc20.totalSupply
    assert liquidity > 0 and liquidity <= erc20.balanceOf[msg.sender], "pool: not enough liquidity"
    rec_out: uint256 = liquidity * state.rec // supply
    akre_out: uint256 = liquidity * state.akre // supply
    assert rec_out > 0 or akre_out > 0, "pool: zero output"
    assert rec_out >= min_rec and akre_out >= min_akre, "pool: slippage"

    erc20._burn(msg.sender, liquidity)
    state.rec -= rec_out
    state.akre -= akre_out
    self._store(state)
    if rec_out > 0:
        extcall IERC20(REC_TOKEN).transfer(msg.sender, rec_out)
    if akre_out > 0:
        extcall IERC20(AKRE_TOKEN).transfer(msg.sender, akre_out)
    log LiquidityRemoved(provider=msg.sender, rec_amount=rec_out, akre_amount=akre_out, liquidity=liquidity)
    return rec_out, akre_out


@external
@nonreentrant
def swap_exact_in(token_in: address, amount_in: uint256, min_out: uint256, to: address, deadline: uint256) -> uint256:
    """
    @notice Sells exactly `amount_in` of `token_in` (pulled from the caller)
            for the other token, paid to `to`.
    @param token_in RECToken or AkreToken.
    @param amount_in Amount sold.
    @param min_out The least output to accept.
    @param to Receiver of the output.
    @param deadline Latest block time to execute at.
    @return uint256 The output paid.
    """
    self._check_swap(token_in, to, deadline)
    state: _State = self._advance()
    reserve_in: uint256 = 0
    reserve_out: uint256 = 0
    reserve_in, reserve_out = self._sides(state, token_in)
    amount_out: uint256 = constant_product._get_amount_out(amount_in, reserve_in, reserve_out)
    assert amount_out >= min_out, "pool: slippage"
    extcall IERC20(token_in).transferFrom(msg.sender, self, amount_in)
    self._trade(state, token_in, amount_in, amount_out, to)
    return amount_out


@external
@nonreentrant
def swap_exact_out(token_in: address, amount_out: uint256, max_in: uint256, to: address, deadline: uint256) -> uint256:
    """
    @notice Buys exactly `amount_out` of the other token for `token_in`
            (pulled from the caller), paid to `to`.
    @param token_in RECToken or AkreToken.
    @param amount_out Amount bought.
    @param max_in The most input to pay.
    @param to Receiver of the output.
    @param deadline Latest block time to execute at.
    @return uint256 The input paid.
    """
    self._check_swap(token_in, to, deadline)
    state: _State = self._advance()
    reserve_in: uint256 = 0
    reserve_out: uint256 = 0
    reserve_in, reserve_out = self._sides(state, token_in)
    amount_in: uint256 = constant_product._get_amount_in(amount_out, reserve_in, reserve_out)
    assert amount_in <= max_in, "pool: slippage"
    extcall IERC20(token_in).transferFrom(msg.sender, self, amount_in)
    self._trade(state, token_in, amount_in, amount_out, to)
    return amount_in


@external
@nonreentrant
def swap_received(token_in: address, min_out: uint256, to: address, deadline: uint256) -> uint256:
    """
    @notice Sells what was sent to the pool of `token_in` beyond its reserve
            (pay first, then call: for routers and contracts that transfer
            and swap in one transaction; anything left unreserved is taken
            by the next caller).
    @param token_in RECToken or AkreToken.
    @param min_out The least output to accept.
    @param to Receiver of the output.
    @param deadline Latest block time to execute at.
    @return uint256 The output paid.
    """
    self._check_swap(token_in, to, deadline)
    state: _State = self._advance()
    reserve_in: uint256 = 0
    reserve_out: uint256 = 0
    reserve_in, reserve_out = self._sides(state, token_in)
    amount_in: uint256 = staticcall IERC20(token_in).balanceOf(self) - reserve_in
    amount_out: uint256 = constant_product._get_amount_out(amount_in, reserve_in, reserve_out)
    assert amount_out >= min_out, "pool: slippage"
    self._trade(state, token_in, amount_in, amount_out, to)
    return amount_out


@external
@nonreentrant
def skim(to: address):
    """
    @notice Sends the pool's balances beyond its reserves (donations, or
            what was sent without swapping) to `to`.
    @param to Receiver.
    """
    assert to != empty(address) and to != self, "pool: bad recipient"
    state: _State = self._advance()
    self._store(state)
    rec_extra: uint256 = staticcall IERC20(REC_TOKEN).balanceOf(self) - state.rec
    akre_extra: uint256 = staticcall IERC20(AKRE_TOKEN).balanceOf(self) - state.akre
    if rec_extra > 0:
        extcall IERC20(REC_TOKEN).transfer(to, rec_extra)
    if akre_extra > 0:
        extcall IERC20(AKRE_TOKEN).transfer(to, akre_extra)


@external
@nonreentrant
def sync():
    """
    @notice Sets the reserves to the pool's balances (after decay): donated
            tokens become the liquidity providers'.
    """
    state: _State = self._advance()
    state.rec = staticcall IERC20(REC_TOKEN).balanceOf(self)
    state.akre = staticcall IERC20(AKRE_TOKEN).balanceOf(self)
    self._store(state)


@view
@external
def get_reserves() -> (uint256, uint256):
    """
    @notice The reserves now: RECs (decayed to this block) and AKRE. For
            quoting a trade only; never value anything with them.
    @return (uint256, uint256) REC (mWh) and AKRE reserves.
    """
    state: _State = self._current()
    return state.rec, state.akre


@view
@external
def price_cumulative() -> (uint256, uint256):
    """
    @notice The cumulative price now (what the next action would record),
            for integrators who keep their own observations.
    @return (uint256, uint256) Cumulative UQ112.112 AKRE-per-mWh price-seconds
            modulo 2**224, and the block time.
    """
    state: _State = self._current()
    return state.cumulative, state.timestamp


@view
@external
def observation(index: uint256) -> (uint256, uint256):
    """
    @notice One stored observation.
    @param index Ring position, below OBSERVATIONS.
    @return (uint256, uint256) Its time (0: empty) and cumulative price.
    """
    word: uint256 = self._observations[index]
    return word >> 224, word % _CUMULATIVE_MODULUS


@view
@external
def consult(window: uint256) -> uint256:
    """
    @notice The time-weighted price of one REC (10**6 mWh) in AKRE base
            units, from the newest observation at least `window` seconds old
            to now. The span is `window` or up to one OBSERVATION_PERIOD (and
            any idle time) longer, never shorter. Reverts when the pool has
            no observation that old.
    @param window Seconds, more than zero.
    @return uint256 AKRE base units per REC, rounded down.
    """
    assert window > 0, "pool: zero window"
    now: _State = self._current()
    assert now.timestamp > window, "pool: window beyond history"
    then: uint256 = self._observation_before(now.index, now.timestamp - window)
    elapsed: uint256 = now.timestamp - (then >> 224)
    difference: uint256 = (now.cumulative + _CUMULATIVE_MODULUS - then % _CUMULATIVE_MODULUS) % _CUMULATIVE_MODULUS
    return difference * _MWH_PER_REC // elapsed >> 112


@view
@external
def oldest_observation() -> uint256:
    """
    @notice How far back `consult` can look: the time of the oldest stored
            observation (0 before the first action).
    @return uint256 Unix seconds.
    """
    oldest: uint256 = 0
    count: uint256 = 0
    oldest, count = self._ring(self._reserves_word >> 224)
    return self._observations[oldest] >> 224


@view
@internal
def _ring(newest: uint256) -> (uint256, uint256):
    """
    @dev The oldest observation's position and how many are stored.
    """
    oldest: uint256 = (newest + 1) % OBSERVATIONS
    if self._observations[oldest] == 0:
        return 0, newest + 1
    return oldest, OBSERVATIONS


@view
@internal
def _observation_before(newest: uint256, target: uint256) -> uint256:
    """
    @dev The newest observation at or before `target`, found by binary
         search over the ring in age order.
    """
    oldest: uint256 = 0
    count: uint256 = 0
    oldest, count = self._ring(newest)
    first: uint256 = self._observations[oldest]
    assert first != 0 and first >> 224 <= target, "pool: window beyond history"
    # Invariant: the observation at age position `low` is at or before the target.
    low: uint256 = 0
    high: uint256 = count - 1
    for _: uint256 in range(7):  # 2**7 >= OBSERVATIONS
        if low == high:
            break
        middle: uint256 = (low + high + 1) // 2
        if self._observations[(oldest + middle) % OBSERVATIONS] >> 224 <= target:
            low = middle
        else:
            high = middle - 1
    return self._observations[(oldest + low) % OBSERVATIONS]


@view
@internal
def _current() -> _State:
    """
    @dev The state at this block, for the views.
    """
    return self._at(self._reserves_word, self._clock_word)


@view
@internal
def _at(word: uint256, clock: uint256) -> _State:
    """
    @dev The state at this block from the stored words: the REC reserve
         decayed and the cumulative price advanced over the time since the
         last action, both from the reserves as that action left them.
    """
    state: _State = _State(
        rec=word & _MAX_RESERVE,
        akre=(word >> 112) & _MAX_RESERVE,
        index=word >> 224,
        cumulative=clock % _CUMULATIVE_MODULUS,
        timestamp=clock >> 224,
    )
    elapsed: uint256 = block.timestamp - state.timestamp
    if elapsed == 0 or state.timestamp == 0:
        state.timestamp = block.timestamp
        return state
    decayed_rec: uint256 = state.rec
    if DECAY_RATE_WAD > 0 and state.rec > 0:
        # exp(-x) <= 1, also after rounding: the reserve only ever shrinks.
        factor: uint256 = min(convert(math._wad_exp(-convert(DECAY_RATE_WAD * elapsed, int256)), uint256), _WAD)
        decayed_rec = state.rec * factor // _WAD
    if state.rec > 0 and state.akre > 0:
        # The price rose as the RECs decayed: integrate it by the trapezoid rule between
        # the prices at the start and at the end of the span (exact when nothing decays).
        price_start: uint256 = (state.akre << 112) // state.rec
        price_end: uint256 = price_start
        if decayed_rec > 0:
            price_end = (state.akre << 112) // decayed_rec
        state.cumulative = (state.cumulative + ((price_start + price_end) >> 1) * elapsed) % _CUMULATIVE_MODULUS
    state.rec = decayed_rec
    state.timestamp = block.timestamp
    return state


@internal
def _advance() -> _State:
    """
    @dev Brings the pool to this block: records the cumulative price (and an
         observation on a period's first action) and burns the decayed RECs.
         The caller stores the reserves when it is done.
    """
    word: uint256 = self._reserves_word
    clock: uint256 = self._clock_word
    last: uint256 = clock >> 224
    state: _State = self._at(word, clock)
    if last == state.timestamp:
        return state
    new_clock: uint256 = state.cumulative | (state.timestamp << 224)
    self._clock_word = new_clock
    if last == 0:
        self._observations[0] = new_clock
    elif state.timestamp // OBSERVATION_PERIOD != last // OBSERVATION_PERIOD:
        state.index = (state.index + 1) % OBSERVATIONS
        self._observations[state.index] = new_clock
    decayed_from: uint256 = word & _MAX_RESERVE
    if decayed_from > state.rec:
        extcall IRECToken(REC_TOKEN).dissipate(decayed_from - state.rec)
    return state


@internal
def _store(state: _State):
    assert state.rec <= _MAX_RESERVE and state.akre <= _MAX_RESERVE, "pool: reserve overflow"
    self._reserves_word = state.rec | (state.akre << 112) | (state.index << 224)
    log Sync(reserve_rec=state.rec, reserve_akre=state.akre)


@internal
def _trade(state: _State, token_in: address, amount_in: uint256, amount_out: uint256, to: address):
    """
    @dev Books a swap whose input the pool holds, pays the output to `to`.
    """
    new_state: _State = state
    token_out: address = AKRE_TOKEN
    if token_in == REC_TOKEN:
        new_state.rec += amount_in
        new_state.akre -= amount_out
    else:
        token_out = REC_TOKEN
        new_state.akre += amount_in
        new_state.rec -= amount_out
    self._store(new_state)
    extcall IERC20(token_out).transfer(to, amount_out)
    log Swap(sender=msg.sender, to=to, token_in=token_in, amount_in=amount_in, amount_out=amount_out)


@view
@internal
def _sides(state: _State, token_in: address) -> (uint256, uint256):
    """
    @dev The input and output reserves for a swap selling `token_in`.
    """
    if token_in == REC_TOKEN:
        return state.rec, state.akre
    return state.akre, state.rec


@view
@internal
def _check_deadline(deadline: uint256):
    assert block.timestamp <= deadline, "pool: expired"


@view
@internal
def _check_swap(token_in: address, to: address, deadline: uint256):
    self._check_deadline(deadline)
    assert token_in == REC_TOKEN or token_in == AKRE_TOKEN, "pool: unknown token"
    assert to != empty(address) and to != self, "pool: bad recipient"
