"""Three `degen oracle run` members of a 2-of-3 committee, as real processes on 127.0.0.1
against anvil, each with its own key, store and endpoint: a solar day posted to them is issued
by a report two of them signed; with one member stopped the other two still issue; a member
that signs an inflated answer gets nothing on chain alone, and a stranger who collects its two
signatures from the others slashes it; a member started with an empty store catches up from
its peers and signs the same report."""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from eth_account import Account

from degen import committee as reports
from degen import eip712, telemetry
from degen.models import JobState, SiteStatus
from degen.processes import degen, free_port
from oracle.committee import transmit_rank
from oracle.config import OracleConfig
from tests.conftest import MODEL_NAME, write_config
from tests.daemons import ORACLE_READY, seat_committee
from tests.oracle.test_issuance import simulated_day
from tests.test_cli_site import REGISTER

KEYS = [Account.from_key(bytes([0x50 + n]) * 32) for n in range(3)]


@pytest.fixture
def members(contracts, deployer, govern, chain, deployment_dir, tiny_model, tmp_path, processes):
    """Makes KEYS the committee (2 of 3, bonded, each at an endpoint of its own) and yields a
    starter: `start(n, fresh=False, kill_at=None, transmit_delay_s=1.0, models=False)` runs
    member n (in a fresh store with `fresh`; dying at the kill point `kill_at`; with the tiny
    model to re-run disputed jobs with `models`); `start.configs[n]` is its config file."""
    ports = [free_port() for _ in KEYS]
    for key in KEYS:
        deployer.transfer(key.address, 10**19)
    seat_committee(contracts, deployer, govern, [(key.address, f"http://127.0.0.1:{port}") for key, port in zip(KEYS, ports)], 2)
    started = {}

    def start(n: int, fresh: bool = False, kill_at: str | None = None, transmit_delay_s: float = 1.0, models: bool = False):
        folder = tmp_path / f"member-{n}{'-fresh' if fresh else ''}"
        folder.mkdir(exist_ok=True)
        (folder / "oracle.key").write_text(KEYS[n].key.hex())
        config = write_config(folder / "oracle.toml", OracleConfig, {
            "data_dir": "data", "models": {MODEL_NAME: str(tiny_model)} if models else {}, "account": {"key_file": "oracle.key"},
            "chain": {"rpc_url": chain.provider.uri, "network": "ethereum:local", "deployments": str(deployment_dir),
                      "poll_interval_s": 0.2, "start_block": chain.blocks.height},
            "ingest": {"port": ports[n], "site_cache_s": 0}, "issuance": {"interval_s": 0.3},
            "committee": {"public_url": f"http://127.0.0.1:{ports[n]}", "transmit_delay_s": transmit_delay_s,
                          "peer_timeout_s": 1.0},
            "keeper": {"gas_budget": 0},
        }, {})
        start.configs[n] = config
        started[n] = processes(degen("oracle", "run", "--config", config), {"DEGEN_ORACLE_KILL_AT": kill_at} if kill_at else {})
        started[n].wait_for(ORACLE_READY, timeout=90)
        return started[n]

    start.configs = {}
    start.urls = [f"http://127.0.0.1:{port}" for port in ports]
    start.ports = ports
    return start


@pytest.fixture
def solar_site(registry, provider, deployer):
    """A new active site of Bob's with a meter key of its own (no earlier issuance to follow)."""
    meter = Account.create()
    site = registry.register_site(meter.address, 10_000, 20_000, 450, "BR", sender=provider).return_value
    registry.activate(site, sender=deployer)
    return site, meter


def send_signature(url: str, typed: dict, kind: str, key) -> httpx.Response:
    """What a member does with its signature over a report: posts it to a peer."""
    return httpx.post(f"{url}/committee/signatures", json={"kind": kind, "message": typed["message"],
                                                           "signature": "0x" + eip712.sign(typed, key).hex()}, timeout=10)


def post_day(url: str, bodies: list[dict]) -> None:
    with httpx.Client(base_url=url, timeout=30) as api:
        for first in range(0, len(bodies), 100):
            results = api.post("/samples/batch", json={"samples": bodies[first:first + 100]}).json()["results"]
            assert all(r["status"] in (200, 201) for r in results), results


def wait_until(condition, timeout: float, *processes):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "\n\n".join(p.output[-3000:] for p in processes)
        time.sleep(0.3)


def a_day(site_id, meter, chain, registry, days_ago: int) -> tuple[int, list[dict]]:
    day = (int(time.time()) // 86_400 - days_ago) * 86_400
    return day, [telemetry.body(*signed) for signed in simulated_day(site_id, day, meter, chain.chain_id, registry.address)]


def test_two_of_three_issue_a_day_even_with_one_member_stopped(members, contracts, solar_site, chain, registry, rec):
    committee, (site_id, meter) = contracts.committee, solar_site
    day, bodies = a_day(site_id, meter, chain, registry, days_ago=3)
    first, second = members(0), members(1)  # the third member is down
    for url in members.urls[:2]:
        post_day(url, bodies)
    wait_until(lambda: rec.high_water_mark(site_id) >= day + 18 * 3600, 90, first, second)
    accepted = [log for log in committee.ReportAccepted.range(0, chain.blocks.height + 1, search_topics={"kind": 1})
                if log.config == committee.config_count()]
    assert accepted and all(sorted(log.signers) == sorted(k.address for k in KEYS[:2]) for log in accepted)
    # the schedule's first in rank sent it (it logs once it has the receipt); nothing was issued twice
    wait_until(lambda: any("report transmitted kind=issuance" in p.output for p in (first, second)), 30, first, second)
    issued = [log for log in rec.Issued.range(0, chain.blocks.height + 1) if log.site_id == site_id and day <= log.period_start]
    assert len({log.period_start for log in issued}) == len(issued)
    for url in members.urls[:2]:  # each signed, and its signature reached the other member
        metrics = httpx.get(f"{url}/metrics", timeout=10).text
        assert 'degen_oracle_committee_reports_total{kind="issuance",step="signed"}' in metrics
        assert 'degen_oracle_committee_signatures_sent_total{answer="kept"}' in metrics
        assert 'degen_oracle_committee_signatures_received_total{status="201"}' in metrics


def test_a_lying_member_alone_changes_nothing_and_a_stranger_slashes_it(members, contracts, solar_site, chain, registry, rec,
                                                                        token, attacker):
    committee, (site_id, meter) = contracts.committee, solar_site
    day, bodies = a_day(site_id, meter, chain, registry, days_ago=4)
    honest = [members(0), members(1)]
    for url in members.urls[:2]:
        post_day(url, bodies)
    wait_until(lambda: rec.high_water_mark(site_id) >= day + 18 * 3600, 90, *honest)

    def issued_report():  # member 0 marks the report done at its next round, whoever transmitted it
        held = httpx.get(f"{members.urls[0]}/committee/reports", params={"kind": "issuance", "subject": site_id}, timeout=10).json()
        return next((r for r in held["reports"] if r["config"] == committee.config_count() and r["outcome"]), None)

    wait_until(lambda: issued_report() is not None, 30, *honest)
    honest_report = issued_report()
    message = honest_report["report"]["message"]
    liar = KEYS[2]
    first = message["requests"][0]
    lies = [{**message, "requests": [{**first, "energy_mwh": first["energy_mwh"] * 10}]},  # inflated energy
            {**message, "requests": [{**first, "evidence_root": "0x" + "66" * 32}]}]  # a root no sample supports
    signed_lies = []
    for lie_message in lies:
        lie = reports.issuance_report(lie_message["config"], [reports.IssuanceRequest(
            r["site_id"], r["period_start"], r["period_end"], r["energy_mwh"], bytes.fromhex(r["evidence_root"][2:]))
            for r in lie_message["requests"]], chain.chain_id, committee.address)
        signed_lies.append((lie, eip712.sign(lie, liar.key)))
        for url in members.urls[:2]:  # the liar sends its answer to the honest members: they keep it, it counts for nothing
            answer = httpx.post(f"{url}/committee/signatures", json={"kind": "issuance", "message": lie_message,
                                                                     "signature": "0x" + signed_lies[-1][1].hex()}, timeout=10)
            assert answer.status_code == 201, answer.text
    time.sleep(2)  # rounds pass: one signature is not two
    assert rec.high_water_mark(site_id) == day + 18 * 3600  # the lie moved nothing
    # the liar also signed the honest report (it sends its signature of what it computed, as members do)
    truth = reports.issuance_report(message["config"], [reports.IssuanceRequest(
        r["site_id"], r["period_start"], r["period_end"], r["energy_mwh"], bytes.fromhex(r["evidence_root"][2:]))
        for r in message["requests"]], chain.chain_id, committee.address)
    truth_signature = eip712.sign(truth, liar.key)
    before, bond = token.balanceOf(attacker), committee.bond_of(liar.address)
    lie, lie_signature = signed_lies[1]
    committee.prove_issuance_equivocation(reports.as_arguments(truth), truth_signature, 0, reports.as_arguments(lie),
                                          lie_signature, 0, sender=attacker)
    assert token.balanceOf(attacker) == before + bond // 2 and not committee.is_member(liar.address)


def test_a_member_with_an_empty_store_catches_up_and_signs_the_same_report(members, contracts, solar_site, chain, registry, rec):
    committee, (site_id, meter) = contracts.committee, solar_site
    day, bodies = a_day(site_id, meter, chain, registry, days_ago=5)
    peer = members(0)
    post_day(members.urls[0], bodies)  # only one member has the day: one signature is not enough
    time.sleep(1.5)
    assert rec.high_water_mark(site_id) < day + 18 * 3600
    fresh = members(1, fresh=True)  # started empty: copies the day from its peer, checks each sample, signs the same roots
    fresh.wait_for(r"caught up from the other members samples=\d+", timeout=60)
    wait_until(lambda: rec.high_water_mark(site_id) >= day + 18 * 3600, 90, peer, fresh)
    accepted = [log for log in committee.ReportAccepted.range(0, chain.blocks.height + 1, search_topics={"kind": 1})
                if sorted(log.signers) == sorted(k.address for k in KEYS[:2])]
    assert accepted


def test_a_transmitter_killed_before_sending_is_passed_by_the_next(members, contracts, solar_site, chain, registry, rec):
    """The member whose turn is at once dies before its transaction leaves; the other sends the
    report after its delay, and the dead one, restarted on its store, signs the rest of the day.
    Each period is issued exactly once, none lost."""
    site_id, meter = solar_site
    day, bodies = a_day(site_id, meter, chain, registry, days_ago=6)
    doomed = members(0, kill_at="issue-before-send", transmit_delay_s=0.0)  # its turn is at once, whatever its rank
    other = members(1, transmit_delay_s=3.0)
    for url in members.urls[:2]:
        post_day(url, bodies)
    issued_all = lambda: rec.high_water_mark(site_id) >= day + 18 * 3600  # noqa: E731
    wait_until(lambda: issued_all() or doomed.popen.poll() is not None, 120, doomed, other)
    killed = doomed.popen.poll() is not None
    if killed:
        assert "killed at issue-before-send" in doomed.output
        restarted = members(0)
        wait_until(issued_all, 120, other, restarted)
    issued = [log.period_start for log in rec.Issued.range(0, chain.blocks.height + 1) if log.site_id == site_id]
    assert sorted(issued) == [day + h * 3600 for h in range(6, 18)]  # each hour once
    accepted = list(contracts.committee.ReportAccepted.range(0, chain.blocks.height + 1, search_topics={"kind": 1}))
    first = transmit_rank(bytes(accepted[0].digest), tuple(k.address for k in KEYS))[0]
    if first != KEYS[1].address:  # the other member's turn came only after its delay: the doomed one tried first
        assert killed


class Garbage(BaseHTTPRequestHandler):
    """A committee member's endpoint that answers nonsense, slowly."""

    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"\x00 this is not json {")

    def do_POST(self):
        time.sleep(3)  # slower than the members' peer timeout
        self.send_response(500)
        self.end_headers()
        self.wfile.write(b"<html>nope")

    def log_message(self, *args):
        pass


def test_a_peer_answering_garbage_slowly_never_stalls_the_others(members, contracts, solar_site, chain, registry, rec):
    site_id, meter = solar_site
    server = ThreadingHTTPServer(("127.0.0.1", members.ports[2]), Garbage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        day, bodies = a_day(site_id, meter, chain, registry, days_ago=3)
        honest = [members(0), members(1)]  # both try to catch up from the garbage peer first
        for url in members.urls[:2]:
            post_day(url, bodies)
        wait_until(lambda: rec.high_water_mark(site_id) >= day + 18 * 3600, 120, *honest)
    finally:
        server.shutdown()
    assert all("Traceback" not in member.output for member in honest)


def test_a_pending_site_is_activated_by_two_members_while_the_third_is_down(members, contracts, chain, registry, tmp_path,
                                                                            deployment_dir, deployer, token):
    """A DER owner registers with `degen site`; its status names the members that attested the
    site as registered (not the one that signed other limits); two members' `degen oracle
    activate` make it active while the third is down."""
    committee, owner = contracts.committee, tmp_path / "der-owner"
    owner.mkdir()
    (owner / "deployments").symlink_to(deployment_dir)
    env = {"APE_FOUNDRY_HOST": chain.provider.uri}

    def site(*args):
        done = subprocess.run(degen("site", *args), cwd=owner, env=os.environ | env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    site("keys")
    deployer.transfer(Account.from_key((owner / "keys" / "provider.key").read_text().strip()).address, 10**18)
    site_id = int(re.search(r"site (\d+) registered \(pending\)", site(*REGISTER)).group(1))
    first, second = members(0), members(1)
    assert "none of the 2 needed yet" in site("status", str(site_id))

    registered = registry.site(site_id)
    inflated = reports.site_report(committee.config_count(), site_id, committee.site_nonce(site_id), True, meter=registered.meter,
                                   pv_peak_watts=registered.pv_peak_watts * 10, battery_wh=registered.battery_wh,
                                   max_gpu_watts=registered.max_gpu_watts, chain_id=chain.chain_id, committee=committee.address)
    for url in members.urls[:2]:  # the third member signed other limits: kept, and worth nothing
        assert send_signature(url, inflated, "site", KEYS[2]).status_code == 201

    activate = [degen("oracle", "activate", "--config", members.configs[n], str(site_id)) for n in (0, 1)]
    attested = subprocess.run(activate[0], capture_output=True, text=True, timeout=120)
    assert attested.returncode == 0, attested.stderr
    assert "this one holds 1" in attested.stdout and f"sent to {KEYS[1].address}: kept it" in attested.stdout
    assert f"sent to {KEYS[2].address}: unreachable" in attested.stdout and "transmit the report once" in attested.stdout
    assert f"1 of the 2 needed so far ({KEYS[0].address})" in site("status", str(site_id))
    assert registry.site(site_id).status == SiteStatus.PENDING

    completed = subprocess.run(activate[1], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert f"site {site_id} is active" in completed.stdout
    assert registry.site(site_id).status == SiteStatus.ACTIVE and registry.site(site_id).pv_peak_watts == registered.pv_peak_watts
    accepted = list(committee.ReportAccepted.range(0, chain.blocks.height + 1, search_topics={"kind": 2, "subject": site_id}))
    assert [sorted(log.signers) for log in accepted] == [sorted(k.address for k in KEYS[:2])]
    wait_until(lambda: "report transmitted kind=site" in first.output + second.output, 30, first, second)


def test_a_dispute_is_decided_by_the_two_members_that_agree(members, contracts, disputed_job, provider_endpoint, registry,
                                                           provider, site_id, market, chain):
    """Each running member re-runs the job and signs its verdict; the third, down, signed the
    opposite one and sent it: the honest two's verdict is what happens."""
    committee = contracts.committee
    registry.set_endpoint(site_id, provider_endpoint.url, sender=provider)  # members find the result there
    job_id = disputed_job(company=1)  # a correct delivery: the provider wins
    first, second = members(0, models=True), members(1, models=True)
    wrong = reports.verdict_report(committee.config_count(), job_id, False, chain.chain_id, committee.address)
    for url in members.urls[:2]:
        assert send_signature(url, wrong, "verdict", KEYS[2]).status_code == 201
    wait_until(lambda: market.job(job_id).state != JobState.DISPUTED, 120, first, second)
    assert market.job(job_id).state == JobState.SETTLED
    for member in (first, second):
        member.wait_for(rf"verdict signed job_id={job_id} winner=provider", timeout=30)
    accepted = list(committee.ReportAccepted.range(0, chain.blocks.height + 1, search_topics={"kind": 3, "subject": job_id}))
    assert [sorted(log.signers) for log in accepted] == [sorted(k.address for k in KEYS[:2])]
