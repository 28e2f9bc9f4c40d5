"""The Solidity integrator example (contracts/examples/solidity/GreenComputeDesk.sol), compiled
with solc against the Solidity interfaces only, deployed on anvil and used as a DAO would:
funded with a permit, posting directed and open green jobs whose certificates go to its
members, reading job and site states, and offsetting energy within a TWAP band."""

import pytest
from ape.contracts import ContractContainer
from ethpm_types import ContractType

from degen.deploy import AKRE, DEFAULT_POOL_HALF_LIFE
from degen.models import GenerationParams
from degen.permit import sign_permit
from tests.conftest import MODEL_ID, PROMPT
from tests.pool.conftest import FOREVER, REC
from tests.solidity import ROOT, compile_solidity

HOUR = 3600
PARAMS = GenerationParams(width=512, height=512, steps=20, guidance_x100=750, seed=7).as_tuple()


@pytest.fixture(scope="module")
def desk_type():
    built = compile_solidity([ROOT / "contracts/examples/solidity/GreenComputeDesk.sol"])["GreenComputeDesk"]
    return ContractContainer(ContractType.model_validate(
        {"contractName": "GreenComputeDesk", "abi": built["abi"], "deploymentBytecode": {"bytecode": built["bytecode"]}}))


@pytest.fixture
def desk(desk_type, make_pool, market, deployer, token, requester, chain):
    """The DAO (deployer) deploys the desk with a 1-hour TWAP band of 2 %, makes Alice
    (requester) a member and funds it with 50 AKRE through a permit: no approval."""
    pool = make_pool(half_life=DEFAULT_POOL_HALF_LIFE)
    chain.mine(1, timestamp=chain.blocks.head.timestamp + 2 * HOUR)
    desk = deployer.deploy(desk_type, market, pool, HOUR, 200)
    desk.setMember(requester, True, sender=deployer)
    token.approve(desk, 0, sender=deployer)
    permit = sign_permit(deployer.private_key, token=token.address, chain_id=chain.chain_id, owner=deployer.address,
                         spender=desk.address, value=50 * AKRE, nonce=token.nonces(deployer), deadline=FOREVER)
    desk.fundWithPermit(deployer, 50 * AKRE, *permit, sender=requester)  # anyone may carry the DAO's permit
    assert token.balanceOf(desk) == 50 * AKRE
    return desk, pool


def deliver(market, provider, make_receipt, sign, job_id, offer, chain):
    market.accept(job_id, offer, sender=provider)
    chain.pending_timestamp += 60
    receipt = make_receipt(job_id, energy_mwh=1_000)
    return market.deliver(job_id, receipt.as_tuple(), sign(receipt), sender=provider)


def test_members_get_the_certificates_of_the_green_jobs_the_desk_posts(
        desk, offer_id, green_offer, market, rec, certificate, token, requester, provider, make_receipt, sign, chain):
    desk, _ = desk  # (offer_id: Bob's stake is deposited with his first offer)
    directed = desk.postGreenJob(green_offer, 10 * AKRE, chain.pending_timestamp + HOUR, PROMPT, PARAMS,
                                 sender=requester).return_value
    opened = desk.postOpenGreenJob(MODEL_ID, 0, 10 * AKRE, chain.pending_timestamp + HOUR, PROMPT, PARAMS,
                                   sender=requester).return_value
    assert desk.jobPhase(directed) == desk.jobPhase(opened) == "open"
    assert token.balanceOf(desk) == 30 * AKRE  # both escrows pulled from the budget
    for job_id in (directed, opened):
        job = market.job(job_id)
        assert (job.requester, job.beneficiary, job.green) == (desk.address, requester.address, True)
        tx = deliver(market, provider, make_receipt, sign, job_id, green_offer, chain)
        assert desk.jobPhase(job_id) == "delivered"
        record = certificate.certificate(tx.decode_logs(rec.Retired)[0].certificate_id)
        assert (record.beneficiary, record.job_id, record.amount_mwh) == (requester.address, job_id, 1_000)
        desk.settle(job_id, sender=requester)
        assert desk.jobPhase(job_id) == "settled"
    assert certificate.balanceOf(requester) == 2 and certificate.balanceOf(desk) == 0
    assert token.balanceOf(desk) == 50 * AKRE - market.price_of(directed) - market.price_of(opened)  # refunds came back


def test_only_members_post_and_only_a_jobs_member_settles_or_cancels(desk, green_offer, attacker, requester, chain, reverts):
    desk, _ = desk
    with reverts(desk.NotMember):
        desk.postGreenJob(green_offer, 10 * AKRE, chain.pending_timestamp + HOUR, PROMPT, PARAMS, sender=attacker)
    job_id = desk.postGreenJob(green_offer, 10 * AKRE, chain.pending_timestamp + HOUR, PROMPT, PARAMS,
                               sender=requester).return_value
    with reverts(desk.NotMember):
        desk.cancel(job_id, sender=attacker)
    desk.cancel(job_id, sender=requester)
    assert desk.jobPhase(job_id) == "refunded"


def test_the_desk_reads_a_site_state_as_the_flag_it_is(desk, registry, site_id, deployer):
    desk, _ = desk
    assert desk.siteIsActive(site_id)
    registry.suspend(site_id, sender=deployer)
    assert not desk.siteIsActive(site_id)
    registry.activate(site_id, sender=deployer)
    assert desk.siteIsActive(site_id)


def test_offsetting_buys_within_the_twap_band_and_retires_for_the_beneficiary(
        desk, certificate, token, rec, requester, attacker, reverts):
    desk, pool = desk
    tx = desk.offset(5 * REC, attacker, "Carol", "office power 2026", 10 * AKRE, FOREVER, sender=requester)
    record = certificate.certificate(tx.return_value)
    assert (record.beneficiary, record.amount_mwh, record.retired_by) == (attacker.address, 5 * REC, desk.address)
    assert token.balanceOf(desk) == 50 * AKRE - tx.decode_logs(pool.Swap)[0].amount_in and rec.balanceOf(desk) == 0
    pool.swap_exact_in(token, 20 * AKRE, 0, attacker, FOREVER, sender=attacker)  # a front-run pushes the spot price
    with reverts(desk.SpotAboveTwapBand):
        desk.offset(5 * REC, attacker, "", "", 10 * AKRE, FOREVER, sender=requester)
