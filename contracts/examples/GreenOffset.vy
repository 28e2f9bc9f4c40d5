# pragma version ~=0.4.3
"""
@title GreenOffset (integrator example)
@custom:contract-name GreenOffset
@license GNU Affero General Public License v3.0 only
@notice How a third-party contract composes with DeGEN through its public
        interfaces only: it buys RECs from the EnergyPool with the caller's
        AKRE and retires them at once in a beneficiary's name (the
        certificate is the beneficiary's). It refuses to buy when the pool's
        spot price is more than MAX_PREMIUM_BPS above its time-weighted
        price over WINDOW seconds, so a sandwich or a flash trade that
        pushes the spot price up makes the offset revert instead of
        overpaying. The premium must cover the 0.3 % fee and the purchase's
        own price impact.
@custom:kill No owner and no funds at rest: stop calling it.
"""


from ethereum.ercs import IERC20
from ..interfaces import IEnergyPool
from ..interfaces import IRECToken


_BPS: constant(uint256) = 10_000
_MWH_PER_REC: constant(uint256) = 10**6

# @dev The pool and its tokens.
POOL: public(immutable(IEnergyPool))
REC_TOKEN: public(immutable(address))
AKRE_TOKEN: public(immutable(address))
# @dev The TWAP window (seconds) and the largest accepted premium over it.
WINDOW: public(immutable(uint256))
MAX_PREMIUM_BPS: public(immutable(uint256))


@deploy
def __init__(pool_: IEnergyPool, window_: uint256, max_premium_bps_: uint256):
    """
    @param pool_ The EnergyPool.
    @param window_ TWAP window in seconds.
    @param max_premium_bps_ Largest accepted cost above the TWAP value, in bps.
    """
    assert window_ > 0 and max_premium_bps_ <= _BPS, "offset: bad parameters"
    POOL = pool_
    REC_TOKEN = staticcall pool_.REC_TOKEN()
    AKRE_TOKEN = staticcall pool_.AKRE_TOKEN()
    WINDOW = window_
    MAX_PREMIUM_BPS = max_premium_bps_


@external
@nonreentrant
def offset(
    amount_mwh: uint256,
    beneficiary: address,
    beneficiary_name: String[64],
    reason: String[128],
    max_akre: uint256,
    deadline: uint256,
) -> uint256:
    """
    @notice Buys `amount_mwh` RECs with the caller's AKRE (approved to this
            contract) and retires them for `beneficiary`.
    @param amount_mwh Energy to offset, in mWh.
    @param beneficiary Owner of the retirement certificate.
    @param beneficiary_name Name on the certificate.
    @param reason Reason on the certificate.
    @param max_akre The most AKRE to pay.
    @param deadline Latest block time.
    @return uint256 The certificate id.
    """
    rec_reserve: uint256 = 0
    akre_reserve: uint256 = 0
    rec_reserve, akre_reserve = staticcall POOL.get_reserves()
    cost: uint256 = staticcall POOL.get_amount_in(amount_mwh, akre_reserve, rec_reserve)
    assert cost <= max_akre, "offset: costs more than max_akre"
    fair: uint256 = amount_mwh * staticcall POOL.consult(WINDOW) // _MWH_PER_REC
    assert cost * _BPS <= fair * (_BPS + MAX_PREMIUM_BPS), "offset: spot price above the TWAP band"

    extcall IERC20(AKRE_TOKEN).transferFrom(msg.sender, POOL.address, cost)
    received: uint256 = extcall POOL.swap_received(AKRE_TOKEN, amount_mwh, self, deadline)
    certificate_id: uint256 = extcall IRECToken(REC_TOKEN).retire(amount_mwh, beneficiary, beneficiary_name, reason)
    if received > amount_mwh:
        extcall IERC20(REC_TOKEN).transfer(msg.sender, received - amount_mwh)
    return certificate_id
