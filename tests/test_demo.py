"""The README's run command (`make run` = `ape run demo`) end to end, twice in the same folder,
as real processes on 127.0.0.1 (here on the test session's anvil): afterwards the chain shows the job settled,
Bob paid base + energy × rate minus the fee, Alice refunded the rest, Bob's worker buying the
job's RECs from the pool Carol seeded (through the GreenRouter, inside the delivery), one
certificate owned by Alice for the job's metered energy, and the image's sha256 equal to the
delivered hash."""

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
from eth_account import Account

from degen import deployments, telemetry
from degen.models import JobState, fee_of, job_price
from degen.processes import ROOT, Process, degen, free_port, running
from worker.site_sim import signed_day

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
        the_der_owners_path_serves_a_green_job(tmp_path, tmp_path / "dana", second.output, project, accounts)
    finally:
        second.kill(signal.SIGINT)
        assert second.popen.wait(60) == 0, second.output[-4000:]
    output = second.output
    assert "[8/10] What happened" in output and "[10/10] Alice closes her channel" in output and "stopping the worker, the oracles, the site simulator and the web page" in output
    assert "10 kW rooftop PV, a 20 kWh battery" in output and "Alice (Singapore)" in output
    assert "Carol seeds the EnergyPool" in output and "RECs bought" in output
    noise = [line for line in (first.stdout + first.stderr + output).splitlines()
             if line.startswith(("INFO:", "SUCCESS:")) or "Warning" in line]
    assert not noise, f"library log lines interleave with the story: {noise}"

    assert "worker ready" in (tmp_path / "worker.log").read_text()
    assert all("oracle ready" in (tmp_path / f"oracle-{n}.log").read_text() for n in (1, 2, 3))
    assert "site 1 active, attested by oracle 1 and oracle 2" in output and "each signed by 2 of the 3" in output
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

    delivered, = market.JobDelivered.range(since, chain.blocks.height + 1, search_topics={"job_id": 1})
    settled, = market.JobSettled.range(since, chain.blocks.height + 1, search_topics={"job_id": 1})
    danas, = market.JobSettled.range(since, chain.blocks.height + 1, search_topics={"job_id": 2})  # the DER owner's first job
    price = job_price(BASE_PRICE, PRICE_PER_KWH, delivered.energy_mwh, MAX_PRICE)
    assert (settled.price, settled.fee, settled.refund) == (price, fee_of(price, record.fee_bps), MAX_PRICE - price)
    bought, = project.GreenRouter.at(record.router).ShortfallBought.range(since, chain.blocks.height + 1)
    assert (bought.job_id, bought.rec_amount) == (1, delivered.energy_mwh)  # Bob held no RECs: all were bought
    channels = project.JobChannels.at(record.channels)  # the instant job: one voucher redeemed once Alice began to close
    redeemed, = channels.VoucherRedeemed.range(since, chain.blocks.height + 1)
    channel = channels.channel(redeemed.channel_id)
    assert channel.requester == alice.address and channel.jobs == redeemed.jobs == 1 and channel.closes_at > 0
    assert re.search(rf"served on channel {redeemed.channel_id} \(order 0\)", output) and "voucher for 1 job redeemed" in output
    assert (tmp_path / "lighthouse.png").read_bytes().startswith(b"\x89PNG")
    assert token.balanceOf(bob) == (200 * 10**18 - 100 * 10**18 + price - settled.fee - bought.akre_amount  # funded, staked, paid,
                                    + redeemed.paid)  # bought; and the channel's voucher
    pool = project.EnergyPool.at(record.pool)
    assert pool.totalSupply() > 0 and pool.get_reserves()[1] == 50 * 10**18 + bought.akre_amount  # Carol's AKRE and the purchase
    assert token.balanceOf(alice) == 100 * 10**18 - price - danas.price - channel.deposit  # funded 100, refunded the rest of
    # each escrow, and the channel's deposit held until she withdraws

    assert certificates.balanceOf(alice) == 2 and certificates.ownerOf(1) == alice.address
    certificate = certificates.certificate(1)
    assert (certificate.job_id, certificate.amount_mwh) == (1, delivered.energy_mwh)

    image = (tmp_path / "fox.png").read_bytes()
    assert image.startswith(b"\x89PNG") and hashlib.sha256(image).digest() == bytes(delivered.result_hash)


def the_der_owners_path_serves_a_green_job(story_dir: Path, workdir: Path, output: str, project, accounts) -> None:
    """docs/der-owners.md's path from nothing to a first job served, its bash blocks run as
    written on the story's chain (with the story's folder and oracle, and the simulator the doc
    offers on a free port); then the new PV-only site's signed day earns RECs, its worker
    starts from the config the path wrote, reports a "no battery" sample and serves a green
    job that retires them."""
    doc = (ROOT / "docs/der-owners.md").read_text()
    path = doc.split("<!-- der-owner-path", 1)[1].split("<!-- /der-owner-path -->", 1)[0]
    script = "\n".join(re.findall(r"```bash\n(.*?)```", path, re.S)).strip()
    assert script.endswith("degen worker run --config worker.toml"), script[-200:]
    script = script.removesuffix("degen worker run --config worker.toml")
    port, oracle = free_port(), re.search(r"oracle (http://127\.0\.0\.1:\d+)", output).group(1)
    settings = {"STORY": str(story_dir), "ORACLE": oracle, "INVERTER": f"127.0.0.1:{port}"}
    for name, value in settings.items():
        script, found = re.subn(rf"^{name}=\S+", f"{name}={value}", script, flags=re.M)
        assert found == 1, name
    simulate = re.search(r"`(degen site simulate [^`]+)`", path).group(1).replace("--port 5020", f"--port {port}").split()
    workdir.mkdir()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    with running(degen(*simulate[1:]), ready="SunSpec site simulator on"):
        ran = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=workdir, env=env, capture_output=True, text=True,
                             timeout=600)
        assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-4000:]
        for said in ("site 3 registered (pending): 5,000 W of PV, no battery", "site 3 is active", "deposited 100 AKRE",
                     "opened offer 2", "state of charge  no battery", "wrote worker.toml: site 3, offers [2]"):
            assert said in ran.stdout, (said, ran.stdout)
        site = workdir / "my-site"
        record = deployments.load("ethereum:local", site / "deployments")
        meter = Account.from_key((site / "keys" / "meter.key").read_text().strip())
        dana = Account.from_key((site / "keys" / "provider.key").read_text().strip()).address
        day = (int(time.time()) // 86_400 - 1) * 86_400

        def yesterday(ending_at_wh: int = 1_000_000) -> list[dict]:  # up to the register the simulator starts from today
            produced = signed_day(3, day, meter, record.chain_id, record.registry, pv_peak_watts=5_000, battery_wh=0)
            start = ending_at_wh - (produced[-1][0].register_wh - produced[0][0].register_wh)
            return [telemetry.body(*signed) for signed in signed_day(
                3, day, meter, record.chain_id, record.registry, pv_peak_watts=5_000, battery_wh=0, lifetime_wh=start)]

        bodies = yesterday()
        assert bodies[-1]["register_wh"] == 1_000_000
        assert all(body["battery_soc_permille"] == telemetry.NO_BATTERY for body in bodies)
        committee = project.OracleCommittee.at(record.committee)
        for member in committee.members():  # as the site agent does: to every member of the committee
            for first in range(0, len(bodies), 100):
                answered = requests.post(f"{committee.endpoint_of(member)}/samples/batch", json={"samples": bodies[first:first + 100]},
                                         timeout=30).json()
                assert all(result["status"] == 201 for result in answered["results"]), answered
        rec = project.RECToken.at(record.rec_token)
        deadline = time.monotonic() + 120
        while rec.high_water_mark(3) < day + 18 * 3600:  # yesterday's last sunny hour, issued to Dana
            assert time.monotonic() < deadline, "the oracle did not issue the PV-only site's RECs"
            time.sleep(0.5)
        earned = rec.balanceOf(dana)
        assert earned > 30 * 10**6  # 5 kW on a clear day: about 38 kWh
        with running(degen("worker", "run", "--config", str(site / "worker.toml")), ready="worker ready", timeout=300):
            bought = subprocess.run(degen("generate", "a rooftop at noon", "--offer", "2", "--green", "--width", "64", "--height", "64",
                                          "--steps", "4", "--account", "TEST::1", "--out", str(workdir / "roof.png"),
                                          "--deployments", str(site / "deployments")), capture_output=True, text=True, timeout=300)
            assert bought.returncode == 0 and "certificate  #" in bought.stdout, bought.stdout + bought.stderr
            for member in committee.members():  # the worker's live sample reached every member
                latest = requests.get(f"{committee.endpoint_of(member)}/sites/3", timeout=10).json()["latest"]
                assert latest["timestamp"] > day + 86_400 and latest["battery_soc_permille"] == telemetry.NO_BATTERY
    job = project.JobMarket.at(record.market).job(2)
    assert job.state == JobState.SETTLED and rec.balanceOf(dana) == earned - job.energy_mwh  # its own RECs retired


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
