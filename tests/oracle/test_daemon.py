"""`degen oracle run` end to end, as a real process on 127.0.0.1 against anvil, with its
store on SQLite and on PostgreSQL: a simulated solar day posted as signed samples is issued
hour by hour (never twice, even when the oracle is killed between sending and recording),
`degen oracle proof` proves a sample against the on-chain root, the keeper expires and
settles on time within its gas budget, and disputes are decided by re-running the job."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import time
from contextlib import nullcontext

import httpx
import pytest
from eth_account import Account

from degen import telemetry
from degen.models import Computation, JobState
from degen.processes import Process, degen
from oracle import merkle
from tests.daemons import api_url
from tests.oracle.conftest import database_url, postgres_schema
from tests.oracle.test_issuance import PEAK, STEP, simulated_day

def wait_until(condition, timeout: float, process: Process):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, process.output
        time.sleep(0.2)


def test_a_backlog_posted_in_small_batches_while_the_oracle_issues_is_issued_whole(
    oracle_config, start_oracle, rec, registry, site_id, meter, chain,
):
    """A site agent flushing a day's outbox after an outage, five samples a request, while
    the oracle issues every 0.2 s: no period is issued from part of its samples."""
    day = (int(time.time()) // 86_400 - 2) * 86_400
    samples = [telemetry.body(*signed) for signed in simulated_day(site_id, day, meter, chain.chain_id, registry.address)]
    oracle = start_oracle(oracle_config(issuance={"interval_s": 0.2}))
    with httpx.Client(base_url=api_url(oracle), timeout=10) as api:
        for first in range(0, len(samples), 5):
            response = api.post("/samples/batch", json={"samples": samples[first:first + 5]})
            assert [r["status"] for r in response.json()["results"]] == [201] * len(samples[first:first + 5])
            time.sleep(0.05)
    wait_until(lambda: rec.high_water_mark(site_id) == day + 18 * 3600, 60, oracle)
    issued = [log for log in rec.Issued.range(0, chain.blocks.height + 1) if log.site_id == site_id]
    register = {body["timestamp"]: body["register_wh"] for body in samples}
    assert sorted(log.period_start for log in issued) == [day + h * 3600 for h in range(6, 18)]  # each hour once
    for log in issued:  # each from all of its samples: the register's growth over the whole hour
        assert log.energy_mwh == (register[log.period_end] - register[log.period_start]) * 1000
    assert rec.site_issued(site_id) == (register[day + 18 * 3600] - register[day + 6 * 3600]) * 1000


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_solar_day_is_issued_once_even_when_killed_between_send_and_record(
    backend, tmp_path, oracle_config, start_oracle, rec, registry, site_id, meter, chain,
):
    with postgres_schema() if backend == "postgresql" else nullcontext() as schema:
        database = database_url(backend, schema, tmp_path)
        day = (int(time.time()) // 86_400 - 2) * 86_400  # the day before yesterday, UTC
        samples = [telemetry.body(*signed) for signed in simulated_day(site_id, day, meter, chain.chain_id, registry.address)]
        ingesting = start_oracle(oracle_config(database, issuance={"interval_s": 3600}))
        with httpx.Client(base_url=api_url(ingesting), timeout=10) as api:
            statuses = [api.post("/samples", json=body).status_code for body in samples]
        assert statuses == [201] * len(samples)
        ingesting.stop()

        config = oracle_config(database, issuance={"interval_s": 0.5, "max_batch": 4})
        doomed = start_oracle(config, kill_at="issue-sent")
        doomed.wait_for("killed at issue-sent", timeout=60)
        assert doomed.popen.wait(30) == -signal.SIGKILL
        assert rec.high_water_mark(site_id) > 0  # a batch was mined, and never recorded as logged

        oracle = start_oracle(config)
        wait_until(lambda: rec.high_water_mark(site_id) == day + 18 * 3600, 60, oracle)
        issued = [log for log in rec.Issued.range(0, chain.blocks.height + 1) if log.site_id == site_id]
        assert sorted(log.period_start for log in issued) == [day + h * 3600 for h in range(6, 18)]  # each hour once
        total_mwh = sum(log.energy_mwh for log in issued)
        register = {body["timestamp"]: body["register_wh"] for body in samples}
        assert total_mwh == (register[day + 18 * 3600] - register[day + 6 * 3600]) * 1000
        integral_wh = PEAK * 12 * 2 / math.pi  # computed independently of the simulator
        assert abs(total_mwh / 1000 - integral_wh) <= PEAK * STEP / 3600
        assert rec.site_issued(site_id) == total_mwh

        noon = day + 12 * 3600
        proof = subprocess.run(degen("oracle", "proof", "--config", config, str(site_id), str(noon), "4"),
                               capture_output=True, text=True, timeout=120)
        assert proof.returncode == 0, proof.stderr
        printed = json.loads(proof.stdout)
        assert printed["verified"] is True and printed["sample"]["timestamp"] == noon + 4 * STEP
        on_chain, = [log.evidence_root for log in issued if log.issuance_id == printed["issuance_id"]]
        leaf, siblings = bytes.fromhex(printed["leaf"][2:]), [bytes.fromhex(node[2:]) for node in printed["proof"]]
        assert merkle.verify(leaf, siblings, bytes(on_chain))
        out_of_range = subprocess.run(degen("oracle", "proof", "--config", config, str(site_id), str(noon), "13"),
                                      capture_output=True, text=True, timeout=120)
        assert out_of_range.returncode == 1 and "leaf index 13 is outside 0..12" in out_of_range.stderr

        metrics = httpx.get(f"{api_url(oracle)}/metrics", timeout=10).text
        assert "degen_oracle_site_periods_issued_total" in metrics
        oracle.stop()


def test_the_keeper_expires_and_settles_on_time_within_its_gas_budget(
    oracle_config, start_oracle, accepted_job, delivered_job, market, chain,
):
    overdue = accepted_job(deadline=chain.pending_timestamp + 300)
    delivered = delivered_job(challenge_window=600)
    settled_later = delivered_job(challenge_window=600)
    oracle = start_oracle(oracle_config(keeper={"gas_budget": 150_000}))  # about two keeper calls per round
    time.sleep(1.5)  # several rounds before anything is due: nothing is touched
    assert market.job(overdue).state == JobState.ACCEPTED and market.job(delivered).state == JobState.DELIVERED

    chain.pending_timestamp += 700
    chain.mine()
    for job_id, action in ((overdue, "expired"), (delivered, "settled"), (settled_later, "settled")):
        oracle.wait_for(rf"job {action} by the keeper job_id={job_id}\b", timeout=60)
    assert market.job(overdue).state == JobState.EXPIRED
    assert market.job(delivered).state == market.job(settled_later).state == JobState.SETTLED
    assert "keeper gas budget spent for this round" in oracle.output


def another_setup(computation: Computation) -> Computation:
    """What a provider on another machine declares."""
    return computation.model_copy(update={"setup": computation.setup.model_copy(update={"device_name": "another CPU"})})


@pytest.mark.parametrize("seed, company, declare, winner, why", [
    (None, 2, None, "provider", "re-run in its batch of 3 gives the identical image"),
    (6, 2, None, "requester", "re-run in its batch of 3 on the provider's declared setup gives a different image"),
    (6, 0, another_setup, "requester", "re-run alone on another setup differs (perceptual distance"),
])
def test_a_dispute_is_won_by_a_correct_result_and_lost_by_a_tampered_one(
    seed, company, declare, winner, why, oracle_config, start_oracle, provider_endpoint, disputed_job, market, site_id,
):
    job_id = disputed_job(seed=seed, company=company, **({"declare": declare} if declare else {}))
    oracle = start_oracle(oracle_config(endpoints={str(site_id): provider_endpoint.url}))
    line = oracle.wait_for(rf"dispute resolved job_id={job_id} winner=(\w+) why=(.*)", timeout=120)
    assert line.group(1) == winner and why in line.group(2)
    assert market.job(job_id).state == (JobState.SETTLED if winner == "provider" else JobState.REFUNDED)


@pytest.mark.parametrize("declare, why", [
    (lambda honest: None, "the provider does not serve how it computed the result"),
    (lambda honest: honest.model_copy(update={"batch": (honest.batch[-1] + 1, *honest.batch)}),
     "the declared batch cannot be rebuilt from the chain: job"),
    (lambda honest: honest.model_copy(update={"batch": honest.batch[:-1]}), "does not hold job"),
])
def test_a_provider_that_hides_or_misstates_its_batch_loses(
    declare, why, oracle_config, start_oracle, provider_endpoint, disputed_job, market, site_id,
):
    job_id = disputed_job(company=1, declare=declare)
    oracle = start_oracle(oracle_config(endpoints={str(site_id): provider_endpoint.url}))
    line = oracle.wait_for(rf"dispute resolved job_id={job_id} winner=(\w+) why=(.*)", timeout=120)
    assert line.group(1) == "requester" and why in line.group(2)
    assert market.job(job_id).state == JobState.REFUNDED


def test_an_oracle_killed_after_resolving_does_not_resolve_again(
    oracle_config, start_oracle, provider_endpoint, disputed_job, market, site_id, chain,
):
    since = chain.blocks.height
    job_id = disputed_job()
    config = oracle_config(endpoints={str(site_id): provider_endpoint.url})
    doomed = start_oracle(config, kill_at="resolve-sent")
    doomed.wait_for("killed at resolve-sent", timeout=120)
    assert doomed.popen.wait(30) == -signal.SIGKILL
    oracle = start_oracle(config)
    time.sleep(2)  # several rounds after the restart
    assert market.job(job_id).state == JobState.SETTLED
    assert len([log for log in market.JobResolved.range(since, chain.blocks.height + 1) if log.job_id == job_id]) == 1
    assert "report transmitted" not in oracle.output and "report refused" not in oracle.output  # it learns, it does not redo
    assert oracle.stop(timeout=60) == 0  # SIGTERM: the round finishes and the oracle exits cleanly
    oracle.wait_for(r"stopped on SIGTERM: (no job watched|\d+ watched jobs? \(.*\) followed again at the next start)")


def test_a_green_claim_beyond_the_sites_telemetry_loses_its_dispute(
    tmp_path, oracle_config, start_oracle, provider_endpoint, disputed_job, green_offer, market, site_id, meter,
    chain, registry,
):
    """A correct image, but delivered as green while the site's signed samples show a dark
    sky and an empty battery: the green claim cannot be true."""
    from oracle.store import SampleStore, engine_for

    job_id = disputed_job(offer_id=green_offer, green=True)
    job = market.job(job_id)
    (tmp_path / "oracle-data").mkdir()
    store = SampleStore(engine_for(f"sqlite:///{tmp_path / 'oracle-data' / 'oracle.sqlite'}"))
    for timestamp in range(job.state_since - 3600, job.state_since + 301, 300):  # around the job
        sample = telemetry.MeterSample(site_id=site_id, timestamp=timestamp, pv_watts=0, register_wh=1_000, battery_soc_permille=0)
        store.add(sample, telemetry.sign(sample, meter, chain.chain_id, registry.address), meter.address)
    store.engine.dispose()

    oracle = start_oracle(oracle_config(endpoints={str(site_id): provider_endpoint.url}))
    line = oracle.wait_for(rf"dispute resolved job_id={job_id} winner=(\w+) why=(.*)", timeout=120)
    assert line.group(1) == "requester" and "more energy than the site's telemetry" in line.group(2)
    assert market.job(job_id).state == JobState.REFUNDED
    assert "receipt claims more energy than the site had" in oracle.output


def test_deliveries_are_verified_with_the_arbiter_credential(
    oracle_config, start_oracle, provider_endpoint, accepted_job, make_receipt, sign, market, provider, requester, site_id,
    registry,
):
    registry.set_endpoint(site_id, provider_endpoint.url, sender=provider)  # the oracle finds it on chain
    honest, lying = accepted_job(), accepted_job()
    for job_id, served in ((honest, b"the delivered png"), (lying, b"something else")):
        provider_endpoint.serve(job_id, requester.address, served)
        receipt = make_receipt(job_id, result=b"the delivered png", energy_mwh=100)
        market.deliver(job_id, receipt.as_tuple(), sign(receipt), sender=provider)
    oracle = start_oracle(oracle_config())
    oracle.wait_for(rf"delivery verified job_id={honest} outcome=ok", timeout=60)
    oracle.wait_for(rf"delivered result does not match its hash job_id={lying} outcome=hash-mismatch", timeout=60)
    metrics = httpx.get(f"{api_url(oracle)}/metrics", timeout=10).text
    assert 'degen_oracle_verifications_total{outcome="hash-mismatch"} 1.0' in metrics


def test_an_oracle_outside_the_committee_stops_with_the_reason(oracle_config, processes, tmp_path, contracts, govern):
    config = oracle_config()
    committee = contracts.committee
    govern((committee, committee.remove_member.encode_input(Account.from_key(b"\x33" * 32).address, 0)))
    oracle = processes(degen("oracle", "run", "--config", config))
    assert oracle.popen.wait(60) == 1
    assert "is not a member of the OracleCommittee" in oracle.output and "it cannot sign reports" in oracle.output
    (tmp_path / "oracle.key").write_text("not a key")
    oracle = processes(degen("oracle", "run", "--config", config))
    assert oracle.popen.wait(60) == 1 and "the oracle key file" in oracle.output


def test_every_sample_answered_201_survives_a_kill_right_after_the_answer(
    oracle_config, start_oracle, registry, provider, deployer, meter, chain, tmp_path,
):
    """Four site agents post concurrently; the oracle is SIGKILLed the moment 40 samples have
    been answered 201. Every one of them is in the store afterwards: an answer is only sent
    once the group commit holding the sample is on disk."""
    import threading

    from oracle.store import SampleStore, engine_for

    sites = []
    for _ in range(4):
        site = registry.register_site(meter.address, 10_000, 20_000, 450, "BR", sender=provider).return_value
        registry.activate(site, sender=deployer)
        sites.append(site)
    oracle = start_oracle(oracle_config(issuance={"interval_s": 3600}))
    url, now = api_url(oracle), int(time.time())
    answered, enough = [], threading.Event()

    def agent(site):
        with httpx.Client(base_url=url, timeout=10) as client:
            for i in range(2_000):
                sample = telemetry.MeterSample(site_id=site, timestamp=now - 4_000 + 2 * i, pv_watts=5_000,
                                               register_wh=1_000 + i, battery_soc_permille=500)
                try:
                    response = client.post("/samples", json=telemetry.body(sample, telemetry.sign(sample, meter, chain.chain_id,
                                                                                                   registry.address)))
                except httpx.HTTPError:
                    return  # the oracle is gone
                if response.status_code == 201:
                    answered.append((site, sample.timestamp))
                    if len(answered) >= 40:
                        enough.set()

    agents = [threading.Thread(target=agent, args=(site,)) for site in sites]
    for thread in agents:
        thread.start()
    assert enough.wait(120), oracle.output
    oracle.kill()
    for thread in agents:
        thread.join(60)
    assert oracle.popen.wait(30) == -signal.SIGKILL
    store = SampleStore(engine_for(f"sqlite:///{tmp_path / 'oracle-data' / 'oracle.sqlite'}"))
    missing = [key for key in answered if store.get(*key) is None]
    store.engine.dispose()
    assert len(answered) >= 40 and missing == []
