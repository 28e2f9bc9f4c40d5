"""How long a `degen` command takes from the shell, on a local anvil with a deployment, one
offer and one job: the wall time of the whole process, start-up (imports, Ape's project and
network) included, as a user waits for it. Written to docs/performance.md ("CLI start-up").

    make bench-cli   (or: .venv/bin/python bench/cli.py [--runs 5])
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The repository root on sys.path, for `bench.report` (run as a script, this folder comes first).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ape import accounts, chain, networks, project  # noqa: E402

from bench.report import arguments, replace_section  # noqa: E402
from degen import deployments  # noqa: E402
from degen.deploy import AKRE, deploy_all, grant_operator_roles, record_of  # noqa: E402
from degen.models import JobTerms, GenerationParams, model_id  # noqa: E402
from degen.processes import degen  # noqa: E402

COMMANDS = [  # (what, argv)
    ("degen --help", ["--help"]),
    ("degen deployment", ["deployment"]),
    ("degen offers", ["offers"]),
    ("degen job show 1", ["job", "show", "1"]),
    ("degen rec balance ADDRESS", ["rec", "balance", "0x" + "11" * 20]),
    ("degen balance --account TEST::1", ["balance", "--account", "TEST::1"]),
    ("degen pool show", ["pool", "show"]),
]


def stage(directory: Path) -> None:
    """A deployment with Bob's site, an offer and one open job, its file in `directory`."""
    deployer, alice, bob = accounts.test_accounts[:3]
    first = chain.blocks.height
    c = deploy_all(project, deployer, admin_delay=0)  # a development deployment: the deployer registers through the timelock
    grant_operator_roles(c, deployer, registrar=deployer.address)
    site = c.registry.register_site(deployer.address, 10_000, 20_000, 450, "BR", sender=bob).return_value
    c.registry.activate(site, sender=deployer)
    c.token.transfer(bob, 200 * AKRE, sender=deployer)
    c.token.approve(c.market, 2**256 - 1, sender=bob)
    c.market.deposit_stake(100 * AKRE, sender=bob)
    offer = c.market.create_offer(site, model_id("tiny-sd"), 1024, 1024, 50, 2 * AKRE, 30 * AKRE, 5 * AKRE, False,
                                  sender=bob).return_value
    c.token.transfer(alice, 100 * AKRE, sender=deployer)
    c.token.approve(c.market, 10 * AKRE, sender=alice)
    terms = JobTerms(offer_id=offer, max_price=10 * AKRE, deadline=chain.pending_timestamp + 3600)
    c.market.create_job(terms.as_tuple(), "a lighthouse", GenerationParams(seed=1).as_tuple(), sender=alice)
    record = record_of(c, network="ethereum:local", chain_id=chain.chain_id, block=first + 1, deployer=deployer.address)
    deployments.save(record, directory)


def timed(argv: list[str], directory: Path, env: dict) -> float:
    started = time.perf_counter()
    done = subprocess.run(degen(*argv, "--deployments", str(directory)) if argv != ["--help"] else degen(*argv),
                          capture_output=True, text=True, env=env, timeout=120)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr}")
    return elapsed


def render(rows: list[tuple[str, float, float]], runs: int) -> str:
    lines = [
        f"`bench/cli.py` (`make bench-cli`), {time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs: the wall time of each `degen` command as a user waits for it (the whole process: "
        f"Python, imports, the connection, the reads), median and slowest of {runs} runs, on a local anvil with one "
        "offer and one job. Commands that only read go to the node over plain JSON-RPC (`degen/chain/readonly.py`); "
        "one that names an `--account` (and every one that signs) starts Ape, whose plugins, providers and project "
        "take most of its time. Before the read-only path, on the same machine, every command here but `--help` and "
        "`deployment` took 2.9 to 3.2 s.",
        "",
        "| command | median, s | slowest, s |",
        "|---|---:|---:|",
        *[f"| `{name}` | {median:.2f} | {worst:.2f} |" for name, median, worst in rows],
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = arguments(__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    with networks.parse_network_choice(args.network) as provider, tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        stage(directory)
        env = {**os.environ, "APE_FOUNDRY_HOST": provider.uri}
        rows = []
        for name, command in COMMANDS:
            times = [timed(command, directory, env) for _ in range(args.runs)]
            rows.append((name, statistics.median(times), max(times)))
            print(f"{name:<36} median {rows[-1][1]:.2f} s, slowest {rows[-1][2]:.2f} s", flush=True)
    replace_section(args.out, "CLI start-up", render(rows, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
