"""The requester's commands as real `degen` processes against the test chain: listing offers,
and every failure path of `degen generate`, `cancel` and `dispute` ending in one sentence
and a non-zero exit."""

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from degen import telemetry
from degen.models import JobState
from degen.requester import akre
from degen.processes import ROOT, Process, degen, free_port
from degen.telemetry import MeterSample
from oracle.ingest import serving
from oracle.rules import SiteRecord
from oracle.sites import SiteDirectory
from oracle.store import SampleStore, engine_for

SMALL = ["--width", "64", "--height", "64", "--steps", "3", "--seed", "7"]


@pytest.fixture
def generating(deployment_dir, processes):
    """Starts `degen generate` in the background and returns (process, job id) once posted."""

    def start(*args: str) -> tuple[Process, int]:
        process = processes(degen("generate", "a lighthouse", *SMALL, *args, "--network", "ethereum:local:foundry",
                                  "--deployments", str(deployment_dir)))
        return process, int(process.wait_for(r"job (\d+) posted", timeout=60).group(1))

    return start


def test_offers_are_listed_with_the_battery_the_site_reported(cli, offer_id, site_id, meter, chain, registry, tmp_path):
    listed = cli("offers")
    assert listed.returncode == 0
    assert re.search(rf"^\s+{offer_id}\s+0x\w+\s+\d+ BR\s+0x\w+\s+1024x1024\s+50\s+2 AKRE\s+30 AKRE\s+no$", listed.stdout, re.M)

    store = SampleStore(engine_for(f"sqlite:///{tmp_path / 'oracle.sqlite'}"))
    site = SiteRecord(meter.address, 10_000, True, 20_000)
    now = int(time.time())

    def report(timestamp: int, soc: int) -> None:
        sample = MeterSample(site_id=site_id, timestamp=timestamp, pv_watts=3_200, register_wh=5_000, battery_soc_permille=soc)
        signature = telemetry.sign(sample, meter, chain.chain_id, registry.address)
        assert httpx.post(f"{url}/samples", json=telemetry.body(sample, signature)).status_code == 201

    with serving(store, SiteDirectory.of({site_id: site}), chain_id=chain.chain_id, registry=registry.address) as (url, _):
        report(now - 60, 655)
        listed = cli("offers", "--model", "tiny-sd", "--oracle", url)
        assert re.search(rf"^\s+{offer_id}\s.* tiny-sd .* no\s+65.5%\s+3,200 W\s+\d+ min ago$", listed.stdout, re.M), listed.stdout
        report(now, telemetry.NO_BATTERY)  # the site's battery model is gone: it reports none
        listed = cli("offers", "--model", "tiny-sd", "--oracle", url)
    assert re.search(rf"^\s+{offer_id}\s.* tiny-sd .* no\s+no battery\s+3,200 W\s+\d+ min ago$", listed.stdout, re.M), listed.stdout


@pytest.mark.parametrize("args, message", [
    (["--account", "TEST::6", "--max-price", "5"], "insufficient balance: 0x"),
    (["--account", "TEST::1", "--width", "2048", "--height", "2048"], "no active offer serves 2048x2048, 3 steps"),
    (["--account", "TEST::1", "--green"], "no active offer serves 64x64, 3 steps, green"),
    (["--account", "nobody-here"], "no Ape account called 'nobody-here'"),
    (["--account", "TEST::1", "--width", "65"], "width"),
    (["--account", "TEST::1", "--beneficiary", "0x" + "77" * 20], "--beneficiary takes --green"),
    (["--account", "TEST::1", "--green", "--beneficiary", "0x1234"], "'0x1234' is not an address"),
    (["--account", "TEST::10"], "TEST::10 is not a test account: the local chain has TEST::0 to TEST::9"),
    (["--account", "TEST::1", "--max-price", "0.5"], "no active offer serves 64x64, 3 steps for at most 0.5 AKRE"),
    (["--account", "TEST::1", "--max-price", "0.5", "--offer", "1"],
     "offer 1 asks a base price of 2 AKRE, above your max price of 0.5 AKRE"),
    (["--account", "TEST::1", "--out", "README.md/x.png"], "cannot save the image to README.md/x.png: "),
    (["--account", "TEST::1", "--out", "/proc/nope/x.png"], "cannot save the image to /proc/nope/x.png: "),
    (["--account", "TEST::1", "--max-price", "0.0000000000000000001"], "has more than 18 decimals"),
    (["--account", "TEST::1", "--max-price", "0"], "the amount must be more than 0"),
])
def test_generate_refuses_what_cannot_work_before_sending_anything(cli, offer_id, market, chain, args, message):
    height, jobs = chain.blocks.height, market.job_count()
    refused = cli("generate", "a lighthouse", *SMALL, *args)  # a repeated option takes its last value
    assert refused.returncode != 0 and message in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr and (market.job_count(), chain.blocks.height) == (jobs, height)


@pytest.mark.parametrize("args, message", [
    (["jobs", "--account", "TEST::10"], "TEST::10 is not a test account"),
    (["rec", "balance", "0xdead"], "'0xdead' is not an address (0x and 40 hex digits)"),
])
def test_mistyped_accounts_and_addresses_are_one_sentence(cli, args, message):
    refused = cli(*args)
    assert refused.returncode != 0 and message in refused.stderr and "Traceback" not in refused.stderr, refused.stderr


def test_without_a_chain_the_cli_says_so_and_starts_none(deployment_dir):
    port = free_port()
    env = {**os.environ, "APE_FOUNDRY_HOST": f"http://127.0.0.1:{port}"}
    refused = subprocess.run(degen("jobs", "--account", "TEST::1", "--deployments", str(deployment_dir)),
                             capture_output=True, text=True, timeout=120, env=env)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert f"no chain answers at http://127.0.0.1:{port} (--network ethereum:local:foundry): start one first" in refused.stderr
    with pytest.raises(httpx.ConnectError):  # no empty chain was started there to answer "no jobs"
        httpx.post(f"http://127.0.0.1:{port}", json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=2)


def test_the_cli_finds_the_storys_deployment_and_refuses_one_from_another_chain(deployment_dir, tmp_path):
    (tmp_path / ".demo").mkdir()
    shutil.copytree(deployment_dir, tmp_path / ".demo" / "deployments")  # where `make run` writes it
    found = subprocess.run(degen("offers"), capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert found.returncode == 0 and "2 AKRE" in found.stdout, found.stderr

    stale = json.loads((deployment_dir / "ethereum-local.json").read_text()) | {"chain_id": 5}
    (tmp_path / "deployments").mkdir()
    (tmp_path / "deployments" / "ethereum-local.json").write_text(json.dumps(stale))
    still = subprocess.run(degen("offers"), capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert still.returncode == 0 and "2 AKRE" in still.stdout  # the stale file is passed over for the story's
    refused = subprocess.run(degen("offers", "--deployments", "deployments"), capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert refused.returncode == 1 and "are not on the chain at" in refused.stderr and "Traceback" not in refused.stderr


def test_make_deploy_does_not_add_contracts_to_a_running_chain(chain, tmp_path):
    refused = subprocess.run([str(Path(sys.executable).parent / "ape"), "run", "deploy", "--network", "ethereum:local:foundry",
                              "--deployments", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0 and "a chain is already running at" in refused.stderr, refused.stderr
    assert not list(tmp_path.iterdir())


def test_generate_refuses_an_offer_that_is_not_green(cli, offer_id):
    refused = cli("generate", "a lighthouse", *SMALL, "--offer", str(offer_id), "--green", "--account", "TEST::1")
    assert refused.returncode == 1 and f"offer {offer_id} is not green" in refused.stderr


@pytest.mark.parametrize("served, message", [
    (None, "is unreachable"),
    (b"some other image", "hash mismatch: the image served for job"),
])
def test_generate_checks_the_download(served, message, generating, market, offer_id, provider, registry, site_id,
                                      make_receipt, sign, requester, provider_endpoint, chain):
    registry.set_endpoint(site_id, provider_endpoint.url if served else f"http://127.0.0.1:{free_port()}", sender=provider)
    buyer, job_id = generating("--account", "TEST::1", "--offer", str(offer_id))
    market.accept(job_id, offer_id, sender=provider)
    chain.pending_timestamp += 60
    receipt = make_receipt(job_id, result=b"the delivered image")
    if served:  # a worker holds the image before it delivers: `generate` may download as soon as the block comes
        provider_endpoint.serve(job_id, requester.address, served)
    market.deliver(job_id, receipt.as_tuple(), sign(receipt), sender=provider)
    assert buyer.popen.wait(60) == 1
    assert message in buyer.output and market.job(job_id).state == JobState.DELIVERED  # not settled: it can be disputed


def test_generate_stops_when_the_deadline_passes(generating, market, chain, tmp_path):
    out = tmp_path / "images" / "fox.png"
    buyer, job_id = generating("--account", "TEST::1", "--minutes", "2", "--out", str(out))
    assert out.exists()  # created before anything was paid
    chain.pending_timestamp += 180
    chain.mine()
    assert buyer.popen.wait(60) == 1
    assert f"job {job_id} passed its deadline undelivered" in buyer.output
    assert not out.exists()  # no image came: the empty file is gone again


def test_an_image_that_cannot_be_saved_says_how_to_fetch_and_settle_it(generating, cli, market, offer_id, provider, registry,
                                                                        site_id, make_receipt, sign, requester,
                                                                        provider_endpoint, chain, tmp_path):
    registry.set_endpoint(site_id, provider_endpoint.url, sender=provider)
    out = tmp_path / "fox.png"
    buyer, job_id = generating("--account", "TEST::1", "--offer", str(offer_id), "--out", str(out))
    out.unlink()
    out.mkdir()  # the place went away after the check: a folder stands there now
    market.accept(job_id, offer_id, sender=provider)
    chain.pending_timestamp += 60
    receipt = make_receipt(job_id, result=b"the delivered image")
    provider_endpoint.serve(job_id, requester.address, b"the delivered image")  # before the delivery, as a worker has it
    market.deliver(job_id, receipt.as_tuple(), sign(receipt), sender=provider)
    assert buyer.popen.wait(60) == 1
    assert f"`degen fetch {job_id} --account TEST::1 --out OTHER.png`" in buyer.output
    assert f"`degen settle {job_id} --account TEST::1`" in buyer.output and "Traceback" not in buyer.output
    assert market.job(job_id).state == JobState.DELIVERED
    fetched = cli("fetch", str(job_id), "--account", "TEST::1", "--out", str(tmp_path / "again.png"))
    assert fetched.returncode == 0 and (tmp_path / "again.png").read_bytes() == b"the delivered image"
    settled = cli("settle", str(job_id), "--account", "TEST::1")
    assert settled.returncode == 0 and f"job {job_id} settled: paid" in settled.stdout, settled.stderr
    assert market.job(job_id).state == JobState.SETTLED


def test_cancel_and_dispute_say_why_they_cannot(cli, create_job, market):
    job_id = create_job()
    not_mine = cli("cancel", str(job_id), "--account", "TEST::3")
    assert not_mine.returncode == 1 and f"job {job_id} is not yours" in not_mine.stderr
    undelivered = cli("dispute", str(job_id), "--account", "TEST::1")
    assert undelivered.returncode == 1 and "only a delivered job can be disputed" in undelivered.stderr
    shown = cli("job", "show", str(job_id))
    assert shown.returncode == 0 and f"Job #{job_id}: open" in shown.stdout
    cancelled = cli("cancel", str(job_id), "--account", "TEST::1")
    assert cancelled.returncode == 0 and "10 AKRE refunded" in cancelled.stdout
    assert market.job(job_id).state == JobState.CANCELLED
    again = cli("cancel", str(job_id), "--account", "TEST::1")
    assert again.returncode == 1 and "only an open job can be cancelled" in again.stderr
    listed = cli("jobs", "--account", "TEST::1")
    assert re.search(rf"^\s+{job_id}\s+cancelled", listed.stdout, re.M)


def test_a_delivered_image_can_be_fetched_again_and_the_job_shows_what_happened(
    cli, accepted_job, market, token, provider, requester, make_receipt, sign, registry, site_id, provider_endpoint, tmp_path,
):
    registry.set_endpoint(site_id, provider_endpoint.url, sender=provider)
    job_id = accepted_job(prompt="a lighthouse at dusk")
    png = b"\x89PNG the delivered image"
    receipt = make_receipt(job_id, result=png)
    market.deliver(job_id, receipt.as_tuple(), sign(receipt), sender=provider)
    provider_endpoint.serve(job_id, requester.address, png)

    fetched = cli("fetch", str(job_id), "--account", "TEST::1", "--out", str(tmp_path / "again.png"))
    assert fetched.returncode == 0 and (tmp_path / "again.png").read_bytes() == png, fetched.stderr
    stranger = cli("fetch", str(job_id), "--account", "TEST::3", "--out", str(tmp_path / "theirs.png"))
    assert stranger.returncode == 1 and "answered 403" in stranger.stderr and not (tmp_path / "theirs.png").exists()

    market.settle(job_id, sender=requester)
    shown = cli("job", "show", str(job_id)).stdout
    assert "prompt       'a lighthouse at dusk' (" in shown and f"provider     {provider.address}" in shown
    assert f"result       sha256 {hashlib.sha256(png).hexdigest()}" in shown and "paid         " in shown
    header, *rows = cli("jobs", "--account", "TEST::1").stdout.splitlines()
    assert header.split() == ["job", "state", "offer", "escrow", "(max)", "energy", "green"]
    row = next(line for line in rows if line.split()[0] == str(job_id))
    assert row.index("settled") == header.index("state") and row.rstrip().endswith(" no")

    held = cli("balance", "--account", "TEST::1")
    assert held.returncode == 0 and f"  AKRE          {akre(token.balanceOf(requester))}" in held.stdout


@pytest.mark.parametrize("provider_wins, outcome", [
    (True, "dispute      lost: the arbiter found the result correct; the 10 AKRE bond went to the provider"),
    (False, "dispute      won: "),
])
def test_job_show_tells_a_disputes_outcome(cli, delivered_job, market, token, requester, arbiter, provider_wins, outcome):
    job_id = delivered_job()
    token.approve(market, market.dispute_bond(), sender=requester)
    market.dispute(job_id, sender=requester)
    assert "the arbiter has not decided yet" in cli("job", "show", str(job_id)).stdout
    market.resolve(job_id, provider_wins, sender=arbiter)
    assert outcome in cli("job", "show", str(job_id)).stdout


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_kill_while_waiting_names_the_open_job_and_how_to_cancel_it(generating, market, offer_id, stop):
    buyer, job_id = generating("--account", "TEST::1")
    buyer.wait_for("waiting for a provider to accept")
    buyer.popen.send_signal(stop)
    assert buyer.popen.wait(60) == 128 + stop
    buyer.wait_for(rf"interrupted: job {job_id} is open on chain with up to 10 AKRE in escrow; "
                   rf"`degen cancel {job_id} --account TEST::1` takes it back")
    assert "Traceback" not in buyer.output and market.job(job_id).state == JobState.OPEN


@pytest.mark.parametrize("args, message", [
    (["ofers"], "No such command 'ofers'. Did you mean 'offers'?"),
    (["rec", "balanse", "0x" + "11" * 20], "Did you mean 'balance'?"),
    (["generate", "x", "--width", "65", "--account", "TEST::1"], "65 px: a side is a multiple of 8 from 64 to 2048"),
])
def test_typos_and_bad_sizes_are_answered_plainly(cli, args, message):
    refused = cli(*args)
    assert refused.returncode == 2 and message in refused.stderr and "GenerationParams" not in refused.stderr, refused.stderr


@pytest.mark.parametrize("group", [[], ["rec"], ["pool"], ["job"], ["worker"], ["site"], ["oracle"]])
def test_every_command_group_shows_an_example(group):
    shown = subprocess.run(degen(*group, "--help"), capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and "Example" in shown.stdout


def test_the_deployment_shows_its_file_and_the_bond_in_akre(cli, deployment_dir):
    shown = cli("deployment")
    assert shown.returncode == 0 and f"file          {deployment_dir}/ethereum-local.json" in shown.stdout
    assert re.search(r"^dispute_bond\s+[\d.]+ AKRE$", shown.stdout, re.M), shown.stdout
