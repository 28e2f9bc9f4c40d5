"""The job state machine: every transition, every refusal, and where the money goes."""

import pytest

from degen import limits
from degen.deploy import AKRE
from degen.models import ZERO_ADDRESS, GenerationParams, JobState, JobTerms, fee_of, job_price, request_hash
from tests.conftest import BASE_PRICE, COLLATERAL, FEE_BPS, MAX_PRICE, MODEL_ID, PRICE_PER_KWH, PROMPT


def free_stake(market, provider):
    return market.stake_of(provider)[0]


def locked_stake(market, provider):
    return market.stake_of(provider)[1]


# ------------------------------------------------------------------ create


def test_create_escrows_and_records_the_request(market, token, requester, offer_id, params, chain):
    before = token.balanceOf(requester)
    deadline = chain.pending_timestamp + 3600
    token.approve(market, MAX_PRICE, sender=requester)
    terms = JobTerms(offer_id=offer_id, max_price=MAX_PRICE, deadline=deadline, challenge_window=600)
    tx = market.create_job(terms.as_tuple(), PROMPT, params.as_tuple(), sender=requester)
    job_id = tx.return_value

    event = tx.decode_logs(market.JobCreated)[0]
    assert (event.job_id, event.requester, event.offer_id) == (job_id, requester.address, offer_id)
    assert event.prompt == PROMPT and tuple(event.params) == params.as_tuple()
    assert (event.max_price, event.deadline, event.challenge_window) == (MAX_PRICE, deadline, 600)

    job = market.job(job_id)
    assert job.state == JobState.OPEN and job.requester == requester.address
    assert job.max_price == MAX_PRICE and job.offer_id == offer_id
    assert job.request_hash == request_hash(PROMPT, params)
    assert token.balanceOf(requester) == before - MAX_PRICE
    assert token.balanceOf(market) >= MAX_PRICE


def test_open_job_records_its_terms(create_job, market):
    job_id = create_job(offer_id=0, model_id=MODEL_ID, min_collateral=COLLATERAL)
    assert market.open_terms(job_id) == (MODEL_ID, COLLATERAL)
    assert market.job(job_id).offer_id == 0


def test_prompt_of_max_size_is_accepted_and_larger_refused(create_job, reverts):
    create_job(prompt="x" * limits.MAX_PROMPT_BYTES)
    with reverts():  # the ABI decoder refuses a String over 2048 bytes
        create_job(prompt="x" * (limits.MAX_PROMPT_BYTES + 1))


@pytest.mark.parametrize(
    "change, message",
    [
        ({"prompt": ""}, "market: empty prompt"),
        ({"max_price": limits.MAX_PRICE + 1}, "market: bad max price"),
        ({"deadline_in": limits.MIN_JOB_DURATION - 1}, "market: deadline too soon"),
        ({"deadline_in": limits.MAX_JOB_DURATION + 1}, "market: deadline too far"),
        ({"challenge_window": limits.MIN_CHALLENGE_WINDOW - 1}, "market: bad challenge window"),
        ({"challenge_window": limits.MAX_CHALLENGE_WINDOW + 1}, "market: bad challenge window"),
        ({"width": 63}, "market: bad width"),
        ({"height": 2056}, "market: bad height"),
        ({"steps": 0}, "market: bad steps"),
        ({"width": 68}, "market: size not a multiple of 8"),
        ({"guidance_x100": limits.MAX_GUIDANCE_X100 + 1}, "market: guidance too large"),
        ({"width": 1032}, "market: width above offer"),
        ({"height": 1032}, "market: height above offer"),
        ({"steps": 51}, "market: steps above offer"),
        ({"max_price": BASE_PRICE - 1}, "market: base price above max"),
        ({"min_collateral": COLLATERAL + 1}, "market: collateral too low"),
        ({"model_id": b"\x07" * 32}, "market: wrong model"),
        ({"offer_id": 0}, "market: empty model"),
        ({"offer_id": 0, "model_id": MODEL_ID, "min_collateral": limits.MAX_COLLATERAL + 1}, "market: collateral too large"),
        ({"offer_id": 99}, "market: offer not active"),
        ({"beneficiary": "0x" + "77" * 20}, "market: beneficiary without green"),
    ],
)
def test_create_refuses_bad_input(change, message, market, token, requester, offer_id, params, chain, reverts):
    """Sent raw, as an attacker or a buggy client would: the contract is the last line."""
    token.approve(market, 2**256 - 1, sender=requester)
    now = chain.pending_timestamp + 1
    chain.pending_timestamp = now  # the boundary cases need the exact block time
    terms = {
        "offer_id": offer_id, "model_id": b"\x00" * 32, "max_price": MAX_PRICE, "min_collateral": 0,
        "deadline": now + 3600, "challenge_window": 600, "green": False, "beneficiary": ZERO_ADDRESS,
    }
    generation = params.model_dump()
    prompt = change.pop("prompt", PROMPT)
    if "deadline_in" in change:
        terms["deadline"] = now + change.pop("deadline_in")
    for key, value in change.items():
        (generation if key in generation else terms)[key] = value
    with reverts(message):
        market.create_job(tuple(terms.values()), prompt, tuple(generation.values()), sender=requester)


def test_create_without_allowance_is_refused(market, token, requester, offer_id, params, chain, reverts):
    token.approve(market, 0, sender=requester)
    terms = JobTerms(offer_id=offer_id, max_price=MAX_PRICE, deadline=chain.pending_timestamp + 3600)
    with reverts("erc20: insufficient allowance"):
        market.create_job(terms.as_tuple(), PROMPT, params.as_tuple(), sender=requester)


# ------------------------------------------------------------------ accept


def test_accept_locks_collateral(create_job, market, provider, offer_id):
    job_id = create_job()
    free = free_stake(market, provider)
    tx = market.accept(job_id, offer_id, sender=provider)
    event = tx.decode_logs(market.JobAccepted)[0]
    assert (event.job_id, event["provider"], event.offer_id, event.collateral) == (job_id, provider.address, offer_id, COLLATERAL)
    assert market.stake_of(provider) == (free - COLLATERAL, COLLATERAL)
    job = market.job(job_id)
    assert job.state == JobState.ACCEPTED and job.state_since == tx.timestamp


def test_accept_open_job_binds_the_offer(create_job, market, provider, offer_id):
    job_id = create_job(offer_id=0, model_id=MODEL_ID, min_collateral=COLLATERAL)
    market.accept(job_id, offer_id, sender=provider)
    assert market.job(job_id).offer_id == offer_id
    assert market.open_terms(job_id) == (b"\x00" * 32, 0)


def test_accept_refusals(create_job, market, provider, attacker, offer_id, site_id, registry, deployer, chain, reverts):
    job_id = create_job()
    with reverts("market: not provider"):
        market.accept(job_id, offer_id, sender=attacker)
    other = market.create_offer(site_id, MODEL_ID, 512, 512, 20, BASE_PRICE, 0, 0, False, sender=provider).return_value
    with reverts("market: wrong offer"):
        market.accept(job_id, other, sender=provider)
    registry.suspend(site_id, sender=deployer)
    with reverts("market: site not active"):
        market.accept(job_id, offer_id, sender=provider)
    registry.activate(site_id, sender=deployer)
    market.accept(job_id, offer_id, sender=provider)
    with reverts("market: job not open"):
        market.accept(job_id, offer_id, sender=provider)
    late = create_job()
    chain.pending_timestamp = market.job(late).deadline
    with reverts("market: deadline passed"):
        market.accept(late, offer_id, sender=provider)


def test_accept_needs_free_stake(create_job, market, provider, offer_id, reverts):
    free = free_stake(market, provider)
    market.withdraw_stake(free - COLLATERAL + 1, sender=provider)
    with reverts("market: insufficient stake"):
        market.accept(create_job(), offer_id, sender=provider)


@pytest.mark.parametrize(
    "terms, message",
    [
        ({"model_id": b"\x09" * 32}, "market: wrong model"),
        ({"model_id": MODEL_ID, "min_collateral": COLLATERAL + 1}, "market: collateral too low"),
        ({"model_id": MODEL_ID, "max_price": BASE_PRICE - 1}, "market: base price above max"),
    ],
)
def test_accept_open_job_checks_the_offer(terms, message, create_job, market, provider, offer_id, reverts):
    job_id = create_job(offer_id=0, **terms)
    with reverts(message):
        market.accept(job_id, offer_id, sender=provider)


# ------------------------------------------------------------------ settle


def test_settle_pays_provider_fee_and_refund(delivered_job, market, token, requester, provider, treasury):
    energy = 1_500
    job_id = delivered_job(energy_mwh=energy)
    price = job_price(BASE_PRICE, PRICE_PER_KWH, energy, MAX_PRICE)
    fee = fee_of(price, FEE_BPS)
    assert market.price_of(job_id) == price
    balances = {who: token.balanceOf(who) for who in (requester, provider, treasury)}
    free = free_stake(market, provider)

    tx = market.settle(job_id, sender=requester)

    event = tx.decode_logs(market.JobSettled)[0]
    assert (event.price, event.fee, event.refund) == (price, fee, MAX_PRICE - price)
    assert token.balanceOf(provider) == balances[provider] + price - fee
    assert token.balanceOf(requester) == balances[requester] + MAX_PRICE - price
    assert market.accrued_fees() == fee
    assert market.stake_of(provider) == (free + COLLATERAL, 0)
    assert market.job(job_id).state == JobState.SETTLED

    market.sweep_fees(sender=requester)  # anyone may push the fees on
    assert token.balanceOf(treasury) == balances[treasury] + fee
    assert market.accrued_fees() == 0


def test_price_is_capped_at_max_price(delivered_job, market, token, provider, requester):
    job_id = delivered_job(energy_mwh=3_000, max_price=BASE_PRICE + 1)
    assert market.price_of(job_id) == BASE_PRICE + 1
    tx = market.settle(job_id, sender=requester)
    assert tx.decode_logs(market.JobSettled)[0].refund == 0


@pytest.mark.parametrize("price", [1, 39, 40, 41, 399, 10**18 + 1])
def test_fee_rounds_down_for_the_provider(price, market, govern, provider, site_id, create_job, chain, make_receipt, sign, token, requester, treasury):
    govern((market, market.set_fee.encode_input(limits.MAX_FEE_BPS, treasury)))
    offer = market.create_offer(site_id, MODEL_ID, 512, 512, 20, price, 0, 0, False, sender=provider).return_value
    job_id = create_job(offer_id=offer, max_price=price)
    market.accept(job_id, offer, sender=provider)
    chain.pending_timestamp += 60
    receipt = make_receipt(job_id)
    market.deliver(job_id, receipt.as_tuple(), sign(receipt), sender=provider)
    before = token.balanceOf(provider)
    tx = market.settle(job_id, sender=requester)
    fee = price * limits.MAX_FEE_BPS // 10_000
    assert tx.decode_logs(market.JobSettled)[0].fee == fee
    assert token.balanceOf(provider) - before == price - fee


def test_settle_by_others_waits_for_the_window(delivered_job, market, attacker, chain, reverts):
    job_id = delivered_job()
    job = market.job(job_id)
    with reverts("market: challenge window open"):
        market.settle(job_id, sender=attacker)
    chain.pending_timestamp = job.state_since + job.challenge_window + 1
    market.settle(job_id, sender=attacker)
    assert market.job(job_id).state == JobState.SETTLED


def test_settle_needs_a_delivery(accepted_job, market, requester, reverts):
    with reverts("market: job not delivered"):
        market.settle(accepted_job(), sender=requester)


def test_no_fees_to_sweep(market, attacker, reverts):
    with reverts("market: no fees"):
        market.sweep_fees(sender=attacker)


# ------------------------------------------------------------------ cancel and expire


def test_cancel_refunds_in_full(create_job, market, token, requester):
    job_id = create_job(offer_id=0, model_id=MODEL_ID, min_collateral=1)
    before = token.balanceOf(requester)
    tx = market.cancel(job_id, sender=requester)
    assert tx.decode_logs(market.JobCancelled)[0].refund == MAX_PRICE
    assert token.balanceOf(requester) == before + MAX_PRICE
    assert market.job(job_id).state == JobState.CANCELLED
    assert market.open_terms(job_id) == (b"\x00" * 32, 0)


def test_cancel_refusals(create_job, market, requester, attacker, provider, offer_id, reverts):
    job_id = create_job()
    with reverts("market: not requester"):
        market.cancel(job_id, sender=attacker)
    market.accept(job_id, offer_id, sender=provider)
    with reverts("market: job not open"):
        market.cancel(job_id, sender=requester)


def test_expire_accepted_job_slashes_collateral(accepted_job, market, token, requester, provider, attacker, chain, reverts):
    job_id = accepted_job()
    with reverts("market: deadline not passed"):
        market.expire(job_id, sender=attacker)
    chain.pending_timestamp = market.job(job_id).deadline + 1
    before = token.balanceOf(requester)
    free = free_stake(market, provider)
    tx = market.expire(job_id, sender=attacker)
    event = tx.decode_logs(market.JobExpired)[0]
    assert (event.refund, event.slashed_collateral, event.caller) == (MAX_PRICE, COLLATERAL, attacker.address)
    assert token.balanceOf(requester) == before + MAX_PRICE + COLLATERAL
    assert market.stake_of(provider) == (free, 0)
    assert market.job(job_id).state == JobState.EXPIRED


def test_expire_open_job_refunds(create_job, market, token, requester, attacker, chain):
    job_id = create_job()
    chain.pending_timestamp = market.job(job_id).deadline + 1
    before = token.balanceOf(requester)
    market.expire(job_id, sender=attacker)
    assert token.balanceOf(requester) == before + MAX_PRICE


def test_delivered_job_cannot_expire(delivered_job, market, attacker, chain, reverts):
    job_id = delivered_job()
    chain.pending_timestamp = market.job(job_id).deadline + 1
    with reverts("market: job not expirable"):
        market.expire(job_id, sender=attacker)


# ------------------------------------------------------------------ dispute and resolve


def test_dispute_then_provider_wins(delivered_job, market, token, requester, provider, arbiter):
    job_id = delivered_job()
    bond = market.dispute_bond()
    token.approve(market, bond, sender=requester)
    tx = market.dispute(job_id, sender=requester)
    assert tx.decode_logs(market.JobDisputed)[0].bond == bond
    assert market.bond_of(job_id) == bond and market.job(job_id).state == JobState.DISPUTED
    price = market.price_of(job_id)
    before = token.balanceOf(provider)
    market.resolve(job_id, True, sender=arbiter)
    assert token.balanceOf(provider) == before + price - fee_of(price, FEE_BPS) + bond
    assert market.job(job_id).state == JobState.SETTLED and market.bond_of(job_id) == 0


def test_dispute_then_requester_wins(delivered_job, market, token, requester, provider, arbiter):
    job_id = delivered_job()
    bond = market.dispute_bond()
    token.approve(market, bond, sender=requester)
    market.dispute(job_id, sender=requester)
    before = token.balanceOf(requester)
    free = free_stake(market, provider)
    tx = market.resolve(job_id, False, sender=arbiter)
    event = tx.decode_logs(market.JobRefunded)[0]
    assert (event.refund, event.slashed_collateral) == (MAX_PRICE + bond, COLLATERAL)
    assert token.balanceOf(requester) == before + MAX_PRICE + bond + COLLATERAL
    assert market.stake_of(provider) == (free, 0)
    assert market.job(job_id).state == JobState.REFUNDED


def test_dispute_refusals(delivered_job, market, token, requester, attacker, chain, reverts):
    job_id = delivered_job()
    token.approve(market, 2**256 - 1, sender=requester)
    with reverts("market: not requester"):
        market.dispute(job_id, sender=attacker)
    job = market.job(job_id)
    chain.pending_timestamp = job.state_since + job.challenge_window + 1
    with reverts("market: challenge window closed"):
        market.dispute(job_id, sender=requester)


def test_resolve_refusals(delivered_job, market, token, requester, attacker, arbiter, reverts):
    job_id = delivered_job()
    with reverts("market: job not disputed"):
        market.resolve(job_id, True, sender=arbiter)
    token.approve(market, 2**256 - 1, sender=requester)
    market.dispute(job_id, sender=requester)
    with reverts("access_control: account is missing role"):
        market.resolve(job_id, False, sender=attacker)
    with reverts("market: job not delivered"):
        market.settle(job_id, sender=requester)


# ------------------------------------------------------------------ pause and admin


def test_pause_stops_new_jobs_only(accepted_job, create_job, market, deployer, attacker, make_receipt, sign, provider, requester, reverts):
    job_id = accepted_job()
    with reverts("access_control: account is missing role"):
        market.pause(sender=attacker)
    market.pause(sender=deployer)
    with reverts("pausable: contract is paused"):
        create_job()
    receipt = make_receipt(job_id)
    market.deliver(job_id, receipt.as_tuple(), sign(receipt), sender=provider)
    market.settle(job_id, sender=requester)
    market.unpause(sender=deployer)
    create_job()


def test_admin_settings_go_through_the_timelock(market, deployer, attacker, treasury, govern, reverts):
    for sender in (attacker, deployer):  # the deployer gave its admin role to the timelock
        with reverts("access_control: account is missing role"):
            market.set_fee(100, attacker, sender=sender)
        with reverts("access_control: account is missing role"):
            market.set_dispute_bond(1, sender=sender)
    with reverts("market: fee too high"):
        govern((market, market.set_fee.encode_input(limits.MAX_FEE_BPS + 1, treasury)))
    with reverts("market: treasury is zero"):
        govern((market, market.set_fee.encode_input(100, "0x" + "00" * 20)))
    govern((market, market.set_fee.encode_input(100, treasury)))
    assert market.fee_bps() == 100
    with reverts("market: bond too large"):
        govern((market, market.set_dispute_bond.encode_input(limits.MAX_PRICE + 1)))
    govern((market, market.set_dispute_bond.encode_input(3 * AKRE)))
    assert market.dispute_bond() == 3 * AKRE


def test_generation_params_in_the_sdk_match_the_contract(market):
    assert market.MAX_PROMPT_BYTES() == limits.MAX_PROMPT_BYTES
    for name in ("MIN_JOB_DURATION", "MAX_JOB_DURATION", "MIN_CHALLENGE_WINDOW", "MAX_CHALLENGE_WINDOW",
                 "MIN_IMAGE_SIDE", "MAX_IMAGE_SIDE", "MAX_STEPS", "MAX_GUIDANCE_X100", "MAX_PRICE",
                 "MAX_COLLATERAL", "MAX_FEE_BPS", "MAX_BASE_PRICE", "MAX_PRICE_PER_KWH"):
        assert getattr(market, name)() == getattr(limits, name), name
    assert GenerationParams(seed=1).width <= limits.MAX_IMAGE_SIDE
