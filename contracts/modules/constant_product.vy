# pragma version ~=0.4.3
"""
@title constant_product
@custom:contract-name constant_product
@license GNU Affero General Public License v3.0 only
@notice The pricing of a constant-product pool with a fee on the input
        (Uniswap v2's `getAmountOut` / `getAmountIn`): every swap of
        EnergyPool and every quote composes these two functions, and
        docs/SPEC.md states their rounding. Pure: no state, so a contract
        imports it without initializing it.
"""


# @dev The swap fee, in basis points of the input.
FEE_BPS: public(constant(uint256)) = 30
_BPS: constant(uint256) = 10_000
# @dev Reserves are kept in 112 bits; no single input may exceed that either.
MAX_RESERVE: constant(uint256) = 2**112 - 1


@pure
@external
def get_amount_out(amount_in: uint256, reserve_in: uint256, reserve_out: uint256) -> uint256:
    """
    @notice The output of selling `amount_in` into reserves `reserve_in`/
            `reserve_out`, after the fee, rounded down.
    @param amount_in Input amount.
    @param reserve_in Reserve of the input token.
    @param reserve_out Reserve of the output token.
    @return uint256 Output amount.
    """
    return self._get_amount_out(amount_in, reserve_in, reserve_out)


@pure
@external
def get_amount_in(amount_out: uint256, reserve_in: uint256, reserve_out: uint256) -> uint256:
    """
    @notice The input needed to buy `amount_out` from reserves `reserve_in`/
            `reserve_out`, after the fee, rounded up.
    @param amount_out Output amount.
    @param reserve_in Reserve of the input token.
    @param reserve_out Reserve of the output token.
    @return uint256 Input amount.
    """
    return self._get_amount_in(amount_out, reserve_in, reserve_out)


@pure
@internal
def _get_amount_out(amount_in: uint256, reserve_in: uint256, reserve_out: uint256) -> uint256:
    assert amount_in > 0, "pool: zero amount"
    assert amount_in <= MAX_RESERVE, "pool: amount too large"
    assert reserve_in > 0 and reserve_out > 0, "pool: insufficient liquidity"
    amount_in_with_fee: uint256 = amount_in * (_BPS - FEE_BPS)
    amount_out: uint256 = amount_in_with_fee * reserve_out // (reserve_in * _BPS + amount_in_with_fee)
    assert amount_out > 0, "pool: zero output"
    return amount_out


@pure
@internal
def _get_amount_in(amount_out: uint256, reserve_in: uint256, reserve_out: uint256) -> uint256:
    assert amount_out > 0, "pool: zero amount"
    assert reserve_in > 0 and amount_out < reserve_out, "pool: insufficient liquidity"
    return reserve_in * amount_out * _BPS // ((reserve_out - amount_out) * (_BPS - FEE_BPS)) + 1
