"""Attacks through the payment token: a hostile ERC-20 re-enters the market from inside
its payouts (the reentrancy lock must stop it before any state check is reached), and an
oversized supply probes the packed stake word."""

import pytest
from eth_account import Account

from degen import receipts
from degen.deploy import AKRE
from degen.models import EnergyReceipt, GenerationParams, JobTerms
from tests.conftest import MODEL_ID, PROMPT


@pytest.fixture
def hostile(project, deployer, requester, provider, registry, rec, chain):
    """A market whose payment token is hostile, with one delivered job on it."""
    token = deployer.deploy(project.ReentrantToken, 10**6 * AKRE)
    market = deployer.deploy(project.JobMarket, token, registry, rec, deployer, 0, 0)
    meter = Account.from_key(b"\x55" * 32)
    site = registry.register_site(meter.address, 1_000, 0, 450, "XX", sender=provider).return_value
    registry.activate(site, sender=deployer)
    for who in (requester, provider):
        token.transfer(who, 100 * AKRE, sender=deployer)
        token.approve(market, 2**256 - 1, sender=who)
    market.deposit_stake(10 * AKRE, sender=provider)
    offer = market.create_offer(site, MODEL_ID, 512, 512, 20, AKRE, 0, AKRE, False, sender=provider).return_value
    terms = JobTerms(offer_id=offer, max_price=5 * AKRE, deadline=chain.pending_timestamp + 3600)
    job_id = market.create_job(terms.as_tuple(), PROMPT, GenerationParams(seed=1).as_tuple(), sender=requester).return_value
    market.accept(job_id, offer, sender=provider)
    chain.pending_timestamp += 60
    started = market.job(job_id).state_since
    receipt = EnergyReceipt(job_id=job_id, result_hash=b"\x01" * 32, started_at=started, finished_at=started + 10,
                            energy_mwh=100, meter_start=0, meter_end=100)
    market.deliver(job_id, receipt.as_tuple(), receipts.sign(receipt, meter, chain.chain_id, market.address), sender=provider)
    return token, market, job_id


@pytest.mark.parametrize("reentry", ["settle", "withdraw_stake"])
def test_reentrant_payout_is_locked_out(reentry, hostile, requester, provider):
    token, market, job_id = hostile
    args = (job_id,) if reentry == "settle" else (1,)
    token.arm(market, getattr(market, reentry).encode_input(*args), sender=requester)
    before = token.balanceOf(provider)
    market.settle(job_id, sender=requester)
    assert not token.reentry_succeeded()
    assert token.reentry_result() == b""  # the lock, not a later state check, refused it
    assert token.balanceOf(provider) == before + market.price_of(job_id)  # paid exactly once


def test_stake_word_cannot_overflow(project, deployer, provider, registry, rec, reverts):
    """A token with a supply beyond 2^128 cannot push a stake past its packed storage word."""
    token = deployer.deploy(project.ReentrantToken, 2**130)
    market = deployer.deploy(project.JobMarket, token, registry, rec, deployer, 0, 0)
    token.transfer(provider, 2**129, sender=deployer)
    token.approve(market, 2**256 - 1, sender=provider)
    market.deposit_stake(2**128 - 2, sender=provider)
    with reverts("market: stake too large"):
        market.deposit_stake(2, sender=provider)
    market.deposit_stake(1, sender=provider)
    assert market.stake_of(provider) == (2**128 - 1, 0)


def test_the_whole_stake_is_bounded_so_a_release_cannot_carry_into_the_locked_half(project, deployer, requester, provider,
                                                                                   registry, rec, chain, reverts):
    """Free and locked share one word and a settlement adds the collateral back to free in one
    addition: a deposit that would make free + locked pass 2^128 - 1 is refused, not only one
    that would make free alone pass it."""
    token = deployer.deploy(project.ReentrantToken, 2**130)
    market = deployer.deploy(project.JobMarket, token, registry, rec, deployer, 0, 0)
    site = registry.register_site(Account.from_key(b"\x56" * 32).address, 1_000, 0, 450, "XX", sender=provider).return_value
    registry.activate(site, sender=deployer)
    for who in (requester, provider):
        token.transfer(who, 2**129, sender=deployer)
        token.approve(market, 2**256 - 1, sender=who)
    market.deposit_stake(AKRE, sender=provider)
    offer = market.create_offer(site, MODEL_ID, 512, 512, 20, AKRE, 0, AKRE, False, sender=provider).return_value
    terms = JobTerms(offer_id=offer, max_price=5 * AKRE, deadline=chain.pending_timestamp + 3600)
    job_id = market.create_job(terms.as_tuple(), PROMPT, GenerationParams(seed=1).as_tuple(), sender=requester).return_value
    market.accept(job_id, offer, sender=provider)
    assert market.stake_of(provider) == (0, AKRE)
    with reverts("market: stake too large"):
        market.deposit_stake(2**128 - AKRE, sender=provider)
    market.deposit_stake(2**128 - 1 - AKRE, sender=provider)
    assert market.stake_of(provider) == (2**128 - 1 - AKRE, AKRE)
