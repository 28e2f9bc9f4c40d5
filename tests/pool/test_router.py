"""GreenRouter: a provider short of RECs delivers a green job in one transaction that buys
exactly the missing energy from the pool, within its AKRE bound, and only for its own jobs."""

import pytest

from degen.deploy import AKRE
from tests.pool.conftest import FOREVER, SEED_AKRE, SEED_REC


@pytest.fixture
def short_provider(contracts, rec, token, provider, deployer, green_offer, rec_holders):
    """Bob with only 400 mWh of RECs, the deployment's pool seeded, the router set up."""
    pool, router, market = contracts.pool, contracts.router, contracts.market
    for who in (deployer,):
        rec.approve(pool, 2**256 - 1, sender=who)
        token.approve(pool, 2**256 - 1, sender=who)
    pool.add_liquidity(SEED_REC, SEED_AKRE, 0, FOREVER, sender=deployer)
    rec.transfer(deployer, rec.balanceOf(provider) - 400, sender=provider)
    token.approve(router, 2**256 - 1, sender=provider)
    market.set_delivery_operator(router, True, sender=provider)
    return pool, router, market


@pytest.fixture
def green_job(create_job, market, provider, green_offer, chain):
    """Factory: a green job accepted by Bob's green offer."""

    def accepted():
        job_id = create_job(offer_id=green_offer, green=True)
        market.accept(job_id, green_offer, sender=provider)
        chain.pending_timestamp += 60
        return job_id

    return accepted


def test_router_buys_exactly_the_shortfall_inside_the_delivery(
    short_provider, green_job, make_receipt, sign, rec, token, provider, requester, certificate
):
    pool, router, market = short_provider
    job_id = green_job()
    receipt = make_receipt(job_id, energy_mwh=1_500)
    rec_reserve, akre_reserve = pool.get_reserves()
    quote = pool.get_amount_in(1_100, akre_reserve, rec_reserve)  # one block early: decay adds a little
    akre_before = token.balanceOf(provider)
    tx = router.deliver(job_id, receipt.as_tuple(), sign(receipt), quote * 1_001 // 1_000, FOREVER, sender=provider)
    cost = tx.return_value
    assert quote <= cost <= quote * 1_001 // 1_000
    bought = tx.decode_logs(router.ShortfallBought)[0]
    # (an event argument called `provider` is shadowed by ContractLog.provider: read it by name)
    assert bought.event_arguments["provider"] == provider.address
    assert (bought.job_id, bought.rec_amount, bought.akre_amount) == (job_id, 1_100, cost)
    assert rec.balanceOf(provider) == 0 and token.balanceOf(provider) == akre_before - cost
    assert market.job(job_id).state == 4  # DELIVERED (flag value)
    retired = tx.decode_logs(rec.Retired)[0]
    assert (retired.amount_mwh, retired.beneficiary, retired.job_id) == (1_500, requester.address, job_id)
    assert certificate.ownerOf(retired.certificate_id) == requester.address
    assert tx.decode_logs(market.JobDelivered)[0].event_arguments["provider"] == provider.address


def test_router_refuses_a_price_above_the_bound(short_provider, green_job, make_receipt, sign, provider, reverts):
    pool, router, _ = short_provider
    job_id = green_job()
    receipt = make_receipt(job_id, energy_mwh=1_500)
    cost = pool.get_amount_in(1_100, *reversed(pool.get_reserves()))
    with reverts("router: RECs cost more than max_akre"):
        router.deliver(job_id, receipt.as_tuple(), sign(receipt), cost - 1, FOREVER, sender=provider)


def test_router_acts_only_for_the_callers_own_jobs(short_provider, green_job, make_receipt, sign, attacker, provider, reverts):
    pool, router, market = short_provider
    job_id = green_job()
    receipt = make_receipt(job_id, energy_mwh=1_500)
    # The attacker would spend Bob's AKRE allowance to the router: refused.
    with reverts("router: not provider"):
        router.deliver(job_id, receipt.as_tuple(), sign(receipt), 10 * AKRE, FOREVER, sender=attacker)
    # Without Bob naming the router his operator, the market refuses the router.
    market.set_delivery_operator(router, False, sender=provider)
    with reverts("market: not provider"):
        router.deliver(job_id, receipt.as_tuple(), sign(receipt), 10 * AKRE, FOREVER, sender=provider)
    with reverts("market: bad operator"):
        market.set_delivery_operator(provider, True, sender=provider)


def test_router_buys_nothing_when_recs_suffice_or_the_job_is_not_green(
    short_provider, green_job, accepted_job, make_receipt, sign, rec, provider, issue_recs, site_id
):
    pool, router, _ = short_provider
    plain = accepted_job()
    receipt = make_receipt(plain, energy_mwh=1_500)
    assert router.deliver(plain, receipt.as_tuple(), sign(receipt), 0, FOREVER, sender=provider).return_value == 0
    issue_recs(site_id, 2_000)
    green = green_job()
    receipt = make_receipt(green, energy_mwh=1_500)
    tx = router.deliver(green, receipt.as_tuple(), sign(receipt), 0, FOREVER, sender=provider)
    assert tx.return_value == 0 and not tx.decode_logs(router.ShortfallBought)
    assert rec.balanceOf(provider) == 400 + 2_000 - 1_500
