"""Oracle throughput and cost, written to the oracle section of docs/performance.md.

    make bench-oracle     (or: .venv/bin/python bench/oracle.py [--network ...] [--samples N])

1. Ingest: signed 5-minute samples of many sites, each checked exactly as `POST /samples`
   checks it (EIP-712 signature recovery, the acceptance rules against the site's previous
   sample, the store's duplicate check and insert into SQLite), on one thread — and the same
   through the HTTP API (uvicorn) from one sequential client, in batches, and from 20
   concurrent clients, in another process.
2. Issuance gas: `issue_batch` of 1, 10 and 100 site-periods (100 sites of 100 owners, each
   issued once before, so the figures are the steady state every later hour pays), receipt
   gas per site-period with the 21,000 base shared by the batch.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
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

from bench.report import arguments, replace_section  # noqa: E402
from degen import telemetry  # noqa: E402
from degen.telemetry import MeterSample  # noqa: E402
from oracle.ingest import Ingest, SignedSample, serving  # noqa: E402
from oracle.rules import SiteRecord  # noqa: E402
from oracle.sites import SiteDirectory  # noqa: E402
from oracle.store import SampleStore, engine_for  # noqa: E402

CHAIN_ID, REGISTRY = 31337, "0x" + "ab" * 20
SITES = 20
INGEST_TARGET = 2_000  # one sample per request, per core of the API process
CLIENTS = 20
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


def site_records() -> dict[int, SiteRecord]:
    return {site + 1: SiteRecord(Account.from_key(bytes([site + 1]) * 32).address, 10_000, True, 20_000) for site in range(SITES)}


def post_all(url: str, payloads: list[dict], batch: int) -> float:
    """Posts every sample in order (one per request, or `batch` per `POST /samples/batch`)
    over one keep-alive connection, from a client process of its own; returns the seconds
    taken (asserting every sample was stored)."""
    import json

    if batch == 1:
        requests = [("/samples", json.dumps(payload).encode()) for payload in payloads]
    else:
        requests = [("/samples/batch", json.dumps({"samples": payloads[first:first + batch]}).encode())
                    for first in range(0, len(payloads), batch)]
    seconds, answers = _run(_post_in_order(url, requests))
    for status, body in answers:
        assert status == 201 or (status == 200 and {r["status"] for r in json.loads(body)["results"]} == {201}), body[:200]
    return seconds


def post_concurrently(url: str, payloads: list[dict], clients: int) -> tuple[float, list[float], int]:
    """`clients` concurrent connections, each posting one site's samples in order (one per
    request), from a process of their own; returns (seconds, latencies, errors)."""
    import json

    async def run():
        streams = [[("/samples", json.dumps(payload).encode()) for payload in payloads[i::clients]] for i in range(clients)]
        started = time.perf_counter()
        results = await asyncio.gather(*(_post_in_order(url, stream, timed=True) for stream in streams))
        return time.perf_counter() - started, results

    seconds, results = _run(run())
    latencies = [latency for _, answers in results for _, _, latency in answers]
    errors = sum(status != 201 for _, answers in results for status, _, _ in answers)
    return seconds, latencies, errors


async def _post_in_order(url: str, requests: list[tuple[str, bytes]], timed: bool = False):
    """A lean HTTP/1.1 client (one keep-alive connection, each request one write, each
    answer's head read in one piece), so that the load generator costs little beside the
    server it measures on the same cores: (seconds, answers)."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    answers = []
    started = time.perf_counter()
    for path, body in requests:
        sent = time.perf_counter()
        writer.write(b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                     % (path.encode(), host.encode(), len(body), body))
        head = (await reader.readuntil(b"\r\n\r\n")).lower()
        status = int(head[9:12])
        length = int(head.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
        answer = await reader.readexactly(length)
        answers.append((status, answer, time.perf_counter() - sent) if timed else (status, answer))
    writer.close()
    return time.perf_counter() - started, answers


def _run(coroutine):
    """Runs the client on uvloop where it is installed (as the server does): the client
    shares the machine's cores with the server, so its own cost matters."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def measure_ingest(count: int) -> dict[str, float]:
    """Samples per second: checked and stored on one thread, each waiting for its commit;
    over HTTP per second of the API process's CPU (one sample per request, and batches); over
    HTTP by the wall clock with one sequential client and with CLIENTS concurrent ones."""
    import statistics

    now = int(time.time())
    bodies = signed_samples(count, now - count // SITES * 300)
    payloads = [body.model_dump() for body in bodies]
    sites = site_records()
    rates = {}
    with tempfile.TemporaryDirectory() as folder, ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pool.submit(time.sleep, 0).result()  # the client process is up before any clock starts
        store = SampleStore(engine_for(f"sqlite:///{folder}/direct.sqlite"))
        ingest = Ingest(store, chain_id=CHAIN_ID, registry=REGISTRY)
        started = time.perf_counter()
        for body in bodies:
            assert ingest(body, sites[body.site_id])
        rates["direct"] = count / (time.perf_counter() - started)
        ingest.close()
        store.engine.dispose()

        for run in ("http-1", f"http-{HTTP_BATCH}", "concurrent"):
            store = SampleStore(engine_for(f"sqlite:///{folder}/{run}.sqlite"))
            with serving(store, SiteDirectory.of(sites), chain_id=CHAIN_ID, registry=REGISTRY) as (url, served):
                cpu_before = time.process_time()
                if run == "concurrent":
                    seconds, latencies, errors = pool.submit(post_concurrently, url, payloads, CLIENTS).result()
                    rates |= {"concurrent": count / seconds, "p50_ms": statistics.median(latencies) * 1000,
                              "p99_ms": statistics.quantiles(latencies, n=100)[98] * 1000, "errors": errors,
                              "per_commit": count / served.writer.commits}
                else:
                    seconds = pool.submit(post_all, url, payloads, 1 if run == "http-1" else HTTP_BATCH).result()
                    rates[run] = count / (time.process_time() - cpu_before)  # this process only serves
                    if run == "http-1":
                        rates["http-wall"] = count / seconds
            store.engine.dispose()
    return rates


def measure_gas(network: str) -> dict[int, int]:
    """{batch size: receipt gas per site-period}."""
    from ape import accounts, chain, networks, project

    from degen.deploy import deploy_all, grant_operator_roles

    with networks.parse_network_choice(network):
        deployer = accounts.test_accounts[0]
        contracts = deploy_all(project, deployer, treasury=deployer.address, admin_delay=0)
        grant_operator_roles(contracts, deployer, registrar=deployer.address, issuer=deployer.address)  # issue_batch measured directly
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
    def at_least(value: float, target: float, unit: str = "/s") -> str:
        return f"≥ {target:,}{unit} {'met' if value >= target else 'NOT met'}"

    single, direct, concurrent = rates["http-1"], rates["direct"], rates["concurrent"]
    lines = [
        f"Produced by `bench/oracle.py` (`make bench-oracle`) on {date.today().isoformat()}, {platform.machine()} CPU "
        f"({os.cpu_count()} cores), {count:,} signed samples from {SITES} sites; issuance for {max(BATCHES)} sites of as "
        "many owners, anvil as the chain.",
        "",
        "| measure | result | target |",
        "|---|---:|---|",
        f"| ingest, one thread (signature, rules, SQLite insert, one commit each) | {direct:,.0f} samples/s | |",
        f"| ingest over HTTP, one sample per request, per core (the API process's CPU time) | {single:,.0f} samples/s "
        f"| {at_least(single, INGEST_TARGET)} |",
        f"| the same, against the one-thread rate of this run | {single / direct:.2f}× | {at_least(single / direct, 0.8, '×')} |",
        f"| ingest over HTTP, `/samples/batch` of {HTTP_BATCH}, per core | {rates[f'http-{HTTP_BATCH}']:,.0f} samples/s | |",
        f"| ingest over HTTP, one sample per request, one sequential client (wall clock) | {rates['http-wall']:,.0f} samples/s | |",
        f"| ingest over HTTP, {CLIENTS} concurrent clients (wall clock) | {concurrent:,.0f} samples/s | |",
        f"| the same, against the one-thread rate of this run | {concurrent / direct:.2f}× | {at_least(concurrent / direct, 2, '×')} |",
        f"| {CLIENTS} concurrent clients: latency p50 / p99, errors | {rates['p50_ms']:.1f} / {rates['p99_ms']:.1f} ms, "
        f"{rates['errors']} | |",
        f"| {CLIENTS} concurrent clients: samples per commit (one fsync each) | {rates['per_commit']:.1f} | |",
    ]
    for size, per_period in gas.items():
        verdict = f"≤ {GAS_TARGET:,} {'met' if per_period <= GAS_TARGET else 'NOT met'}" if size == max(BATCHES) else ""
        lines.append(f"| issue_batch of {size}: gas per site-period | {per_period:,} | {verdict} |")
    lines += [
        "",
        "How to read it:",
        "- Per sample the oracle recovers the signer (the EIP-712 digest hashed directly, the key",
        "  recovered by libsecp256k1 through coincurve, no checksum computed: about 0.06 ms with the",
        "  digest on this machine), applies the rules against the site's newest sample (kept in",
        "  memory, so a new sample costs no read) and commits it to SQLite in WAL mode with",
        "  synchronous=FULL, so every 201 survives a power cut: about 0.1 ms of CPU and 0.2 ms of",
        "  wall clock per commit here. The one-thread row waits for each sample's own commit.",
        "- Over HTTP, `POST /samples` is a raw ASGI handler (the rest of the API is Starlette) under",
        "  uvicorn with its C parser (httptools) and event loop (uvloop); the body is parsed and",
        "  validated in one pass by pydantic-core. The client is a lean keep-alive HTTP/1.1 client on",
        "  uvloop in another process, one write per request. The per-core rows count the API",
        "  process's CPU time (both threads: the event loop and the sample writer; a wait for the",
        "  disk is not CPU time). A sequential client gives the writer one sample per commit, so",
        "  that row pays a commit per sample.",
        "- Concurrent samples share commits (group commit): the writer thread stores everything that",
        "  arrived while the previous commit was in flight in one transaction and, when it finds",
        "  more than one sample waiting, waits 1 ms more for others to join (a lone sample is",
        "  committed at once); each request is answered only after its commit. Without that wait",
        "  the event loop, busy with requests, left the writer 2.5 samples per commit and 20",
        "  clients reached 1.6× the one-thread rate; with it, about 10 and 2.3×. The clients share",
        "  the two cores with the server.",
        "- This VM's speed drifts (an earlier machine of this kind gave 1,111 and 700 samples/s on",
        "  one thread within an hour): ratios are taken within one run for that reason.",
        "- Issuance gas per site-period is the steady state (a site's first issuance also pays for",
        "  its first storage word and its owner's first REC balance, about 40,000 more). Each",
        "  site-period writes one new storage word (the packed record); its evidence root lives in",
        "  the `Issued` event only (storing it too cost about 22,000 gas more per site-period).",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = arguments(__doc__)
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
