"""`degen worker run` end to end, as real processes on 127.0.0.1: anvil, the SunSpec site
simulator over Modbus, the worker with the tiny diffusers pipeline, and its result server.
Jobs posted on chain are accepted, generated, delivered with receipts the contract verifies,
and downloadable by their requester only; a worker killed with SIGKILL at any step finishes
every job exactly once after a restart."""

from __future__ import annotations

import hashlib
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from eth_account import Account

from degen import downloads, receipts
from degen.models import ComputeSetup, EnergyReceipt, JobState
from degen.processes import ROOT, Process, degen, free_port, running
from tests.conftest import MODEL_ID, MODEL_NAME
from oracle.ingest import serving
from tests.daemons import MODEL_WATTS, server_url
from worker.journal import JobKey, Journal, Step
from worker.register import MeterRegister

SMALL = (64, 64, 3, 750, 11)  # width, height, steps, guidance x100, seed: a quick job on the tiny model


def events(contract_event, job_id, chain, since):
    return [log for log in contract_event.range(since, chain.blocks.height + 1) if log.job_id == job_id]


def download(url, job_id, key, chain, market):
    expiry = int(time.time()) + 300
    signature = "0x" + downloads.sign(key, job_id, expiry, chain.chain_id, market.address).hex()
    return httpx.get(f"{url}/results/{job_id}", params={"expiry": expiry, "signature": signature}, timeout=10)


@pytest.fixture
def oracle_api(chain, registry, tmp_path):
    """The oracle's sample API on 127.0.0.1 (in this process), checking sites on the chain."""
    from oracle.rules import SiteRecord
    from oracle.sites import SiteDirectory
    from oracle.store import SampleStore, engine_for

    def site(site_id):
        record = registry.site(site_id)
        return SiteRecord(record.meter, record.pv_peak_watts, record.status == 2, record.battery_wh)

    store = SampleStore(engine_for(f"sqlite:///{tmp_path / 'oracle.sqlite'}"))
    sites = SiteDirectory(registry.site_count, site)
    with serving(store, sites, chain_id=chain.chain_id, registry=registry.address) as (url, _):
        yield url, store
    store.engine.dispose()


def test_a_posted_job_is_accepted_generated_delivered_and_downloadable(
    worker_config, start_worker, create_job, market, registry, requester, attacker, arbiter, chain, site_id, meter, oracle_api,
):
    since = chain.blocks.height
    oracle_url, samples = oracle_api
    worker = start_worker(worker_config(telemetry={"oracle_url": oracle_url, "committee": False, "interval_s": 0.5},
                                        server={"public_url": "https://gpu.bob.example:8700"}))
    url = server_url(worker)
    worker.wait_for("result endpoint published site=1 url=https://gpu.bob.example:8700")
    assert registry.endpoint_of(site_id) == "https://gpu.bob.example:8700"
    register_before = market.meter_register(site_id)
    job_id = create_job(params=SMALL)
    worker.wait_for(rf"job delivered job_id={job_id}\b", timeout=120)

    assert market.job(job_id).state == JobState.DELIVERED
    delivered, = events(market.JobDelivered, job_id, chain, since)
    assert delivered.energy_mwh > 0 and "estimated=True" in worker.output
    assert market.meter_register(site_id) == register_before + delivered.energy_mwh

    png = download(url, job_id, Account.from_key(requester.private_key), chain, market)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    assert hashlib.sha256(png.content).digest() == bytes(delivered.result_hash)
    assert download(url, job_id, Account.from_key(attacker.private_key), chain, market).status_code == 403
    assert download(url, job_id, Account.from_key(arbiter.private_key), chain, market).content == png.content
    assert download(url, job_id + 1, Account.from_key(requester.private_key), chain, market).status_code == 404
    published = httpx.get(f"{url}/receipts/{job_id}", timeout=10).json()
    receipt = EnergyReceipt.model_validate(published["receipt"])
    assert receipt.energy_mwh == delivered.energy_mwh and receipt.meter_end == delivered.meter_end
    assert receipts.signer_of(receipt, bytes.fromhex(published["signature"][2:]), chain.chain_id, market.address) == meter.address
    setup = ComputeSetup(**published["metadata"].pop("setup"))
    assert published["metadata"] == {"meter": f"power-model:{MODEL_WATTS}W (estimate)", "estimated": True, "batch": [job_id]}
    assert setup.device == "cpu" and setup.deterministic and setup.threads >= 1 and setup.torch and setup.diffusers
    assert httpx.get(f"{url}/receipts/{job_id + 1}", timeout=10).status_code == 404
    health = httpx.get(f"{url}/health", timeout=10).json()
    assert health["jobs"] == {"delivered": 1} and health["meter"]["estimated"] is True
    assert health["site"]["pv_watts"] == 6000
    metrics = httpx.get(f"{url}/metrics", timeout=10).text
    assert 'degen_worker_jobs_total{step="delivered"} 1.0' in metrics
    posted = samples.between(site_id, 0, 2**62)  # the site agent's signed samples reached the oracle
    assert posted and posted[-1][0].pv_watts == 6000 and posted[-1][0].battery_soc_permille == 800


def test_jobs_the_worker_cannot_run_are_skipped_with_a_logged_reason(start_worker, create_job, market, requester):
    """The market already refuses malformed params; what reaches the worker and still cannot
    run here is an open job beyond its offer, or for a model it does not serve; a job its
    requester cancelled is skipped with that reason, as the chain tells it."""
    cancelled = create_job(params=SMALL)
    market.cancel(cancelled, sender=requester)
    worker = start_worker()
    worker.wait_for(rf"job skipped job_id={cancelled} reason=.its requester cancelled it before it was accepted")
    too_big = create_job(offer_id=0, model_id=MODEL_ID, params=(2048, 2048, 3, 750, 1))
    other_model = create_job(offer_id=0, model_id=b"\x07" * 32, params=SMALL)
    good = create_job(offer_id=0, model_id=MODEL_ID, params=SMALL)
    worker.wait_for(rf"job skipped job_id={too_big} reason=.2048x2048 exceeds the offer's 1024x1024")
    worker.wait_for(rf"job skipped job_id={other_model} reason=.no offer of ours serves model 0x070707")
    worker.wait_for(rf"job delivered job_id={good}\b", timeout=120)
    assert market.job(too_big).state == market.job(other_model).state == JobState.OPEN
    assert worker.popen.poll() is None


def test_green_jobs_are_refused_at_low_state_of_charge(worker_config, start_worker, create_job, market, green_offer):
    port = free_port()
    night = degen("site", "simulate", "--port", str(port), "--speed", "0", "--start-hour", "22", "--soc", "20")
    with running(night, ready="SunSpec site simulator on"):
        worker = start_worker(worker_config(offers=(green_offer,), site={"modbus_port": port}))
        job_id = create_job(offer_id=green_offer, green=True, params=SMALL)
        worker.wait_for(rf"job waits for green energy job_id={job_id} reason=.battery at 20% is at or below the 30% reserve")
        time.sleep(1.5)  # several rounds: still waiting, said once
    assert market.job(job_id).state == JobState.OPEN
    assert worker.output.count(f"job waits for green energy job_id={job_id} ") == 1


def test_a_worker_starts_on_a_new_inverter_with_zero_watt_hours(worker_config, start_worker, site_id, oracle_api):
    """A fresh installation's lifetime energy register reads 0 (the reader refused it before)."""
    oracle_url, samples = oracle_api
    port = free_port()
    fresh = degen("site", "simulate", "--port", str(port), "--speed", "0", "--start-hour", "3", "--lifetime-wh", "0", "--soc", "70")
    with running(fresh, ready="SunSpec site simulator on"):
        worker = start_worker(worker_config(site={"modbus_port": port}, telemetry={"oracle_url": oracle_url, "committee": False,
                                                                                          "interval_s": 0.5}))
        deadline = time.monotonic() + 30
        while not samples.between(site_id, 0, 2**62) and time.monotonic() < deadline:
            time.sleep(0.2)
        health = httpx.get(f"{server_url(worker)}/health", timeout=10).json()["site"]
    assert (health["lifetime_wh"], health["pv_watts"], health["battery_soc_pct"], health["missing"]) == (0, 0, 70, [])
    assert health["inverter_state"] == "sleeping" and health["battery_state"] == "discharging"
    first, _ = samples.between(site_id, 0, 2**62)[0]
    assert (first.register_wh, first.battery_soc_permille) == (0, 700)
    assert "site unreadable" not in worker.output


@pytest.mark.parametrize("kill_at", ["seen", "accept-sent", "accepted", "generated", "metered", "deliver-sent", "delivered"])
def test_a_worker_killed_at_any_step_delivers_exactly_once_after_restart(
    kill_at, worker_config, start_worker, create_job, market, chain, site_id, tmp_path,
):
    since = chain.blocks.height
    config = worker_config()
    doomed = start_worker(config, kill_at=kill_at)
    job_id = create_job(params=SMALL)
    doomed.wait_for(f"killed at {kill_at}", timeout=120)
    assert doomed.popen.wait(30) == -signal.SIGKILL

    worker = start_worker(config)
    deadline = time.monotonic() + 60
    journal = Journal(tmp_path / "data" / "journal.sqlite")
    try:
        key = JobKey(chain.chain_id, market.address, job_id)
        while (entry := journal.get(key)) is None or entry.step < Step.DELIVERED:
            assert time.monotonic() < deadline, worker.output
            time.sleep(0.2)
    finally:
        journal.close()
    assert market.job(job_id).state == JobState.DELIVERED
    assert len(events(market.JobAccepted, job_id, chain, since)) == 1
    delivered = events(market.JobDelivered, job_id, chain, since)
    assert len(delivered) == 1
    assert market.meter_register(site_id) == delivered[0].meter_end  # the persisted register went on from there
    assert entry.data["receipt"]["meter_end"] == delivered[0].meter_end  # the published receipt is the delivered one


def test_a_reorged_out_job_is_not_worked_on(worker_config, start_worker, create_job, market, chain, tmp_path):
    worker = start_worker(worker_config(chain={"confirmations": 3}))
    fork_point = chain.snapshot()
    orphan = create_job(params=SMALL, prompt="a job on a branch that will vanish")
    chain.mine(2)  # one block short of the worker's 3 confirmations
    time.sleep(1)  # several polls: the worker must not act on it yet
    chain.restore(fork_point)
    canonical = create_job(params=SMALL, prompt="the job that stays")
    assert canonical == orphan  # the id is reused on the new branch
    chain.mine(3)
    worker.wait_for(rf"job delivered job_id={canonical}\b", timeout=120)
    journal = Journal(tmp_path / "data" / "journal.sqlite")
    try:
        assert journal.get(JobKey(chain.chain_id, market.address, canonical)).data["prompt"] == "the job that stays"
    finally:
        journal.close()
    assert worker.output.count(f"job seen job_id={canonical} ") == 1


def test_the_meter_register_survives_a_restart(worker_config, start_worker, create_job, market, chain, site_id, tmp_path):
    since = chain.blocks.height
    config = worker_config()
    first_worker = start_worker(config)
    first = create_job(params=SMALL)
    first_worker.wait_for(rf"job delivered job_id={first}\b", timeout=120)
    assert first_worker.stop(timeout=60) == 0  # SIGTERM: a clean stop (however long a loaded machine takes)
    first_worker.wait_for(r"stopped on SIGTERM: (no job in progress|1 job in progress \(1 delivered\) resume at the next start)")
    first_reading, = events(market.JobDelivered, first, chain, since)
    register = MeterRegister(tmp_path / "data" / "meter.sqlite", site_id)
    try:
        assert register.value == first_reading.meter_end == market.meter_register(site_id)
    finally:
        register.close()

    second_worker = start_worker(config)
    second = create_job(params=SMALL)
    second_worker.wait_for(rf"job delivered job_id={second}\b", timeout=120)
    second_reading, = events(market.JobDelivered, second, chain, since)
    assert second_reading.meter_end - second_reading.energy_mwh == first_reading.meter_end


def test_a_refused_delivery_does_not_hold_up_the_others(
    worker_config, start_worker, create_job, market, rec, provider, site_id, offer_id, issue_recs, chain,
):
    """A green job whose provider holds no RECs yet (and does not buy them: no [green]) waits at
    delivery, saying why; the plain job after it is delivered meanwhile, and once RECs arrive
    the green one goes out with a fresh meter reading above the plain job's. Without the REC
    allowance the market refuses the delivery, which is retried."""
    since = chain.blocks.height
    green = market.create_offer(site_id, MODEL_ID, 1024, 1024, 50, 2 * 10**18, 30 * 10**18, 5 * 10**18, True, sender=provider).return_value
    worker = start_worker(worker_config(offers=(offer_id, green)))
    assert "green deliveries will be refused until this account lets the market retire its RECs" in worker.output
    green_job = create_job(offer_id=green, green=True, params=SMALL)
    plain_job = create_job(params=SMALL)
    worker.wait_for(rf"delivery waits for RECs job_id={green_job} reason=.RECs short by [\d,]+ mWh; buying them from the "
                    r"pool is off \(no \[green\] section\)", timeout=120)
    worker.wait_for(rf"job delivered job_id={plain_job}\b", timeout=120)
    issue_recs(site_id)
    worker.wait_for(rf"delivery refused, will retry job_id={green_job} reason=.market: RECs not approved", timeout=60)
    rec.approve(market, 2**256 - 1, sender=provider)
    worker.wait_for(rf"job delivered job_id={green_job}\b", timeout=120)
    plain, = events(market.JobDelivered, plain_job, chain, since)
    green_delivery, = events(market.JobDelivered, green_job, chain, since)
    assert green_delivery.meter_end - green_delivery.energy_mwh >= plain.meter_end
    assert market.job(green_job).state == market.job(plain_job).state == JobState.DELIVERED


@pytest.mark.parametrize(
    "key_file, key, message",
    [
        ("meter.key", "0x" + "22" * 32, "is not site 1's registered meter"),
        ("provider.key", "0x" + "33" * 32, "belongs to 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC, not this worker's account"),
    ],
)
def test_a_worker_that_does_not_fit_the_chain_stops_with_the_reason(worker_config, start_worker, tmp_path, key_file, key, message):
    config = worker_config()
    (tmp_path / key_file).write_text(key)
    worker = start_worker(config, wait_ready=False)
    assert worker.popen.wait(120) == 1
    assert message in worker.output and "Traceback" not in worker.output


def test_a_worker_whose_models_miss_an_offers_model_stops_at_start(worker_config, start_worker):
    """Before: it said "worker ready" and then skipped every job of that offer."""
    config = Path(worker_config())
    config.write_text(config.read_text().replace(f"{MODEL_NAME} = ", "other-sd = "))
    worker = start_worker(str(config), wait_ready=False)
    assert worker.popen.wait(120) == 1 and "Traceback" not in worker.output
    assert re.search(r"offer 1 serves model 0x[0-9a-f]{12}…, which \[models\] does not name \(it names other-sd \(0x", worker.output)


def test_a_worker_without_the_deployment_file_names_the_operators(worker_config, start_worker, tmp_path):
    worker = start_worker(worker_config(chain={"deployments": str(tmp_path / "nothing-here")}), wait_ready=False)
    assert worker.popen.wait(120) == 1 and "Traceback" not in worker.output
    assert "the network's operator publishes its deployment file; put it there" in worker.output


def test_a_worker_says_at_start_that_its_oracle_does_not_answer_and_its_site_has_no_endpoint(
    worker_config, start_worker, registry, provider, site_id,
):
    registry.set_endpoint(site_id, "", sender=provider)  # none published
    worker = start_worker(worker_config(telemetry={"oracle_url": f"http://127.0.0.1:{free_port()}", "committee": False,
                                                   "interval_s": 300}))
    worker.wait_for(r"the oracle does not answer; meter samples wait in the outbox until it does url=\S+ "
                    r"error=.http://127.0.0.1:\d+: refused or unreachable.")
    assert "the site publishes no result endpoint: buyers cannot follow or download its jobs" in worker.output
    assert worker.popen.poll() is None and "Traceback" not in worker.output and "urllib3" not in worker.output


def test_the_example_config_copied_as_it_is_starts_cleanly(tmp_path, deployment_dir, provider, meter, offer_id, tiny_model,
                                                          chain, site_port, processes):
    """worker.example.toml in a DER owner's folder with their keys, model and the operator's
    deployment file; only what names this machine differs (the node, the inverter, a port)."""
    site = tmp_path / "site"
    (site / "keys").mkdir(parents=True)
    (site / "keys" / "provider.key").write_text(provider.private_key)
    (site / "keys" / "meter.key").write_text(meter.key.hex())
    (site / "models").mkdir()
    (site / "models" / "tiny-sd").symlink_to(tiny_model)
    (site / "deployments").symlink_to(deployment_dir)
    example = (ROOT / "worker.example.toml").read_text()
    for old, new in (('rpc_url = "http://127.0.0.1:8545"', f'rpc_url = "{chain.provider.uri}"'), ("modbus_port = 5020", f"modbus_port = {site_port}"),
                     ("port = 8700", "port = 0"), ("offers = [1]", f"offers = [{offer_id}]")):
        assert example.count(old) == 1, old
        example = example.replace(old, new)
    (site / "worker.toml").write_text(example)
    worker = processes(degen("worker", "run", "--config", str(site / "worker.toml")))
    worker.wait_for("worker ready", timeout=120)
    worker.wait_for("site found site='1 inverter", timeout=30)
    trouble = [line for line in worker.output.splitlines() if " ERROR " in line or ("WARNING" in line and not any(
        expected in line for expected in ("no hardware energy counter", "the site publishes no result endpoint")))]
    assert not trouble and "Traceback" not in worker.output, trouble


def test_a_missing_config_is_a_clear_error(tmp_path):
    worker = Process(degen("worker", "run", "--config", str(tmp_path / "nowhere.toml")))
    assert worker.popen.wait(120) == 1
    assert "Error: cannot read the worker config" in worker.output


def test_the_worker_settles_once_the_challenge_window_has_passed(start_worker, create_job, market, chain, provider, token):
    worker = start_worker()
    job_id = create_job(params=SMALL, challenge_window=60)
    worker.wait_for(rf"job delivered job_id={job_id}\b", timeout=120)
    balance = token.balanceOf(provider)
    chain.pending_timestamp += 61  # nobody disputed; the window closes
    worker.wait_for(rf"job settled job_id={job_id}\b", timeout=60)
    assert market.job(job_id).state == JobState.SETTLED and token.balanceOf(provider) > balance


def test_a_green_job_waits_until_the_site_has_the_energy(worker_config, start_worker, create_job, market, green_offer):
    """At night on a low battery the green job waits; the site is then replaced by a sunny one
    on the same port (the agent reconnects) and the job is taken before its deadline."""
    port = free_port()
    site = ["site", "simulate", "--port", str(port), "--speed", "0"]
    with running(degen(*site, "--start-hour", "22", "--soc", "20"), ready="SunSpec site simulator on"):
        worker = start_worker(worker_config(offers=(green_offer,), site={"modbus_port": port}))
        job_id = create_job(offer_id=green_offer, green=True, params=SMALL)
        worker.wait_for(rf"job waits for green energy job_id={job_id} reason=.battery at 20%")
    worker.wait_for(r"site unreadable; green jobs wait for a reading")
    with running(degen(*site, "--start-hour", "12", "--soc", "20"), ready="SunSpec site simulator on"):
        worker.wait_for(rf"job accepted job_id={job_id} .*why=.within the offer's terms on green energy", timeout=60)
        worker.wait_for(rf"job delivered job_id={job_id}\b", timeout=120)
    assert market.job(job_id).state == JobState.DELIVERED


def test_a_requester_sees_an_estimate_before_posting_and_a_job_too_long_for_its_deadline_is_refused(
    worker_config, start_worker, create_job, market, deployment_dir, offer_id, chain,
):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    worker = start_worker(worker_config(server={"port": port, "public_url": url}))
    first = create_job(params=(64, 64, 1, 750, 3))  # the speed is measured on this one
    worker.wait_for(rf"job delivered job_id={first}\b", timeout=120)
    speed = httpx.get(f"{url}/health", timeout=10).json()["speed"]
    assert speed["seconds_per_megapixel_step"] > 0  # (its draw: only from a call metered at 10 mWh or more)
    assert httpx.get(f"{url}/progress/{first}", timeout=10).json() == {"job_id": first, "state": "delivered"}
    assert httpx.get(f"{url}/progress/{first + 1000}", timeout=10).status_code == 404

    def generate(*args):
        return subprocess.run(degen("generate", "a lighthouse", *args, "--account", "TEST::1", "--network", "ethereum:local:foundry",
                                    "--deployments", str(deployment_dir)), capture_output=True, text=True, timeout=300)

    jobs = market.job_count()
    # 12,800 times the measured job's work: far beyond 2 minutes wherever the measurement ran.
    refused = generate("--width", "1024", "--height", "1024", "--steps", "50", "--minutes", "2")
    assert refused.returncode == 1 and "site 1 needs about" in refused.stderr and "longer than the 2 minutes" in refused.stderr
    assert market.job_count() == jobs  # nothing was posted
    bought = generate("--width", "64", "--height", "64", "--steps", "3", "--out", str(deployment_dir.parent / "x.png"))
    assert bought.returncode == 0, bought.stderr
    assert re.search(r"estimate: ~\d+ s of compute at site 1 \(its recent jobs\), .*(about|at least) [\d.]+ AKRE", bought.stdout)
    # Unsized: 512x512 at 20 steps, or what this site makes in about 2 minutes (an account without AKRE: nothing is posted).
    jobs = market.job_count()
    unsized = subprocess.run(degen("generate", "a lighthouse", "--account", "TEST::7", "--network", "ethereum:local:foundry",
                                   "--deployments", str(deployment_dir)), capture_output=True, text=True, timeout=300)
    assert unsized.returncode == 1 and "insufficient balance" in unsized.stderr and market.job_count() == jobs
    took = re.search(r"estimate: ~(\d+) (s|min) of compute", unsized.stdout)
    shrunk = re.search(r"size (\d+)x\1, (\d+) steps: what this site's measured speed makes in about 2 minutes", unsized.stdout)
    assert took and (took[2] == "s" and int(took[1]) <= 120 or shrunk and shrunk.groups() == ("64", "4")), unsized.stdout
