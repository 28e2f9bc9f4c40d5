"""Worker throughput on a local anvil with the tiny diffusers model, against the same
generations called directly on the pipeline, in one run; written to docs/performance.md.

    make bench-worker   (or: .venv/bin/python bench/worker.py [--jobs 12] [--steps 20])

1. direct: the N generations called one by one on the loaded pipeline, in a process of its
   own (no chain at all);
2. worker: N jobs posted on chain first (a queue), then `degen worker run` (a real process,
   max_batch 1): from "worker ready" until the N jobs are DELIVERED on chain, every accept,
   generation, receipt and delivery included;
3. worker with batching: the same with max_batch 8;
4. instant jobs: the N jobs as channel orders (docs/SPEC.md, "Channels") from 4 channels at
   once, each ordering its share one after another (an order waits for the voucher of the one
   before), through the requester's client `degen.instant` (what `degen generate --instant`
   runs) against a real worker (max_batch 8): from the first order to the last voucher taken.
Each runs with the determinism switches on (the default, `[compute] deterministic`) and off,
to measure what reproducibility costs. Then the market overhead of an instant job: one
channel's orders one by one, each from posting the order to the image checked against its
receipt, minus the generation time the worker logged for it.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would hide the
# `worker` package it measures.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: `bench.report`

from ape import accounts, chain, networks, project
from eth_account import Account

from degen import channels, contracts, deployments, eip712
from degen.deploy import AKRE, deploy_all, grant_operator_roles, record_of
from degen.instant import Site, SiteChannel
from degen.models import GenerationParams, JobState, JobTerms, model_id
from degen.processes import Process, degen, free_port, running
from degen.inference.pipelines import Pipelines, Task
from degen.daemon.config import to_toml
from worker.config import WorkerConfig
from degen.inference.tiny_model import write_tiny_pipeline

from bench.report import arguments, replace_section

MODEL_NAME = "tiny-sd"
DIRECT, WORKER, BATCHED = "direct pipeline calls", "worker (max_batch 1)", "worker, batching (max_batch 8)"
INSTANT = "worker, instant jobs (4 channels, max_batch 8)"
RUNS = (DIRECT, WORKER, BATCHED, INSTANT)
TARGETS = {DIRECT: None, WORKER: 1.0, BATCHED: 1.2, INSTANT: 1.0}  # throughput against direct calls, determinism on
MAX_BATCH = {WORKER: 1, BATCHED: 8, INSTANT: 8}
CHANNELS = 4  # requesters ordering at once in the instant run
OVERHEAD_JOBS = 10  # one channel's orders, one by one, for the overhead
OVERHEAD_TARGET_S = 0.3
MAX_PRICE = 2 * AKRE


class Market:
    """A fresh deployment with Bob's active site and offer, and Alice funded."""

    def __init__(self, directory: Path):
        self.deployments = directory
        self.deployer, self.requester, self.provider = accounts.test_accounts[:3]
        self.meter = Account.from_key(b"\x11" * 32)
        self.c = deploy_all(project, self.deployer, treasury=self.deployer.address, admin_delay=0)
        grant_operator_roles(self.c, self.deployer, registrar=self.deployer.address)  # Bob's site activated directly
        token, market, registry = self.c.token, self.c.market, self.c.registry
        for who in (self.requester, self.provider):
            token.transfer(who, 100_000 * AKRE, sender=self.deployer)
            token.approve(market, 2**256 - 1, sender=who)
        self.site = registry.register_site(self.meter.address, 10_000, 20_000, 450, "BR", sender=self.provider).return_value
        registry.activate(self.site, sender=self.deployer)
        market.deposit_stake(10_000 * AKRE, sender=self.provider)
        self.offer = market.create_offer(
            self.site, model_id(MODEL_NAME), 1024, 1024, 50, AKRE, 30 * AKRE, AKRE, False, sender=self.provider
        ).return_value
        deployments.save(record_of(self.c, network="ethereum:local", chain_id=chain.chain_id, block=chain.blocks.height,
                                   deployer=self.deployer.address), directory)

    def post(self, params: list[tuple]) -> list[int]:
        terms = JobTerms(offer_id=self.offer, max_price=10 * AKRE, deadline=chain.pending_timestamp + 3600).as_tuple()
        return [self.c.market.create_job(terms, f"bench job {p[4]}", p, sender=self.requester).return_value for p in params]

    def delivered(self, job_ids: list[int]) -> bool:
        return all(self.c.market.job(job_id).state == JobState.DELIVERED for job_id in job_ids)


def direct_in_own_process(model_dir: Path, jobs: int, steps: int, size: int, deterministic: bool) -> float:
    """`direct` in a fresh process of its own, as the worker runs in one."""
    args = [sys.executable, __file__, "--direct", str(model_dir), "--jobs", str(jobs), "--steps", str(steps), "--size", str(size)]
    args += [] if deterministic else ["--nondeterministic"]
    result = subprocess.run(args, capture_output=True, text=True, timeout=1800, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def direct(model_dir: Path, params: list[tuple], deterministic: bool) -> float:
    """Seconds for the generations called one by one on the pipeline (loaded and warmed first)."""
    pipelines = Pipelines({model_id(MODEL_NAME): str(model_dir)}, device="cpu", deterministic=deterministic)
    tasks = [Task.of(i + 1, model_id(MODEL_NAME), f"bench job {p[4]}", dict(zip(("width", "height", "steps", "guidance_x100", "seed"), p)))
             for i, p in enumerate(params)]
    pipelines.generate(tasks[:1])  # warm-up, as the worker warms up while loading
    started = time.perf_counter()
    for task in tasks:
        pipelines.generate([task])
    return time.perf_counter() - started


def worker_process(market: Market, run_dir: Path, model_dir: Path, site_port: int, max_batch: int, deterministic: bool,
                   start_block: int | None = None) -> Process:
    """A `degen worker run` for Bob's offer with a data dir of its own in `run_dir`, following
    the chain from `start_block` (default: the next block); started, not yet ready."""
    run_dir.mkdir(parents=True)
    (run_dir / "provider.key").write_text(market.provider.private_key)
    (run_dir / "meter.key").write_text(market.meter.key.hex())
    config = WorkerConfig.model_validate({
        "data_dir": "data", "offers": [market.offer], "models": {MODEL_NAME: str(model_dir)},
        "chain": {"rpc_url": chain.provider.uri, "network": "ethereum:local", "deployments": str(market.deployments),
                  "start_block": start_block or chain.blocks.height + 1},
        "account": {"provider_key_file": "provider.key", "meter_key_file": "meter.key"},
        "site": {"site_id": market.site, "modbus_port": site_port},
        "compute": {"device": "cpu", "meter": "model", "model_watts": 60, "max_batch": max_batch, "deterministic": deterministic},
        "server": {"port": 0}, "channels": {"max_unredeemed_akre": 1_000, "redeem_threshold_akre": 1_000},
    })
    (run_dir / "worker.toml").write_text(to_toml(config))
    return Process(degen("worker", "run", "--config", str(run_dir / "worker.toml")))


def through_worker(market: Market, work: Path, model_dir: Path, site_port: int, params: list[tuple], max_batch: int,
                   deterministic: bool) -> float:
    """Seconds from the worker being ready to the last of the queued jobs delivered (each run
    with a data dir of its own under `work`)."""
    run_dir = work / f"worker-batch-{max_batch}-{'on' if deterministic else 'off'}"
    start_block = chain.blocks.height + 1
    job_ids = market.post(params)
    worker = worker_process(market, run_dir, model_dir, site_port, max_batch, deterministic, start_block)
    try:
        worker.wait_for("worker ready", timeout=300)
        started = time.perf_counter()
        for job_id in job_ids:  # the worker's own log, so timing costs the worker no CPU
            worker.wait_for(rf"job delivered job_id={job_id}\b", timeout=600)
        elapsed = time.perf_counter() - started
    finally:
        worker.stop()
    if not market.delivered(job_ids):
        raise RuntimeError(f"the worker logged deliveries the chain does not show:\n{worker.output}")
    return elapsed


def requester_channels(market: Market, url: str, count: int) -> list[SiteChannel]:
    """`count` fresh channels of Alice's with Bob's site, each with her client (her key signs)."""
    offer = contracts.offer(market.c.market, market.offer)
    meter, max_gpu_watts, _ = market.c.registry.meter_of(market.site)
    site = Site(url, meter, max_gpu_watts, offer, chain.chain_id, market.c.channels.address, market.c.market.address)
    key = Account.from_key(market.requester.private_key)
    return [SiteChannel(site, channels.open_channel(market.c, market.requester, market.site, 500 * AKRE), market.requester.address,
                        lambda typed: eip712.sign(typed, key)) for _ in range(count)]


def order(channel: SiteChannel, p: tuple, now: int):
    params = GenerationParams(width=p[0], height=p[1], steps=p[2], guidance_x100=p[3], seed=p[4])
    return channel.order(f"bench job {p[4]}", params, MAX_PRICE, green=False, now=now)


def instant(market: Market, work: Path, model_dir: Path, site_port: int, params: list[tuple], deterministic: bool) -> float:
    """Seconds from the first channel order to the last voucher taken, CHANNELS channels ordering at once."""
    worker = worker_process(market, work / f"instant-{'on' if deterministic else 'off'}", model_dir, site_port,
                            MAX_BATCH[INSTANT], deterministic)
    try:
        worker.wait_for("worker ready", timeout=300)
        url = worker.wait_for(r"result server listening url=(\S+)").group(1)
        opened = requester_channels(market, url, CHANNELS)
        now, failures = chain.pending_timestamp, []

        def serve(channel: SiteChannel, share: list[tuple]) -> None:
            try:
                for p in share:
                    order(channel, p, now)
            except Exception as exc:  # noqa: BLE001 - reported after the run
                failures.append(exc)

        threads = [threading.Thread(target=serve, args=(channel, params[n::CHANNELS])) for n, channel in enumerate(opened)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    finally:
        worker.stop()
    if failures or worker.output.count("channel voucher taken") != len(params):
        raise RuntimeError(f"instant jobs failed: {failures[:1]}\n{worker.output[-3000:]}")
    return elapsed


def instant_overhead(market: Market, work: Path, model_dir: Path, site_port: int, params: list[tuple]) -> list[float]:
    """Per job of one channel, one after another: seconds from posting the order to the image
    checked against its receipt and the voucher signed, minus the generation time the worker
    logged for it."""
    worker = worker_process(market, work / "instant-overhead", model_dir, site_port, 1, True)
    try:
        worker.wait_for("worker ready", timeout=300)
        url = worker.wait_for(r"result server listening url=(\S+)").group(1)
        channel, = requester_channels(market, url, 1)
        overheads, now = [], chain.pending_timestamp
        for p in params[:OVERHEAD_JOBS]:
            started = time.perf_counter()
            served = order(channel, p, now)
            took = time.perf_counter() - started
            generated = float(worker.wait_for(rf"generated jobs=\[{served.job_id}\] .*seconds=([0-9.]+)").group(1))
            overheads.append(took - generated)
    finally:
        worker.stop()
    return overheads


def render(jobs: int, steps: int, size: int, runs: dict[tuple[str, bool], list[float]], overheads: list[float]) -> str:
    """One row per configuration and determinism setting: the median time over the rounds,
    and the median of the per-round ratios to the direct run of the same round and setting
    (paired, so slow drift of a shared machine cancels); then what the switches cost."""
    rounds = len(runs[DIRECT, True])
    lines = [
        f"Produced by `bench/worker.py` (`make bench-worker`) on {time.strftime('%Y-%m-%d')}, "
        f"{platform.machine()} CPU ({_cpus()} cores, torch CPU kernels {_cpu_capability()}), no GPU: {jobs} jobs of "
        f"{size}x{size} px, {steps} steps on the tiny random Stable Diffusion pipeline, anvil as the chain, {rounds} rounds.",
        "The worker rows are a real `degen worker run` process, timed from \"worker ready\" until every",
        "job is DELIVERED on chain (accept, generate, meter, sign, deliver), with the jobs queued first;",
        f"the instant row, from the first channel order to the last voucher taken, {CHANNELS} channels ordering at once",
        "through `degen.instant` (the client `degen generate --instant` runs), in this process.",
        "",
        "| run | determinism | median s | jobs/s | vs direct (median of rounds) | target | every round (s) |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for deterministic in (True, False):
        for name in RUNS:
            seconds, direct_runs = runs[name, deterministic], runs[DIRECT, deterministic]
            ratio = statistics.median(direct / own for direct, own in zip(direct_runs, seconds))
            target = TARGETS[name] if deterministic else None
            verdict = "" if target is None else f"≥ {target}× {'met' if ratio >= target else 'MISSED'}"
            every = ", ".join(f"{s:.2f}" for s in seconds)
            lines.append(f"| {name} | {'on' if deterministic else 'off'} | {statistics.median(seconds):.2f} | "
                         f"{jobs / statistics.median(seconds):.3f} | {ratio:.2f}× | {verdict} | {every} |")
    lines += ["", "What the determinism switches cost (time with them on / time with them off, median of rounds):", "",
              "| run | on / off |", "|---|---:|"]
    for name in RUNS:
        cost = statistics.median(on / off for on, off in zip(runs[name, True], runs[name, False]))
        lines.append(f"| {name} | {cost:.2f} |")
    median = statistics.median(overheads)
    lines += [
        "",
        f"Market overhead of an instant job (one channel, {len(overheads)} orders one after another, max_batch 1): from",
        "posting the signed order to the image checked against its meter-signed receipt and the voucher",
        "signed and taken, minus the generation time the worker logged for that job: median "
        f"**{median:.3f} s** (min {min(overheads):.3f}, max {max(overheads):.3f}); target ≤ {OVERHEAD_TARGET_S} s "
        f"{'met' if median <= OVERHEAD_TARGET_S else 'MISSED'}. No transaction and no block is waited for: the",
        "worker reads the channel (one `eth_call`), checks the signature, generates, meters, signs the",
        "receipt and records the job; the client asks for the channel's state, checks, signs and posts the",
        "voucher.",
    ]
    lines += [
        "",
        "How to read it:",
        "- The worker overlaps chain I/O with compute: while the GPU (here the CPU) runs one job, the",
        "  chain loop accepts the next ones and delivers the finished ones. On a GPU host that work",
        "  runs on otherwise idle CPU cores; here it shares the two cores with torch: about 40 ms of",
        "  CPU per transaction (ABI encoding, signing, JSON-RPC through web3) plus the polling (the",
        "  head asked every 0.25 s), about 3 s of CPU in a 24-job run (anvil adds about 0.5 s); a",
        "  delivery waits for the chain's clock only when its work began and ended in one second",
        "  (docs/SPEC.md, Energy receipts). One generation in the worker takes as long as a direct",
        "  one; those costs are the gap in the max_batch 1 row.",
        "- Batching runs up to `max_batch` queued jobs of one shape in one pipeline call, with a",
        "  generator per job. A batched image is its job's own (prompt, seed) image, but not always",
        "  byte-identical to the job run alone: the worker publishes each job's batch and setup, and",
        "  the oracle re-runs that batch in a dispute (docs/worker.md, \"Reproducibility\").",
        "  A GPU, mostly idle at batch 1, is where batching should pay most (not measured: no GPU",
        "  was available to this benchmark).",
        "- Determinism on = `torch.use_deterministic_algorithms`, cuBLAS's fixed workspace, cuDNN",
        "  deterministic, and the CPU thread count fixed (torch's default here). On the CPU the kernels",
        "  the pipeline uses are deterministic already, so the switches cost nothing beyond the",
        "  noise; their price is on CUDA (cuBLAS and cuDNN give up some faster kernels).",
        "- All torch work stays on the worker's compute thread: a warm-up on another thread once made",
        "  every later generation about 1.7x slower (OpenMP thread teams spinning against each other).",
        "- A shared 2-core VM is noisy (the same run varies by about 15% between rounds), hence the",
        "  rounds and the paired medians.",
        "",
    ]
    return "\n".join(lines)


def _cpu_capability() -> str:
    import torch

    return torch.backends.cpu.get_cpu_capability()


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


def main(argv=None) -> int:
    parser = arguments(__doc__)
    parser.add_argument("--jobs", type=int, default=24)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--size", type=int, default=64, help="image side in px (a multiple of 8, 64..1024)")
    parser.add_argument("--rounds", type=int, default=3, help="repeat every configuration; the table shows medians")
    parser.add_argument("--direct", type=Path, metavar="MODEL_DIR", help=argparse.SUPPRESS)  # the baseline's own process
    parser.add_argument("--nondeterministic", action="store_true", help=argparse.SUPPRESS)  # with --direct
    args = parser.parse_args(argv)
    params = [(args.size, args.size, args.steps, 750, seed) for seed in range(1, args.jobs + 1)]
    if args.direct:
        print(direct(args.direct, params, deterministic=not args.nondeterministic))
        return 0
    runs: dict[tuple[str, bool], list[float]] = {(name, on): [] for on in (True, False) for name in RUNS}
    with tempfile.TemporaryDirectory() as scratch, networks.parse_network_choice(args.network):
        work = Path(scratch)
        model_dir = write_tiny_pipeline(work / MODEL_NAME)
        market = Market(work / "deployments")
        port = free_port()
        with running(degen("site", "simulate", "--port", str(port), "--speed", "0"), ready="SunSpec site simulator on"):
            for round_ in range(1, args.rounds + 1):
                for deterministic in (True, False):
                    runs[DIRECT, deterministic].append(direct_in_own_process(model_dir, args.jobs, args.steps, args.size, deterministic))
                    for name in (WORKER, BATCHED):
                        runs[name, deterministic].append(through_worker(
                            market, work / f"round-{round_}", model_dir, port, params, MAX_BATCH[name], deterministic))
                    runs[INSTANT, deterministic].append(instant(market, work / f"round-{round_}", model_dir, port, params,
                                                                deterministic))
                print(f"round {round_}: " + ", ".join(f"{name} ({'on' if on else 'off'}) {seconds[-1]:.2f} s"
                                                      for (name, on), seconds in runs.items()), flush=True)
            overheads = instant_overhead(market, work, model_dir, port, params)
    table = render(args.jobs, args.steps, args.size, runs, overheads)
    print(table)
    replace_section(args.out, "Worker", table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
