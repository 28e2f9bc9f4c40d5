# pragma version ~=0.4.3
"""
@title GreenRouter
@custom:contract-name GreenRouter
@license GNU Affero General Public License v3.0 only
@notice Lets a provider deliver a green job without holding every REC it
        needs: in the delivery transaction it buys the shortfall (the
        receipt's energy minus the provider's REC balance) from the
        EnergyPool with the provider's AKRE, at most `max_akre`, then
        delivers through the market, which retires the RECs as always. So
        green settlement never fails for lack of certificates while the pool
        has liquidity at an acceptable price.
        Setup, once per provider: approve this router on AkreToken and name
        it delivery operator on the market (`set_delivery_operator`); the
        RECs bought land in the provider's wallet, covered by its existing
        REC allowance to the market. The router acts only for the caller's
        own jobs and holds nothing between transactions.
@custom:kill No owner and no state: a provider stops it with
             `set_delivery_operator(router, False)` on the market and by
             revoking its AKRE allowance.
"""


from ethereum.ercs import IERC20
from .interfaces import IJobMarket
from .interfaces import IEnergyPool


# @dev The market delivered to and the pool bought from.
MARKET: public(immutable(IJobMarket))
POOL: public(immutable(IEnergyPool))
# @dev The pool's tokens.
REC_TOKEN: public(immutable(IERC20))
AKRE_TOKEN: public(immutable(IERC20))


# @dev RECs bought from the pool for a green delivery.
event ShortfallBought:
    job_id: indexed(uint256)
    provider: indexed(address)
    rec_amount: uint256
    akre_amount: uint256


@deploy
def __init__(market_: IJobMarket, pool_: IEnergyPool):
    """
    @param market_ The JobMarket.
    @param pool_ An EnergyPool of the RECToken the market retires.
    """
    MARKET = market_
    POOL = pool_
    REC_TOKEN = IERC20(staticcall pool_.REC_TOKEN())
    AKRE_TOKEN = IERC20(staticcall pool_.AKRE_TOKEN())


@external
@nonreentrant
def deliver(
    job_id: uint256,
    receipt: IJobMarket.EnergyReceipt,
    signature: Bytes[65],
    max_akre: uint256,
    deadline: uint256,
) -> uint256:
    """
    @notice Delivers the caller's job like `JobMarket.deliver`, first buying
            the RECs a green job's receipt needs beyond the caller's balance.
    @param job_id The job.
    @param receipt The meter-signed energy receipt.
    @param signature The meter key's signature over the receipt.
    @param max_akre The most AKRE to spend on RECs.
    @param deadline Latest block time for the purchase.
    @return uint256 AKRE spent (0 when no RECs were missing).
    """
    job: IJobMarket.Job = staticcall MARKET.job(job_id)
    provider: address = (staticcall MARKET.offer(job.offer_id)).provider
    assert provider == msg.sender, "router: not provider"
    spent: uint256 = 0
    energy: uint256 = convert(receipt.energy_mwh, uint256)
    if job.green:
        held: uint256 = staticcall REC_TOKEN.balanceOf(provider)
        if energy > held:
            spent = self._buy(job_id, provider, energy - held, max_akre, deadline)
    extcall MARKET.deliver(job_id, receipt, signature)
    return spent


@internal
def _buy(job_id: uint256, provider: address, rec_amount: uint256, max_akre: uint256, deadline: uint256) -> uint256:
    """
    @dev Pays the pool the AKRE that buys `rec_amount` now, straight from the
         provider, and has the RECs sent to the provider.
    """
    rec_reserve: uint256 = 0
    akre_reserve: uint256 = 0
    rec_reserve, akre_reserve = staticcall POOL.get_reserves()
    cost: uint256 = staticcall POOL.get_amount_in(rec_amount, akre_reserve, rec_reserve)
    assert cost <= max_akre, "router: RECs cost more than max_akre"
    extcall AKRE_TOKEN.transferFrom(provider, POOL.address, cost)
    extcall POOL.swap_received(AKRE_TOKEN.address, rec_amount, provider, deadline)
    log ShortfallBought(job_id=job_id, provider=provider, rec_amount=rec_amount, akre_amount=cost)
    return cost
