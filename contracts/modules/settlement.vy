# pragma version ~=0.4.3
"""
@title settlement
@custom:contract-name settlement
@license GNU Affero General Public License v3.0 only
@notice What a delivered job pays and the protocol's cut of it: the price
        is `base + energy x rate`, rounded down and capped at the job's
        `max_price`; the protocol fee (at most 10 %) is taken from the
        price, accrued here and swept to the treasury by anyone.
"""


# @dev The admin sets the fee and the treasury.
from snekmate.auth import access_control
uses: access_control

# @dev Swept fees leave in AKRE.
from . import payments
uses: payments


# @dev The protocol fee never exceeds 10 %.
MAX_FEE_BPS: public(constant(uint256)) = 1000
_BPS: constant(uint256) = 10_000
# @dev 1 kWh = 1,000,000 mWh.
_MWH_PER_KWH: constant(uint256) = 1_000_000
# @dev Bit layout of the fee word: fee bps (16 bits) | accrued fees.
_ACCRUED_SHIFT: constant(uint256) = 16


# @dev Protocol fee in basis points of the price | fees accrued, not yet swept.
_fee_word: uint256
# @dev Where `sweep_fees` sends the accrued protocol fees.
treasury: public(address)


# @dev Accrued protocol fees were sent to the treasury.
event FeesSwept:
    treasury: indexed(address)
    amount: uint256

# @dev The admin changed the fee or the treasury.
event FeeChanged:
    fee_bps: uint256
    treasury: address


@deploy
def __init__(fee_bps_: uint256, treasury_: address):
    """
    @param fee_bps_ The protocol fee in basis points (at most MAX_FEE_BPS).
    @param treasury_ Where protocol fees go.
    """
    self._set_fee(fee_bps_, treasury_)


@external
def set_fee(fee_bps: uint256, treasury: address):
    """
    @notice Sets the protocol fee and the treasury. Admin only.
    @param fee_bps Basis points of each job's price, at most MAX_FEE_BPS.
    @param treasury Where fees go.
    """
    access_control._check_role(access_control.DEFAULT_ADMIN_ROLE, msg.sender)
    self._set_fee(fee_bps, treasury)


@external
@nonreentrant
def sweep_fees():
    """
    @notice Sends the accrued protocol fees to the treasury. Anyone may call.
    """
    fee_word: uint256 = self._fee_word
    amount: uint256 = fee_word >> _ACCRUED_SHIFT
    assert amount > 0, "market: no fees"
    self._fee_word = fee_word % 2**_ACCRUED_SHIFT
    treasury: address = self.treasury
    payments._push(treasury, amount)
    log FeesSwept(treasury=treasury, amount=amount)


@view
@external
def fee_bps() -> uint256:
    """
    @notice The protocol fee, in basis points of each job's price.
    @return uint256 Basis points.
    """
    return self._fee_word % 2**_ACCRUED_SHIFT


@view
@external
def accrued_fees() -> uint256:
    """
    @notice Protocol fees collected and not yet swept to the treasury.
    @return uint256 AKRE base units.
    """
    return self._fee_word >> _ACCRUED_SHIFT


@pure
@internal
def _price(base_price: uint256, price_per_kwh: uint256, energy_mwh: uint256, max_price: uint256) -> uint256:
    """
    @dev `base + energy_mwh * price_per_kwh / 1e6`, rounded down, capped at `max_price`.
    """
    return min(base_price + energy_mwh * price_per_kwh // _MWH_PER_KWH, max_price)


@internal
def _take_fee(price: uint256) -> uint256:
    """
    @dev Accrues the protocol's fee on `price` (rounded down) and returns it.
    """
    fee_word: uint256 = self._fee_word
    fee: uint256 = price * (fee_word % 2**_ACCRUED_SHIFT) // _BPS
    if fee > 0:
        self._fee_word = fee_word + (fee << _ACCRUED_SHIFT)
    return fee


@internal
def _set_fee(fee_bps: uint256, treasury: address):
    assert fee_bps <= MAX_FEE_BPS, "market: fee too high"
    assert treasury != empty(address), "market: treasury is zero"
    self._fee_word = (self._fee_word >> _ACCRUED_SHIFT << _ACCRUED_SHIFT) | fee_bps
    self.treasury = treasury
    log FeeChanged(fee_bps=fee_bps, treasury=treasury)
