"""A green job whose provider lacks RECs, as real processes: anvil, the site simulator, the
worker with `[green]`, the deployment's EnergyPool seeded by a liquidity provider from another
site. The worker buys exactly the shortfall through the GreenRouter within its caps, waits (and
says why) while the pool's price is above them, gives the job up near its deadline, and never
buys twice across a SIGKILL."""

from __future__ import annotations

import signal
import time

import httpx
import pytest
from eth_account import Account

from degen.deploy import AKRE
from degen.models import JobState
from tests.conftest import BASE_PRICE, COLLATERAL, MODEL_ID, PRICE_PER_KWH
from tests.daemons import server_url
from tests.worker.test_daemon import SMALL, events
from worker.journal import JobKey, Journal, Step

REC = 10**6  # mWh
SEED = (100 * REC, 100 * AKRE)  # 1 AKRE a REC
FOREVER = 2**64
TWAP_WINDOW = 600


@pytest.fixture
def pool(contracts, registry, rec, token, deployer, issue_recs, chain):
    """The deployment's pool, seeded by Carol (the deployer) with RECs from her own 100 kW site
    in Kenya, TWAP_WINDOW seconds ago (so the TWAP has that much history)."""
    site = registry.register_site(Account.create().address, 100_000, 200_000, 450, "KE", sender=deployer).return_value
    registry.activate(site, sender=deployer)
    issue_recs(site, SEED[0])
    pool = contracts.pool
    rec.approve(pool, SEED[0], sender=deployer)
    token.approve(pool, SEED[1], sender=deployer)
    pool.add_liquidity(*SEED, 0, FOREVER, sender=deployer)
    chain.pending_timestamp += TWAP_WINDOW + 1
    chain.mine()
    return pool


@pytest.fixture
def router(contracts):
    return contracts.router


@pytest.fixture
def green_offer_without_recs(market, rec, provider, site_id):
    """Bob's green offer; he holds no RECs (his site is new) and lets the market retire his RECs."""
    assert rec.balanceOf(provider) == 0
    rec.approve(market, 2**256 - 1, sender=provider)
    return market.create_offer(site_id, MODEL_ID, 1024, 1024, 50, BASE_PRICE, PRICE_PER_KWH, COLLATERAL, True,
                               sender=provider).return_value


@pytest.fixture
def green_worker(worker_config, start_worker, green_offer_without_recs):
    """Starts Bob's worker with `[green]` (keyword arguments replace its keys)."""

    def start(kill_at=None, **green):
        settings = {"twap_window_s": TWAP_WINDOW, "max_akre_per_job": 1.0, "router_allowance_akre": 2.0} | green
        return start_worker(worker_config(offers=(green_offer_without_recs,), green=settings), kill_at=kill_at)

    return start


def journal_entry(tmp_path, chain, market, job_id):
    journal = Journal(tmp_path / "data" / "journal.sqlite")
    try:
        return journal.get(JobKey(chain.chain_id, market.address, job_id))
    finally:
        journal.close()


def wait_for_step(tmp_path, chain, market, job_id, step, worker, timeout=90):
    deadline = time.monotonic() + timeout
    while (entry := journal_entry(tmp_path, chain, market, job_id)) is None or entry.step != step:
        assert time.monotonic() < deadline, worker.output[-3000:]
        time.sleep(0.2)
    return entry


def test_a_provider_without_recs_buys_exactly_the_shortfall_inside_the_delivery(
    pool, green_worker, green_offer_without_recs, create_job, market, router, rec, token, certificate, provider,
    requester, chain, tmp_path,
):
    worker = green_worker()
    worker.wait_for("GreenRouter set up did=.named the GreenRouter delivery operator")
    worker.wait_for("GreenRouter set up did=.approved the GreenRouter to spend 2 AKRE")
    assert token.allowance(provider, router) == 2 * AKRE  # bounded, not unlimited
    since = chain.blocks.height
    akre_before = token.balanceOf(provider)
    job_id = create_job(offer_id=green_offer_without_recs, green=True, params=SMALL)
    line = worker.wait_for(rf"job delivered job_id={job_id} .*via=GreenRouter", timeout=120).group(0)

    delivered, = events(market.JobDelivered, job_id, chain, since)
    bought, = events(router.ShortfallBought, job_id, chain, since)
    assert bought.rec_amount == delivered.energy_mwh > 0  # he held none: the whole energy was bought
    assert token.balanceOf(provider) == akre_before - bought.akre_amount  # exactly what the pool charged
    swap, = [log for log in pool.Swap.range(since, chain.blocks.height + 1)]
    assert (swap.amount_in, swap.amount_out, swap.token_in) == (bought.akre_amount, bought.rec_amount, token.address)
    retired, = [log for log in rec.Retired.range(since, chain.blocks.height + 1) if log.job_id == job_id]
    assert retired.amount_mwh == delivered.energy_mwh and certificate.ownerOf(retired.certificate_id) == requester.address
    assert rec.balanceOf(provider) == 0

    # The pool's reserves moved by the shortfall (and the REC reserve by its decay, burned in the same transaction).
    syncs = list(pool.Sync.range(0, chain.blocks.height + 1))
    before, after = syncs[-2], syncs[-1]
    dissipated = sum(log.amount_mwh for log in rec.Dissipated.range(bought.block_number, bought.block_number + 1))
    assert after.reserve_akre == before.reserve_akre + bought.akre_amount
    assert after.reserve_rec == before.reserve_rec - dissipated - bought.rec_amount

    entry = journal_entry(tmp_path, chain, market, job_id)
    purchase = entry.data["purchase"]
    assert (purchase["rec_mwh"], purchase["akre"]) == (bought.rec_amount, bought.akre_amount)
    assert abs(purchase["twap"] - pool.consult(TWAP_WINDOW, block_id=bought.block_number)) < AKRE // 1000  # as the worker read it
    assert bought.akre_amount <= purchase["max_akre"] <= purchase["twap"] * bought.rec_amount * 105 // (100 * REC)
    assert f"bought_mwh={bought.rec_amount} " in line and f"premium_pct={purchase['premium_pct']:+.2f}" in line
    metrics = httpx.get(f"{server_url(worker)}/metrics", timeout=10).text
    assert f"degen_worker_recs_bought_mwh_total {float(bought.rec_amount)}" in metrics


def test_above_the_cap_the_worker_waits_and_buys_once_the_price_is_back(
    pool, green_worker, green_offer_without_recs, create_job, market, router, rec, token, attacker, chain,
):
    worker = green_worker(twap_window_s=3600)
    chain.pending_timestamp += 3600
    chain.mine()
    token.approve(pool, 100 * AKRE, sender=attacker)
    pushed = pool.swap_exact_in(token, 100 * AKRE, 0, attacker, FOREVER, sender=attacker).return_value  # REC spot x4
    since = chain.blocks.height
    job_id = create_job(offer_id=green_offer_without_recs, green=True, params=SMALL)
    worker.wait_for(rf"delivery waits for RECs job_id={job_id} reason=.RECs short by [\d,]+ mWh; the pool asks .* "
                    r"\(\+\d+\.\d+ % against the TWAP\), above the cap", timeout=120)
    health = httpx.get(f"{server_url(worker)}/health", timeout=10).json()
    assert "above the cap" in health["waiting"][str(job_id)]
    progress = httpx.get(f"{server_url(worker)}/progress/{job_id}", timeout=10).json()  # what the requester is shown
    assert progress["state"] == "generated" and progress["waiting"] == health["waiting"][str(job_id)]
    time.sleep(1.5)  # several rounds: still waiting, said once
    assert worker.output.count(f"delivery waits for RECs job_id={job_id} ") == 1
    assert market.job(job_id).state == JobState.ACCEPTED and not events(router.ShortfallBought, job_id, chain, since)

    rec.approve(pool, pushed, sender=attacker)
    pool.swap_exact_in(rec, pushed, 0, attacker, FOREVER, sender=attacker)  # the price is back
    worker.wait_for(rf"job delivered job_id={job_id} .*via=GreenRouter", timeout=60)
    bought, = events(router.ShortfallBought, job_id, chain, since)
    assert market.job(job_id).state == JobState.DELIVERED and bought.akre_amount <= AKRE
    assert httpx.get(f"{server_url(worker)}/health", timeout=10).json()["waiting"] == {}
    assert "waiting" not in httpx.get(f"{server_url(worker)}/progress/{job_id}", timeout=10).json()


def test_a_job_short_of_recs_is_given_up_near_its_deadline_when_the_pool_cannot_sell(
    green_worker, green_offer_without_recs, create_job, market, router, token, provider, chain, tmp_path,
):
    """The deployment's pool is empty: no TWAP, nothing to buy."""
    worker = green_worker(deadline_margin_s=60)
    since = chain.blocks.height
    deadline = chain.pending_timestamp + 3600
    job_id = create_job(offer_id=green_offer_without_recs, green=True, params=SMALL, deadline=deadline)
    worker.wait_for(rf"delivery waits for RECs job_id={job_id} reason=.RECs short by [\d,]+ mWh; the pool has no price "
                    r"history over 600 s \(TWAP\) yet", timeout=120)
    akre = token.balanceOf(provider)
    chain.pending_timestamp = deadline - 30
    chain.mine()
    worker.wait_for(rf"job failed job_id={job_id} reason=.not delivered: RECs short by [\d,]+ mWh with \d+ s left before the deadline")
    entry = journal_entry(tmp_path, chain, market, job_id)
    assert entry.step == Step.FAILED and "s left before the deadline" in entry.reason
    assert market.job(job_id).state == JobState.ACCEPTED  # for anyone to expire
    assert token.balanceOf(provider) == akre and not events(router.ShortfallBought, job_id, chain, since)
    assert httpx.get(f"{server_url(worker)}/health", timeout=10).json()["waiting"] == {}


@pytest.mark.parametrize("kill_at", ["metered", "deliver-sent"])
def test_a_worker_killed_around_the_purchase_buys_once(
    kill_at, pool, green_worker, green_offer_without_recs, create_job, market, router, token, provider, chain, tmp_path,
):
    doomed = green_worker(kill_at=kill_at)
    since = chain.blocks.height
    akre_before = token.balanceOf(provider)
    job_id = create_job(offer_id=green_offer_without_recs, green=True, params=SMALL)
    doomed.wait_for(f"killed at {kill_at}", timeout=120)
    assert doomed.popen.wait(30) == -signal.SIGKILL

    worker = green_worker()
    entry = wait_for_step(tmp_path, chain, market, job_id, Step.DELIVERED, worker)
    bought, = events(router.ShortfallBought, job_id, chain, since)  # exactly one purchase
    assert len(events(market.JobDelivered, job_id, chain, since)) == 1
    assert token.balanceOf(provider) == akre_before - bought.akre_amount
    assert (entry.data["purchase"]["rec_mwh"], entry.data["purchase"]["akre"]) == (bought.rec_amount, bought.akre_amount)
    said = "job was delivered before a restart" if kill_at == "deliver-sent" else "job delivered"
    assert worker.wait_for(rf"{said} job_id={job_id} .*via=GreenRouter")
