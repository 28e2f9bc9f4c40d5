# pragma version ~=0.4.3
"""
@title Sandwich
@custom:contract-name Sandwich
@license GNU Affero General Public License v3.0 only
@notice TEST ONLY: a flash manipulation of an EnergyPool inside one
        transaction: read the TWAP, buy RECs with a lot of AKRE (spot price
        up), read it again, sell them back, read it a third time. The test
        shows the three readings equal while the spot price moved.
@custom:kill Test fixture; it holds only the AKRE a test gives it.
"""

from ethereum.ercs import IERC20
from ..interfaces import IEnergyPool


@external
def sandwich(pool: IEnergyPool, akre_amount: uint256, window: uint256) -> DynArray[uint256, 4]:
    """
    @return DynArray TWAP before, during and after, and the spot price (AKRE per REC) in between.
    """
    rec: address = staticcall pool.REC_TOKEN()
    akre: address = staticcall pool.AKRE_TOKEN()
    before: uint256 = staticcall pool.consult(window)
    extcall IERC20(akre).transfer(pool.address, akre_amount)
    bought: uint256 = extcall pool.swap_received(akre, 0, self, max_value(uint256))
    during: uint256 = staticcall pool.consult(window)
    rec_reserve: uint256 = 0
    akre_reserve: uint256 = 0
    rec_reserve, akre_reserve = staticcall pool.get_reserves()
    extcall IERC20(rec).transfer(pool.address, bought)
    extcall pool.swap_received(rec, 0, self, max_value(uint256))
    after: uint256 = staticcall pool.consult(window)
    return [before, during, after, akre_reserve * 10**6 // rec_reserve]
