"""Three `degen oracle run` members of a 2-of-3 committee on one machine, against anvil: how
long from the sample that closes a period to its RECs on chain, and what each member sends and
receives over HTTP per issued site-period. Used by bench/committee.py.

Each round, every site's samples of a past hour (one each 5 minutes, as the site agent posts
them) are posted to the three members; then the sample at the hour's end, which makes the hour
issuable, is posted to each member (one `POST /samples/batch` each), and the clock runs until
every site's high-water mark has passed the hour. Traffic comes from the members' own
counters (`/metrics`): the signature requests each sent its peers, and the samples it took."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import requests
from eth_account import Account
from prometheus_client.parser import text_string_to_metric_families

SITES = 10
ROUNDS = 6
THRESHOLD = 2
SAMPLE_INTERVAL_S = 300
CONFIG = {"poll_interval_s": 0.5, "interval_s": 1.0, "grace_s": 0, "transmit_delay_s": 10.0}


def measure(network: str) -> dict:
    from ape import accounts, chain, networks, project

    from degen import deployments, telemetry
    from degen.daemon.config import to_toml
    from degen.deploy import deploy_all, grant_operator_roles, record_of
    from degen.processes import degen, free_port, running
    from degen.telemetry import MeterSample
    from oracle.config import OracleConfig

    with networks.parse_network_choice(network), tempfile.TemporaryDirectory() as folder, ExitStack() as daemons:
        workdir = Path(folder)
        deployer = accounts.test_accounts[0]
        operators = [accounts.test_accounts[5 + n] for n in range(3)]
        ports = [free_port() for _ in operators]
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        c = deploy_all(project, deployer, oracles=[(o.address, url) for o, url in zip(operators, urls)], threshold=THRESHOLD,
                       admin_delay=0)
        grant_operator_roles(c, deployer, registrar=deployer.address)  # the sites are not what is measured: activated directly
        meters, sites = [], []
        for _ in range(SITES):
            owner = accounts.test_accounts.generate_test_account()
            deployer.transfer(owner, 10**17)
            meters.append(Account.create())
            site = c.registry.register_site(meters[-1].address, 10_000, 20_000, 450, "BR", sender=owner).return_value
            c.registry.activate(site, sender=deployer)
            sites.append(site)
        deployments.save(record_of(c, network="ethereum:local", chain_id=chain.chain_id, block=chain.blocks.height,
                                   deployer=deployer.address), workdir / "deployments")
        for n, operator in enumerate(operators):
            (workdir / f"oracle-{n}.key").write_text(operator.private_key)
            config = OracleConfig.model_validate({
                "data_dir": f"oracle-{n}-data", "account": {"key_file": f"oracle-{n}.key"},
                "chain": {"rpc_url": chain.provider.uri, "network": "ethereum:local", "deployments": "deployments",
                          "poll_interval_s": CONFIG["poll_interval_s"]},
                "ingest": {"port": ports[n]}, "keeper": {"gas_budget": 0},
                "issuance": {"interval_s": CONFIG["interval_s"], "grace_s": CONFIG["grace_s"]},
                "committee": {"public_url": urls[n], "transmit_delay_s": CONFIG["transmit_delay_s"]},
            })
            (workdir / f"oracle-{n}.toml").write_text(to_toml(config))
            daemons.enter_context(running(degen("oracle", "run", "--config", str(workdir / f"oracle-{n}.toml")),
                                          ready="oracle ready", timeout=120, log=workdir / f"oracle-{n}.log"))

        def body(site_index: int, timestamp: int, step: int) -> dict:
            sample = MeterSample(site_id=sites[site_index], timestamp=timestamp, pv_watts=4_000, register_wh=1_000 + 300 * step,
                                 battery_soc_permille=500)
            return telemetry.body(sample, telemetry.sign(sample, meters[site_index], chain.chain_id, c.registry.address))

        def post(url: str, bodies: list[dict]) -> int:
            payload = json.dumps({"samples": bodies}).encode()
            answer = requests.post(f"{url}/samples/batch", data=payload, headers={"Content-Type": "application/json"}, timeout=30)
            refused = [r for r in answer.json()["results"] if r["status"] not in (200, 201)]
            assert answer.status_code == 200 and not refused, refused[:3]
            return len(payload)

        first_hour = (int(time.time()) // 3600 - ROUNDS - 1) * 3600
        per_hour = 3600 // SAMPLE_INTERVAL_S
        before = [counters(url) for url in urls]
        latencies, reports_per_round, sample_bytes = [], [], 0
        for round_ in range(ROUNDS):
            hour = first_hour + round_ * 3600
            inside = [body(i, hour + k * SAMPLE_INTERVAL_S, round_ * per_hour + k) for k in range(1 if round_ else 0, per_hour)
                      for i in range(SITES)]
            closing = [body(i, hour + 3600, (round_ + 1) * per_hour) for i in range(SITES)]
            sample_bytes += sum(post(url, inside) for url in urls)
            mark = chain.blocks.height
            started = time.perf_counter()
            sample_bytes += sum(post(url, closing) for url in urls)
            while not all(c.rec.high_water_mark(site) >= hour + 3600 for site in sites):
                assert time.perf_counter() - started < 120, "the committee issued nothing in 2 minutes"
                time.sleep(0.05)
            latencies.append(time.perf_counter() - started)
            reports_per_round.append(len(list(c.committee.ReportAccepted.range(mark + 1, chain.blocks.height + 1,
                                                                               search_topics={"kind": 1}))))
        time.sleep(2 * CONFIG["interval_s"])  # the members' last pushes land before the counters are read
        after = [counters(url) for url in urls]
    periods = ROUNDS * SITES
    sent = [grown(b, a, "degen_oracle_committee_signature_bytes_sent_total") for b, a in zip(before, after)]
    requests_sent = [grown(b, a, "degen_oracle_committee_signatures_sent_total") for b, a in zip(before, after)]
    return {
        "latency_median_s": statistics.median(latencies), "latency_max_s": max(latencies),
        "reports": sum(reports_per_round), "rounds": ROUNDS, "sites": SITES,
        "signature_bytes_per_period": statistics.mean(sent) / periods,
        "signature_bytes_per_period_max": max(sent) / periods,
        "signature_requests_per_round": statistics.mean(requests_sent) / ROUNDS,
        "sample_bytes_per_period": sample_bytes / len(urls) / periods,
    }


def grown(before: dict[str, float], after: dict[str, float], name: str) -> float:
    """How much a counter grew (a labelled counter not yet used has no sample)."""
    return after.get(name, 0.0) - before.get(name, 0.0)


def counters(url: str) -> dict[str, float]:
    """A member's Prometheus counters, summed over their labels."""
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(requests.get(f"{url}/metrics", timeout=10).text):
        for sample in family.samples:
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals
