"""Green jobs: delivery retires exactly the metered energy in RECs, from the provider, in
the name of the job's certificate beneficiary (the requester unless the terms name another),
with the job id on the certificate; no RECs, no green delivery."""

from degen.models import JobState, JobTerms
from tests.conftest import COLLATERAL, MAX_PRICE, MODEL_ID, PROMPT


def deliver(market, provider, make_receipt, sign, job_id, energy_mwh):
    receipt = make_receipt(job_id, energy_mwh=energy_mwh)
    return market.deliver(job_id, receipt.as_tuple(), sign(receipt), sender=provider)


def test_green_job_end_to_end(green_offer, create_job, market, rec, certificate, token, requester, provider, make_receipt, sign, chain):
    job_id = create_job(offer_id=green_offer, green=True)
    assert market.job(job_id).green
    market.accept(job_id, green_offer, sender=provider)
    chain.pending_timestamp += 60
    recs_before = rec.balanceOf(provider)

    tx = deliver(market, provider, make_receipt, sign, job_id, 1_500)

    cert_id = tx.decode_logs(rec.Retired)[0].certificate_id
    assert cert_id == certificate.totalSupply() and cert_id > 0
    assert rec.balanceOf(provider) == recs_before - 1_500
    record = certificate.certificate(cert_id)
    assert (record.beneficiary, record.amount_mwh, record.job_id, record.retired_by) == (
        requester.address, 1_500, job_id, provider.address)
    assert certificate.ownerOf(cert_id) == requester.address and certificate.balanceOf(requester) == 1
    retired = tx.decode_logs(rec.Retired)[0]
    assert (retired.certificate_id, retired.job_id, retired.amount_mwh) == (cert_id, job_id, 1_500)

    before = token.balanceOf(requester)
    market.settle(job_id, sender=requester)
    assert market.job(job_id).state == JobState.SETTLED
    assert token.balanceOf(requester) == before + MAX_PRICE - market.price_of(job_id)
    assert certificate.balanceOf(requester) == 1  # settlement certifies nothing twice


def test_open_green_job(green_offer, offer_id, create_job, market, rec, provider, certificate, make_receipt, sign, chain, reverts):
    job_id = create_job(offer_id=0, model_id=MODEL_ID, green=True)
    with reverts("market: offer not green"):
        market.accept(job_id, offer_id, sender=provider)
    market.accept(job_id, green_offer, sender=provider)
    chain.pending_timestamp += 60
    tx = deliver(market, provider, make_receipt, sign, job_id, 900)
    assert certificate.certificate(tx.decode_logs(rec.Retired)[0].certificate_id).amount_mwh == 900


def test_green_job_needs_a_green_offer(create_job, offer_id, reverts):
    with reverts("market: offer not green"):
        create_job(offer_id=offer_id, green=True)


def test_plain_job_on_green_offer_retires_nothing(green_offer, create_job, market, rec, provider, make_receipt, sign, chain):
    job_id = create_job(offer_id=green_offer)
    market.accept(job_id, green_offer, sender=provider)
    chain.pending_timestamp += 60
    before = rec.balanceOf(provider)
    tx = deliver(market, provider, make_receipt, sign, job_id, 1_500)
    assert not tx.decode_logs(rec.Retired) and rec.balanceOf(provider) == before


def test_no_recs_no_green_delivery(green_offer, create_job, market, rec, token, provider, requester, attacker, make_receipt, sign, chain, reverts):
    job_id = create_job(offer_id=green_offer, green=True)
    market.accept(job_id, green_offer, sender=provider)
    chain.pending_timestamp += 60
    rec.approve(market, 1_000, sender=provider)
    with reverts("market: RECs not approved"):
        deliver(market, provider, make_receipt, sign, job_id, 1_500)
    rec.approve(market, 2**256 - 1, sender=provider)
    rec.transfer(attacker, rec.balanceOf(provider) - 1_000, sender=provider)
    with reverts("market: provider lacks RECs"):
        deliver(market, provider, make_receipt, sign, job_id, 1_500)
    # The job cannot be delivered green, so it expires: the requester pays nothing and gets the collateral.
    chain.pending_timestamp = market.job(job_id).deadline + 1
    before = token.balanceOf(requester)
    market.expire(job_id, sender=attacker)
    assert token.balanceOf(requester) == before + MAX_PRICE + COLLATERAL


def test_green_job_without_energy_retires_nothing(green_offer, create_job, market, rec, provider, make_receipt, sign, chain):
    job_id = create_job(offer_id=green_offer, green=True)
    market.accept(job_id, green_offer, sender=provider)
    chain.pending_timestamp += 60
    before = rec.balanceOf(provider)
    tx = deliver(market, provider, make_receipt, sign, job_id, 0)
    assert not tx.decode_logs(rec.Retired) and rec.balanceOf(provider) == before


def test_a_requester_posting_for_someone_else_gives_them_the_certificate(
        green_offer, create_job, market, rec, certificate, requester, provider, attacker, make_receipt, sign, chain):
    """An integrator's contract posts for its user: the user, not the contract, owns the certificate."""
    user = attacker.address
    job_id = create_job(offer_id=green_offer, green=True, beneficiary=user)
    assert market.job(job_id).beneficiary == user and market.job(job_id).requester == requester.address
    market.accept(job_id, green_offer, sender=provider)
    chain.pending_timestamp += 60
    tx = deliver(market, provider, make_receipt, sign, job_id, 1_200)
    record = certificate.certificate(tx.decode_logs(rec.Retired)[0].certificate_id)
    assert (record.beneficiary, record.job_id, record.amount_mwh) == (user, job_id, 1_200)
    assert certificate.balanceOf(requester) == 0 and certificate.balanceOf(user) == 1


def test_the_certificate_beneficiary_defaults_to_the_requester_and_is_in_the_event(
        green_offer, offer_id, create_job, market, token, requester, params, chain):
    token.approve(market, MAX_PRICE, sender=requester)
    terms = JobTerms(offer_id=green_offer, max_price=MAX_PRICE, deadline=chain.pending_timestamp + 3600, green=True)
    tx = market.create_job(terms.as_tuple(), PROMPT, params.as_tuple(), sender=requester)
    assert tx.decode_logs(market.JobCreated)[0].beneficiary == requester.address
    assert market.job(tx.return_value).beneficiary == requester.address
    plain = create_job(offer_id=offer_id)
    assert market.job(plain).beneficiary == requester.address
