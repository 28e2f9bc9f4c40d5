# pragma version ~=0.4.3
"""
@title payments
@custom:contract-name payments
@license GNU Affero General Public License v3.0 only
@notice The AKRE that JobMarket holds (escrows, stakes, bonds, fees)
        moves in and out through these two functions only, so that a
        token returning nothing or `False` is handled in one place.
"""


# @dev The payment token (AKRE) is an ERC-20.
from ethereum.ercs import IERC20


# @dev The payment token.
PAYMENT_TOKEN: public(immutable(IERC20))


@deploy
def __init__(payment_token_: IERC20):
    """
    @dev Binds the market to `payment_token_` for good.
    @param payment_token_ The AKRE token.
    """
    PAYMENT_TOKEN = payment_token_


@internal
def _pull(owner: address, amount: uint256):
    """
    @dev Takes `amount` from `owner`, who approved this contract.
    """
    assert extcall PAYMENT_TOKEN.transferFrom(owner, self, amount, default_return_value=True), "market: transfer in failed"


@internal
def _push(to: address, amount: uint256):
    """
    @dev Sends `amount` to `to`.
    """
    assert extcall PAYMENT_TOKEN.transfer(to, amount, default_return_value=True), "market: transfer out failed"
