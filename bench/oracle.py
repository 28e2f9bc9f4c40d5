"""Oracle throughput and cost, written to the oracle section of docs/performance.md.

    make bench-oracle     (or: .venv/bin/python bench/oracle.py [--network ...] [--samples N])

1. Ingest: signed 5-minute samples of many sites, each checked exactly as `POST /samples`
   checks it (EIP-712 signature recovery, the acceptance rules against the site's previous
   sample, the store's duplicate check and insert into SQLite), on one thread — and the same
   through the HTTP API (uvicorn) from one sequential client in another process.
2. Issuance gas: `issue_batch` of 1, 10 and 100 site-periods (100 sites of 100 owners, each
   issued once before, so the figures are the steady state every later hour pays), receipt
   gas per site-period with the 21,000 base shared by the batch.
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would hide the
# `oracle` package; the repository root goes there instead (for `bench.report`).
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eth_account import Account  # noqa: E402

from bench.report import replace_section  # noqa: E402
from degen import telemetry  # noqa: E402
from degen.telemetry import MeterSample  # noqa: E402
from oracle.ingest import Ingest, SignedSample  # noqa: E402
from oracle.rules import SiteRecord  # noqa: E402
from oracle.store import SampleStore, engine_for  # noqa: E402

CHAIN_ID, REGISTRY = 31337, "0x" + "ab" * 20
SITES = 20
INGEST_TARGET = 2_000
GAS_TARGET = 60_000
BATCHES = (1, 10, 100)
HTTP_BATCH = 100


def signed_samples(count: int, start: int) -> list[SignedSample]:
    """`count` samples from SITES sites, 5 minutes apart per site, signed by each site's meter."""
    meters = [Account.from_key(bytes([site + 1]) * 32) for site in range(SITES)]
    bodies = []
    for i in range(count):
        site = i % SITES
        sample = MeterSample(site_id=site + 1, timestamp=start + (i // SITES) * 300, pv_watts=3_000,
                             register_wh=1_000 + (i // SITES) * 200, battery_soc_permille=500)
        signature = telemetry.sign(sample, meters[site], CHAIN_ID, REGISTRY)
        bodies.append(SignedSample(**telemetry.body(sample, signature)))
    return bodies


def site_lookup():
    sites = {site + 1: SiteRecord(Account.from_key(bytes([site + 1]) * 32).address, 10_000, True) for site in range(SITES)}
    return sites.get


def post_all(url: str, payloads: list[dict], batch: int) -> float:
    """Posts every sample in order (one per request, or `batch` per `POST /samples/batch`)
    from a client process of its own; returns the seconds taken."""
    import httpx

    with httpx.Client(base_url=url, timeout=30) as client:
        started = time.perf_counter()
        if batch == 1:
            for payload in payloads:
                assert client.post("/samples", json=payload).status_code == 201
        else:
            for first in range(0, len(payloads), batch):
                response = client.post("/samples/batch", json={"samples": payloads[first:first + batch]})
                assert {r["status"] for r in response.json()["results"]} == {201}
        return time.perf_counter() - started


def measure_ingest(count: int) -> dict[str, float]:
    """Samples per second: checked and stored directly on one thread; over HTTP per second of
    the API process's CPU (one sample per request, and batches); over HTTP by the wall clock
    with one sequential client."""
    from degen.http import ServerThread
    from oracle.ingest import create_app

    now = int(time.time())
    bodies = signed_samples(count, now - count // SITES * 300)
    payloads = [body.model_dump() for body in bodies]
    rates = {}
    with tempfile.TemporaryDirectory() as folder:
        store = SampleStore(engine_for(f"sqlite:///{folder}/direct.sqlite"))
        ingest = Ingest(store, site_lookup(), chain_id=CHAIN_ID, registry=REGISTRY)
        started = time.perf_counter()
        for body in bodies:
            assert ingest(body)
        rates["direct"] = count / (time.perf_counter() - started)
        store.engine.dispose()

        for batch in (1, HTTP_BATCH):
            store = SampleStore(engine_for(f"sqlite:///{folder}/http-{batch}.sqlite"))
            server = ServerThread(create_app(store, site_lookup(), chain_id=CHAIN_ID, registry=REGISTRY), "127.0.0.1", 0)
            port = server.start()
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as client:
                client.submit(time.sleep, 0).result()  # the client process is up before the clock starts
                cpu_before = time.process_time()
                seconds = client.submit(post_all, f"http://127.0.0.1:{port}", payloads, batch).result()
                rates[f"http-{batch}"] = count / (time.process_time() - cpu_before)  # this process only serves
                if batch == 1:
                    rates["http-wall"] = count / seconds
            server.stop()
            store.engine.dispose()
    return rates


def measure_gas(network: str) -> dict[int, int]:
    """{batch size: receipt gas per site-period}."""
    from ape import accounts, chain, networks, project

    from degen.deploy import deploy_all

    with networks.parse_network_choice(network):
        deployer = accounts.test_accounts[0]
        contracts = deploy_all(project, deployer, treasury=deployer.address)
        registry, rec = contracts.registry, contracts.rec
        sites = []
        for i in range(max(BATCHES)):
            owner = accounts.test_accounts.generate_test_account()  # every site its own owner, as in life
            deployer.transfer(owner, 10**17)
            meter = Account.from_key((i + 1).to_bytes(32, "big"))
            site = registry.register_site(meter.address, 10_000, 20_000, 450, "BR", sender=owner).return_value
            registry.activate(site, sender=deployer)
            sites.append(site)
        hour = (chain.pending_timestamp // 3600 - 24) * 3600

        def issue(site_ids, start):
            requests = [(site, start, start + 3600, 2_500_000, b"\xee" * 32) for site in site_ids]
            return rec.issue_batch(requests, sender=deployer).gas_used

        issue(sites, hour)  # every site's first issuance: one-time storage, not measured
        per_period, start = {}, hour + 3600
        for size in BATCHES:
            per_period[size] = issue(sites[:size], start) // size
            start += 3600
    return per_period


def render(rates: dict[str, float], gas: dict[int, int], count: int) -> str:
    def verdict(rate: float) -> str:
        return f"≥ {INGEST_TARGET:,}/s {'met' if rate >= INGEST_TARGET else 'NOT met'}"

    lines = [
        f"Produced by `bench/oracle.py` (`make bench-oracle`) on {date.today().isoformat()}, {platform.machine()} CPU, "
        f"{count:,} signed samples from {SITES} sites; issuance for {max(BATCHES)} sites of as many owners, anvil as the chain.",
        "",
        "| measure | result | target |",
        "|---|---:|---|",
        f"| ingest, one thread (signature, rules, SQLite insert) | {rates['direct']:,.0f} samples/s | {verdict(rates['direct'])} |",
        f"| ingest over HTTP, one sample per request, per core (the API process's CPU time) | {rates['http-1']:,.0f} samples/s | {verdict(rates['http-1'])} |",
        f"| ingest over HTTP, `/samples/batch` of {HTTP_BATCH}, per core | {rates[f'http-{HTTP_BATCH}']:,.0f} samples/s | {verdict(rates[f'http-{HTTP_BATCH}'])} |",
        f"| ingest over HTTP, one sample per request, one sequential client (wall clock) | {rates['http-wall']:,.0f} samples/s | |",
    ]
    for size, per_period in gas.items():
        verdict = f"≤ {GAS_TARGET:,} {'met' if per_period <= GAS_TARGET else 'NOT met'}" if size == max(BATCHES) else ""
        lines.append(f"| issue_batch of {size}: gas per site-period | {per_period:,} | {verdict} |")
    lines += [
        "",
        "How to read it:",
        "- Per sample the oracle recovers the signer (the EIP-712 digest hashed directly, the key",
        "  recovered by libsecp256k1 through coincurve: about 0.1 ms; eth-account's generic path with",
        "  pure-Python keys managed 200 samples/s), applies the rules against the site's newest",
        "  sample (kept in memory, so a new sample costs no read) and commits it to SQLite in WAL",
        "  mode with synchronous=FULL: one fsync per sample, so every 201 survives a power cut.",
        "  That fsync is about a third of the time on this VM's disk.",
        "- Over HTTP, FastAPI's request parsing and validation and uvicorn's event loop cost about",
        "  as much again as the check itself per request; `POST /samples/batch` (what a site agent",
        "  sends when its outbox holds a backlog) spreads that over many samples. The per-core rows",
        "  count the API process's CPU time only (the fsync wait is not CPU time, which is how a",
        "  batch per core can beat the one-thread row); the wall-clock row is one client waiting for each",
        "  answer before the next (latency bound on a 2-core VM shared by client and server). At",
        "  one sample per site every 5 minutes, even one sample per request covers over 300,000",
        "  sites per core.",
        "- Issuance gas per site-period is the steady state (a site's first issuance also pays for",
        "  its first storage word and its owner's first REC balance, about 40,000 more). Each",
        "  site-period writes one new storage word (the packed record); its evidence root lives in",
        "  the `Issued` event only (storing it too cost about 22,000 gas more per site-period).",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/performance.md"))
    parser.add_argument("--network", default="ethereum:local:foundry")
    parser.add_argument("--samples", type=int, default=5_000)
    args = parser.parse_args(argv)
    ingest = measure_ingest(args.samples)
    gas = measure_gas(args.network)
    section = render(ingest, gas, args.samples)
    print(section)
    replace_section(args.out, "Oracle", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
