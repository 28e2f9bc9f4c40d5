"""The README's run command (`make run` = `ape run demo`) end to end, twice in the same folder,
as real processes on 127.0.0.1 (here on the test session's anvil): afterwards the chain shows the job settled,
Bob paid base + energy × rate minus the fee, Alice refunded the rest, Bob's worker buying the
job's RECs from the pool Carol seeded (through the GreenRouter, inside the delivery), one
certificate owned by Alice for the job's metered energy, and the image's sha256 equal to the
delivered hash."""

import hashlib
import re
import signal
import subprocess
import sys
from pathlib import Path

import requests

from degen import deployments
from degen.models import JobState, fee_of, job_price
from degen.processes import ROOT, Process, degen

BASE_PRICE, PRICE_PER_KWH, MAX_PRICE = 2 * 10**18, 30 * 10**18, 10 * 10**18  # what the demo offers and escrows


def test_the_main_command_plays_the_whole_story(project, chain, accounts, tmp_path):
    ape = Path(sys.executable).parent / "ape"
    chain.pending_timestamp += 2 * 86_400  # the chain's clock ahead of the wall clock: nothing may mix the two up
    chain.mine()
    story = [str(ape), "run", "demo", "--network", "ethereum:local:foundry", "--verbosity", "WARNING", "--workdir", str(tmp_path)]
    first = subprocess.run(story, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, "first run: " + first.stdout[-4000:] + first.stderr[-4000:]

    since = chain.blocks.height  # the main command runs again in the same folder, and keeps running
    second = Process([*story, "--keep-running"])
    try:
        second.wait_for("Ctrl-C stops it all", timeout=600)
        page_served_by_the_story(second.output)
    finally:
        second.kill(signal.SIGINT)
        assert second.popen.wait(60) == 0, second.output[-4000:]
    output = second.output
    assert "[8/8] What happened" in output and "stopping the worker, the oracle, the site simulator and the web page" in output
    assert "10 kW rooftop PV, a 20 kWh battery" in output and "Alice (Singapore)" in output
    assert "Carol seeds the EnergyPool" in output and "RECs bought" in output
    noise = [line for line in (first.stdout + first.stderr + output).splitlines()
             if line.startswith(("INFO:", "SUCCESS:")) or "Warning" in line]
    assert not noise, f"library log lines interleave with the story: {noise}"

    assert "worker ready" in (tmp_path / "worker.log").read_text() and "oracle ready" in (tmp_path / "oracle.log").read_text()
    for command in (["offers"], ["jobs", "--account", "TEST::1"], ["job", "show", "1"], ["pool", "show"],
                    ["balance", "--account", "TEST::2"], ["rec", "show", "1"]):  # the README's, on the story's chain
        shown = subprocess.run(degen(*command, "--deployments", str(tmp_path / "deployments")), capture_output=True,
                               text=True, timeout=120)
        assert shown.returncode == 0 and shown.stdout and not shown.stderr, (command, shown.stderr)

    record = deployments.load("ethereum:local", tmp_path / "deployments")
    market, token = project.JobMarket.at(record.market), project.AkreToken.at(record.token)
    certificates = project.RetirementCertificate.at(record.certificate)
    alice, bob, carol = accounts[1], accounts[2], accounts[3]
    registry = project.SiteRegistry.at(record.registry)
    site, farm = registry.site(1), registry.site(2)
    assert (site.owner, site.pv_peak_watts, site.battery_wh, site.max_gpu_watts, site.region) == (bob.address, 10_000, 20_000, 450, "BR")
    assert (farm.owner, farm.pv_peak_watts, farm.region) == (carol.address, 100_000, "KE")
    job = market.job(1)
    assert job.state == JobState.SETTLED and job.requester == alice.address and job.green

    delivered, = market.JobDelivered.range(since, chain.blocks.height + 1)
    settled, = market.JobSettled.range(since, chain.blocks.height + 1)
    price = job_price(BASE_PRICE, PRICE_PER_KWH, delivered.energy_mwh, MAX_PRICE)
    assert (settled.price, settled.fee, settled.refund) == (price, fee_of(price, record.fee_bps), MAX_PRICE - price)
    bought, = project.GreenRouter.at(record.router).ShortfallBought.range(since, chain.blocks.height + 1)
    assert (bought.job_id, bought.rec_amount) == (1, delivered.energy_mwh)  # Bob held no RECs: all were bought
    assert token.balanceOf(bob) == 200 * 10**18 - 100 * 10**18 + price - settled.fee - bought.akre_amount  # funded, staked, paid, bought
    pool = project.EnergyPool.at(record.pool)
    assert pool.totalSupply() > 0 and pool.get_reserves()[1] == 50 * 10**18 + bought.akre_amount  # Carol's AKRE and the purchase
    assert token.balanceOf(alice) == 100 * 10**18 - price  # funded 100, refunded the rest of the escrow

    assert certificates.balanceOf(alice) == 1 and certificates.ownerOf(1) == alice.address
    certificate = certificates.certificate(1)
    assert (certificate.job_id, certificate.amount_mwh) == (1, delivered.energy_mwh)

    image = (tmp_path / "fox.png").read_bytes()
    assert image.startswith(b"\x89PNG") and hashlib.sha256(image).digest() == bytes(delivered.result_hash)


def page_served_by_the_story(output: str) -> None:
    """With --keep-running the story names the web page's URL: it serves the story's market, and
    Bob's worker lets that page (and no other origin) download results across origins."""
    web_url = re.search(r"play Alice in your browser: open (http://\S+)", output).group(1)
    worker_url = re.search(r"worker (http://127\.0\.0\.1:\d+)", output).group(1)
    config = requests.get(f"{web_url}/config.json", timeout=10).json()
    assert config["deployment"]["market"] in output and config["oracle"] is True and config["wallet_rpc"].startswith("http://127.0.0.1:")
    assert "Alice's key 0x" in output
    page = requests.get(web_url, timeout=10)
    assert page.status_code == 200 and "<title>DeGEN" in page.text
    for origin, allowed in ((web_url, web_url), ("http://elsewhere.example", None)):
        answer = requests.get(f"{worker_url}/results/1", headers={"Origin": origin}, timeout=10)
        assert answer.status_code == 401 and answer.headers.get("access-control-allow-origin") == allowed
