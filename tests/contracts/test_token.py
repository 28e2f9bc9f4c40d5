"""AkreToken: metadata, supply, and EIP-2612 permits (including the front-run case that
JobMarket.create_job_with_permit must survive)."""

from degen.deploy import AKRE, DEFAULT_INITIAL_SUPPLY
from degen.models import JobTerms
from degen.permit import sign_permit
from tests.conftest import MAX_PRICE, PROMPT


def test_metadata_and_supply(token, deployer):
    assert (token.name(), token.symbol(), token.decimals()) == ("DeGEN Akre", "AKRE", 18)
    assert token.totalSupply() == DEFAULT_INITIAL_SUPPLY
    assert token.owner() == deployer.address


def _permit(token, owner, spender, value, chain, deadline=None):
    return sign_permit(
        owner.private_key, token=token.address, chain_id=chain.chain_id, owner=owner.address,
        spender=spender.address, value=value, nonce=token.nonces(owner),
        deadline=deadline if deadline is not None else chain.pending_timestamp + 600,
    )


def test_permit_sets_allowance_once(token, requester, attacker, chain, reverts):
    permit = _permit(token, requester, attacker, 5 * AKRE, chain)
    token.permit(requester, attacker, 5 * AKRE, *permit, sender=attacker)
    assert token.allowance(requester, attacker) == 5 * AKRE
    with reverts("erc20: invalid signature"):
        token.permit(requester, attacker, 5 * AKRE, *permit, sender=attacker)


def test_expired_permit_is_refused(token, requester, attacker, chain, reverts):
    permit = _permit(token, requester, attacker, AKRE, chain, deadline=chain.pending_timestamp - 1)
    with reverts("erc20: expired deadline"):
        token.permit(requester, attacker, AKRE, *permit, sender=attacker)


def test_create_job_with_permit(market, token, requester, offer_id, params, chain):
    token.approve(market, 0, sender=requester)
    permit = _permit(token, requester, market, MAX_PRICE, chain)
    terms = JobTerms(offer_id=offer_id, max_price=MAX_PRICE, deadline=chain.pending_timestamp + 3600)
    before = token.balanceOf(requester)
    tx = market.create_job_with_permit(terms.as_tuple(), PROMPT, params.as_tuple(), *permit, sender=requester)
    assert market.job(tx.return_value).max_price == MAX_PRICE
    assert token.balanceOf(requester) == before - MAX_PRICE


def test_front_run_permit_does_not_block_the_job(market, token, requester, attacker, offer_id, params, chain):
    """An attacker who submits the permit first only spends the nonce; the job still goes in."""
    token.approve(market, 0, sender=requester)
    permit = _permit(token, requester, market, MAX_PRICE, chain)
    token.permit(requester, market, MAX_PRICE, *permit, sender=attacker)
    terms = JobTerms(offer_id=offer_id, max_price=MAX_PRICE, deadline=chain.pending_timestamp + 3600)
    tx = market.create_job_with_permit(terms.as_tuple(), PROMPT, params.as_tuple(), *permit, sender=requester)
    assert market.job(tx.return_value).requester == requester.address


def test_permit_for_someone_else_takes_nothing(market, token, requester, attacker, offer_id, params, chain, reverts):
    """A requester's permit cannot be used by an attacker to post a job paid by the requester."""
    token.approve(market, 0, sender=requester)
    permit = _permit(token, requester, market, MAX_PRICE, chain)
    token.approve(market, 0, sender=attacker)
    terms = JobTerms(offer_id=offer_id, max_price=MAX_PRICE, deadline=chain.pending_timestamp + 3600)
    with reverts("erc20: insufficient allowance"):
        market.create_job_with_permit(terms.as_tuple(), PROMPT, params.as_tuple(), *permit, sender=attacker)
    assert token.allowance(requester, market) == 0
