"""The whole DeGEN story on a local chain, as real processes: Alice buys a green image from Bob,
whose new site has no RECs yet, so his worker buys them from the pool Carol seeded.

    make run                                           (= ape run demo --network ethereum:local:foundry --verbosity WARNING)
    ape run demo --network ethereum:local:foundry --keep-running   # then explore with the degen CLI
    ape run demo --network ethereum:local:foundry --model stabilityai/sd-turbo --size 512 --steps 1

Deploys the contracts with a committee of three oracles (two of three sign every report; it
holds the registrar, issuer and arbiter roles), starts the three oracles, registers Bob's site
(two oracles attest it) and a green offer, reports yesterday's solar day from Carol's solar farm
to every oracle so the committee issues her RECs, has Carol seed the EnergyPool
with them, starts Bob's site simulator and his worker (which buys missing RECs through the
GreenRouter within its caps), funds Alice, and runs `degen generate ... --green` as Alice.
Every process it started is stopped at the end (with --keep-running, on Ctrl-C). Its files
(keys, configs, model, state, the image) live in --workdir."""

from __future__ import annotations

import shutil
import signal
import time
from contextlib import ExitStack
from pathlib import Path

import click
import requests
from ape import accounts, chain, project
from ape.cli import ConnectedProviderCommand, network_option
from eth_account import Account

from degen import deployments, pool, telemetry
from degen.cli.common import STORY_DIR
from degen.deploy import AKRE, deploy_all, record_of
from degen.models import model_id
from degen.pool_model import MWH_PER_REC
from degen.processes import Process, degen, free_port, running
from degen.requester import akre
from worker.site_sim import signed_day

PROMPT = "A quick brown fox jumps over the lazy dog"
TINY_MODEL = "tiny-sd"
# Bob's site in Brazil, as the story tells it: 10 kW of rooftop PV, a 20 kWh battery, an RTX 4090-class GPU.
SITE = dict(pv_peak_watts=10_000, battery_wh=20_000, max_gpu_watts=450, region="BR")
# Carol's solar farm in Kenya, whose RECs she trades in the pool (no GPU: the registry's least bound).
FARM = dict(pv_peak_watts=100_000, battery_wh=200_000, max_gpu_watts=1, region="KE")
OFFER = dict(max_size=1024, max_steps=50, base_price=2 * AKRE, price_per_kwh=30 * AKRE, collateral=5 * AKRE)
FUNDS = dict(bob=200 * AKRE, alice=100 * AKRE, stake=100 * AKRE, carol=100 * AKRE)
LIQUIDITY = dict(rec=50 * 10**6, akre=50 * AKRE)  # 50 REC at 1 AKRE each
# Bob's worker buys missing RECs at most 5 % above the pool's TWAP; the story's pool is seconds
# old, so its window is short (a worker on a real chain keeps the default hour).
GREEN = dict(max_premium_pct=5.0, twap_window_s=15, max_akre_per_job=1.0, router_allowance_akre=5.0)
STEPS = 10
INSTANT_PROMPT = "A lighthouse powered by the sun"
INSTANT = dict(max_price="3", deposit="10")  # AKRE: the instant job's price cap, and Alice's channel deposit
WEB_PORT = 8600  # `degen web`'s default, so the page keeps its origin (and the wallet's permission) between runs
ORACLE_PORT = 8800  # the oracles' ports from the default on: docs/der-owners.md points a new DER owner's worker at them
MEMBERS = (1, 2, 3)  # the committee's oracles
THRESHOLD = 2


def step(number: int, text: str) -> None:
    click.secho(f"\n[{number}/{STEPS}] {text}", bold=True)


@click.command(cls=ConnectedProviderCommand)
@network_option()
@click.option("--workdir", default=str(STORY_DIR), show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="Keys, configs, the model, daemon state and the image.")
@click.option("--model", "model_source", help="A real Stable Diffusion model: local folder or hub id (default: a tiny generated one).")
@click.option("--size", default=64, show_default=True, type=click.IntRange(64, 1024), help="Image side, px (multiple of 8).")
@click.option("--steps", default=10, show_default=True, type=click.IntRange(1, 50))
@click.option("--keep-running", is_flag=True, help="Leave anvil and the daemons running until Ctrl-C.")
def cli(ecosystem, network, workdir, model_source, size, steps, keep_running):
    """Alice buys a green image from Bob: the whole story on a local chain."""
    if not network.is_dev:
        raise click.UsageError("the demo runs on a local development network (ethereum:local:foundry)")
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    for state in ("deployments", "worker-data", *(f"oracle-{n}-data" for n in MEMBERS)):  # a previous run's, for gone contracts
        shutil.rmtree(workdir / state, ignore_errors=True)
    deployer, alice, bob, carol = (accounts.test_accounts[i] for i in (0, 1, 2, 3))
    operators = {n: accounts.test_accounts[4 + n] for n in MEMBERS}  # the committee's three oracle operators
    meter, farm_meter = Account.create(), Account.create()
    (workdir / "meter.key").write_text(meter.key.hex())
    (workdir / "bob.key").write_text(bob.private_key)
    ports = {n: free_port(preferred=ORACLE_PORT + n - 1) for n in MEMBERS}
    urls = {n: f"http://127.0.0.1:{port}" for n, port in ports.items()}

    step(1, "Deploying the contracts, with a committee of three oracles (2 of 3 sign every report)")
    first_block = chain.blocks.height
    c = deploy_all(project, deployer, oracles=[(operators[n].address, urls[n]) for n in MEMBERS], threshold=THRESHOLD)
    record = record_of(c, network=f"{ecosystem.name}:local", chain_id=chain.chain_id, block=first_block + 1, deployer=deployer.address)
    deployments.save(record, workdir / "deployments")
    click.echo(f"  market {c.market.address}, RECs {c.rec.address}, pool {c.pool.address}, router {c.router.address}")
    click.echo(f"  committee {c.committee.address}: {', '.join(o.address for o in operators.values())}, each bonded "
               f"{akre(c.committee.bond_of(operators[1]))}; changes wait {c.timelock.get_minimum_delay() // 3600} h in the "
               f"timelock {c.timelock.address}")

    with ExitStack() as processes:
        step(2, "Starting the three oracles; Bob (Brazil) registers his site (10 kW rooftop PV, a 20 kWh battery, an RTX "
                "4090-class GPU declared at 450 W), two of them attest it, and he opens a green offer")
        model_name = TINY_MODEL if model_source is None else Path(model_source.rstrip("/")).name  # e.g. sd-turbo
        model = model_source or str(tiny_model(workdir / "models" / TINY_MODEL))
        oracles = {}
        for n in MEMBERS:
            (workdir / f"oracle-{n}.key").write_text(operators[n].private_key)
            config = write_oracle_config(workdir, n, chain.provider.uri, model_name, model, ports[n])
            oracles[n] = processes.enter_context(running(degen("oracle", "run", "--config", config), ready="oracle ready",
                                                         timeout=120, log=workdir / f"oracle-{n}.log"))
        c.token.transfer(bob, FUNDS["bob"], sender=deployer)
        site_id = register(c, bob, meter, SITE, workdir, (1, 2))
        c.token.approve(c.market, 2**256 - 1, sender=bob)
        c.market.deposit_stake(FUNDS["stake"], sender=bob)
        offer_id = c.market.create_offer(site_id, model_id(model_name), OFFER["max_size"], OFFER["max_size"], OFFER["max_steps"],
                                         OFFER["base_price"], OFFER["price_per_kwh"], OFFER["collateral"], True, sender=bob).return_value
        c.rec.approve(c.market, 2**256 - 1, sender=bob)  # delivering a green job retires his RECs
        click.echo(f"  site {site_id} active, attested by {attesters(c, 2, site_id, operators)}; offer {offer_id}: "
                   f"{akre(OFFER['base_price'])} + {akre(OFFER['price_per_kwh'])}/kWh, green; the site is new: Bob holds "
                   f"{rec_text(c.rec.balanceOf(bob))}")

        step(3, "Carol's 100 kW solar farm in Kenya (attested by the other two) reports yesterday's solar day to every "
                "oracle, and they issue her RECs")
        farm_id = register(c, carol, farm_meter, FARM, workdir, (2, 3))
        report_yesterday(list(urls.values()), farm_id, farm_meter, record, FARM)
        deadline = time.monotonic() + 120
        while c.rec.high_water_mark(farm_id) < (int(time.time()) // 86_400 - 1) * 86_400 + 18 * 3600:  # the day's last sunny hour
            if time.monotonic() > deadline:
                raise click.ClickException("the oracles did not issue yesterday's RECs in 2 minutes:\n"
                                           + "\n".join(oracle.output[-1500:] for oracle in oracles.values()))
            time.sleep(0.5)
        issued = list(c.committee.ReportAccepted.range(first_block, chain.blocks.height + 1, search_topics={"kind": 1}))
        click.echo(f"  Carol holds {rec_text(c.rec.balanceOf(carol))} (kWh), issued for {c.rec.issuance_count()} hourly periods "
                   f"in {len(issued)} committee report{'s' if len(issued) != 1 else ''}, each signed by 2 of the 3: "
                   f"{'; '.join(names(report.signers, operators) for report in issued)}")
        oracle_url = urls[1]

        step(4, f"Carol seeds the EnergyPool with {rec_text(LIQUIDITY['rec'])} and {akre(LIQUIDITY['akre'])}")
        c.token.transfer(carol, FUNDS["carol"], sender=deployer)
        c.rec.approve(c.pool, LIQUIDITY["rec"], sender=carol)
        c.token.approve(c.pool, LIQUIDITY["akre"], sender=carol)
        c.pool.add_liquidity(LIQUIDITY["rec"], LIQUIDITY["akre"], 0, chain.pending_timestamp + 600, sender=carol)
        click.echo(f"  the pool holds {pool_text(pool.read(c, GREEN['twap_window_s']))}")

        step(5, "Starting Bob's site (simulated inverter and battery, noon), his worker and the web page")
        site_port, worker_port, web_port = free_port(), free_port(), free_port(preferred=WEB_PORT)
        web_url = f"http://127.0.0.1:{web_port}"
        processes.enter_context(running(
            degen("site", "simulate", "--port", str(site_port), "--start-hour", "12", "--speed", "0",
                  "--pv-peak-watts", str(SITE["pv_peak_watts"]), "--battery-wh", str(SITE["battery_wh"])),
            ready="SunSpec site simulator on", log=workdir / "site.log"))
        worker = processes.enter_context(running(
            degen("worker", "run", "--config", write_worker_config(workdir, chain.provider.uri, model_name, model, offer_id, site_id, site_port,
                                                                 worker_port, web_url)),
            ready="worker ready", timeout=300, log=workdir / "worker.log"))
        processes.enter_context(running(
            degen("web", "--port", str(web_port), "--oracle", oracle_url, "--network", "ethereum:local:foundry",
                  "--deployments", str(workdir / "deployments")), ready="web page on", log=workdir / "web.log"))
        click.echo(f"  site simulator :{site_port}, worker http://127.0.0.1:{worker_port} "
                   f"({'tiny generated model' if model_source is None else model}), oracle {oracle_url}, web page {web_url}")
        click.echo(f"  a green job short of RECs buys them in the pool, at most {GREEN['max_premium_pct']:g} % above "
                   f"the {GREEN['twap_window_s']} s TWAP and {GREEN['max_akre_per_job']:g} AKRE a job")

        step(6, "Alice (Singapore) gets 100 AKRE")
        c.token.transfer(alice, FUNDS["alice"], sender=deployer)

        step(7, f'Alice runs: degen generate "{PROMPT}" --green')
        image = workdir / "fox.png"
        shape = ("--width", str(size), "--height", str(size), "--steps", str(steps))
        play_alice(workdir, worker, "generate", PROMPT, "--green", *shape, "--seed", "42", "--out", str(image))

        step(8, "What happened")
        job_id = c.market.job_count()
        receipt = requests.get(f"http://127.0.0.1:{worker_port}/receipts/{job_id}", timeout=10).json()
        blocks = (first_block, chain.blocks.height + 1)
        settled = next(iter(c.market.JobSettled.range(*blocks, search_topics={"job_id": job_id})))
        retired = [log for log in c.rec.Retired.range(*blocks) if log.job_id == job_id]
        bought = [log for log in c.router.ShortfallBought.range(*blocks) if log.job_id == job_id]
        certificate_id = retired[0].certificate_id if retired else None
        print_summary(image, receipt, settled, c, alice, bob, certificate_id)
        if bought:
            print_purchase(bought[0], c)

        step(9, f'Alice buys another image instantly, through a channel with Bob\'s site: degen generate "{INSTANT_PROMPT}" --instant')
        click.echo("  no transaction per job: she signs an order, Bob's worker generates at once, and she signs a voucher "
                   "for what she owes after checking the image and its receipt")
        started = time.monotonic()
        play_alice(workdir, worker, "generate", INSTANT_PROMPT, "--instant", *shape, "--seed", "7",
                   "--max-price", INSTANT["max_price"], "--deposit", INSTANT["deposit"], "--out", str(workdir / "lighthouse.png"))
        click.echo(f"  {time.monotonic() - started:.1f} s for the whole command, the channel's opening included")

        step(10, "Alice closes her channel; Bob's worker redeems her voucher within the notice, in one transaction")
        channel_id = c.channels.channel_count()
        closes_at = c.channels.close(channel_id, sender=alice).decode_logs(c.channels.ChannelClosing)[0].closes_at
        worker.wait_for(rf"channel vouchers redeemed channel={channel_id} ", timeout=60)
        redeemed = list(c.channels.VoucherRedeemed.range(first_block, chain.blocks.height + 1,
                                                         search_topics={"channel_id": channel_id}))[-1]
        click.echo(f"  voucher for {redeemed.jobs} job redeemed: {akre(redeemed.paid)} to Bob, {akre(redeemed.fee)} protocol fee, "
                   f"{redeemed.energy_mwh:,} mWh metered; Alice withdraws the rest after the notice "
                   f"({round((closes_at - chain.pending_timestamp) / 3600)} h: `degen channel withdraw {channel_id}`)")

        if keep_running:
            click.secho("\nEverything keeps running; try, in another shell (from this folder):", bold=True)
            flags = "" if workdir == STORY_DIR.resolve() else f" --deployments {workdir / 'deployments'}"
            for line in (f"degen offers{flags}", f"degen jobs --account TEST::1{flags}", f"degen pool show{flags}",
                         f"degen balance {bob.address}{flags}"):
                click.echo(f"  {line}")
            click.secho(f"\nOr play Alice in your browser: open {web_url}", bold=True)
            click.echo(f"  with a browser wallet holding Alice's key {alice.private_key} (a public test key: never fund it "
                       f"elsewhere), on the network {chain.provider.uri}, chain id {chain.chain_id} (the page offers to add it).")
            click.echo(f"The daemons' logs: {workdir / 'worker.log'}, {', '.join(str(workdir / f'oracle-{n}.log') for n in MEMBERS)}, "
                       f"{workdir / 'site.log'}, "
                       f"{workdir / 'web.log'}. Ctrl-C stops it all.")
            ape_handler = signal.signal(signal.SIGINT, signal.default_int_handler)  # Ape's exits at once, saying nothing
            try:
                signal.pause()
            except KeyboardInterrupt:
                pass
            finally:
                signal.signal(signal.SIGINT, ape_handler)
        click.echo("\nstopping the worker, the oracles, the site simulator and the web page")


def play_alice(workdir: Path, worker: Process, *args: str) -> None:
    """Runs a `degen` command as Alice on the story's chain, showing its lines as they come."""
    buyer = Process(degen(*args, "--account", "TEST::1", "--network", "ethereum:local:foundry",
                          "--deployments", str(workdir / "deployments")))
    shown = 0
    while buyer.popen.poll() is None or shown < len(buyer.lines):
        for line in buyer.lines[shown:]:
            click.echo(f"  {line}")
        shown = len(buyer.lines)
        time.sleep(0.2)
    if buyer.popen.returncode != 0:
        raise click.ClickException(f"degen {args[0]} failed; the worker said:\n{worker.output[-3000:]}")


def register(c, owner, meter, site: dict, workdir: Path, members: tuple[int, ...]) -> int:
    """Registers `owner`'s site with `meter` as its meter key; `members` of the committee
    attest it (`degen oracle activate`), and their daemons transmit the report."""
    site_id = c.registry.register_site(meter.address, site["pv_peak_watts"], site["battery_wh"], site["max_gpu_watts"],
                                       site["region"], sender=owner).return_value
    for n in members:
        attested = Process(degen("oracle", "activate", "--config", str(workdir / f"oracle-{n}.toml"), str(site_id)))
        if attested.popen.wait(120) != 0:
            raise click.ClickException(f"oracle {n} could not attest site {site_id}:\n{attested.output[-2000:]}")
    deadline = time.monotonic() + 60
    while not c.registry.is_active(site_id):
        if time.monotonic() > deadline:
            raise click.ClickException(f"the committee did not activate site {site_id} in 60 s")
        time.sleep(0.3)
    return site_id


def names(addresses, operators: dict) -> str:
    """'oracle 1 and oracle 2' for the committee members' addresses."""
    numbers = {account.address: n for n, account in operators.items()}
    return " and ".join(f"oracle {numbers[address]}" for address in sorted(addresses, key=lambda a: numbers.get(a, 0)))


def attesters(c, kind: int, subject: int, operators: dict) -> str:
    """Who signed the committee's accepted report of `kind` about `subject`."""
    accepted = list(c.committee.ReportAccepted.range(0, chain.blocks.height + 1, search_topics={"kind": kind, "subject": subject}))
    return names(accepted[-1].signers, operators)


def tiny_model(directory: Path) -> Path:
    from degen.inference.tiny_model import write_tiny_pipeline

    if not (directory / "model_index.json").exists():
        write_tiny_pipeline(directory)
    return directory


def write_config(path: Path, schema, config: dict) -> str:
    """A daemon's TOML config, validated by its schema before it is written."""
    from degen.daemon.config import to_toml

    path.write_text(to_toml(schema.model_validate(config)))
    return str(path)


def chain_section(rpc_url: str) -> dict:
    return {"rpc_url": rpc_url, "network": "ethereum:local", "deployments": "deployments", "poll_interval_s": 0.5}


def write_oracle_config(workdir: Path, n: int, rpc_url: str, model_name: str, model: str, port: int) -> str:
    from oracle.config import OracleConfig

    return write_config(workdir / f"oracle-{n}.toml", OracleConfig, {
        "data_dir": f"oracle-{n}-data", "chain": chain_section(rpc_url), "account": {"key_file": f"oracle-{n}.key"},
        "ingest": {"port": port}, "issuance": {"interval_s": 1.0}, "models": {model_name: model},
        "committee": {"public_url": f"http://127.0.0.1:{port}", "transmit_delay_s": 2.0},
    })


def write_worker_config(workdir: Path, rpc_url: str, model_name: str, model: str, offer_id: int, site_id: int, site_port: int,
                        port: int, web_url: str) -> str:
    from worker.config import WorkerConfig

    return write_config(workdir / "worker.toml", WorkerConfig, {
        "data_dir": "worker-data", "offers": [offer_id], "models": {model_name: model}, "chain": chain_section(rpc_url),
        "account": {"provider_key_file": "bob.key", "meter_key_file": "meter.key"},
        "site": {"site_id": site_id, "modbus_port": site_port, "read_interval_s": 1.0},
        "server": {"port": port, "public_url": f"http://127.0.0.1:{port}", "allowed_origins": [web_url]},  # the page downloads
        "telemetry": {"interval_s": 300},  # to every member of the committee
        "green": GREEN,
    })


def report_yesterday(oracle_urls: list[str], site_id: int, meter, record, site: dict) -> None:
    """Yesterday's clear day at a site, as its site agent would have reported it: a signed
    sample every 5 minutes from the simulator's physics, posted in batches to every oracle."""
    day = (int(time.time()) // 86_400 - 1) * 86_400
    bodies = [telemetry.body(*signed) for signed in signed_day(
        site_id, day, meter, record.chain_id, record.registry, pv_peak_watts=site["pv_peak_watts"], battery_wh=site["battery_wh"])]
    for oracle_url in oracle_urls:
        for first in range(0, len(bodies), 100):
            response = requests.post(f"{oracle_url}/samples/batch", json={"samples": bodies[first:first + 100]}, timeout=30)
            response.raise_for_status()
            refused = [r for r in response.json()["results"] if r["status"] >= 400]
            if refused:
                raise click.ClickException(f"the oracle at {oracle_url} refused {len(refused)} of yesterday's samples, the first "
                                           f"with {refused[0]['status']}: {refused[0]['detail']}")
    click.echo(f"  {len(bodies)} signed samples to each of the {len(oracle_urls)} oracles, "
               f"{bodies[-1]['register_wh'] - bodies[0]['register_wh']:,} Wh generated")


def print_summary(image: Path, receipt: dict, settled, c, alice, bob, certificate_id) -> None:
    energy = receipt["receipt"]["energy_mwh"]
    meter = receipt["metadata"]["meter"]
    click.echo(f"  image         {image}")
    click.echo(f"  receipt       {energy:,} mWh, meter {receipt['receipt']['meter_start']}..{receipt['receipt']['meter_end']} "
               f"({meter}), signed by the site's meter key, verified on chain")
    click.echo(f"  payment       {akre(settled.price)}: {akre(settled.price - settled.fee)} to Bob, "
               f"{akre(settled.fee)} protocol fee; {akre(settled.refund)} back to Alice")
    if certificate_id:
        cert = c.certificate.certificate(certificate_id)
        click.echo(f"  certificate   #{certificate_id} owned by Alice: {cert.amount_mwh:,} mWh retired for job {cert.job_id} "
                   f"(soulbound; `degen rec show {certificate_id}`)")
    click.echo(f"  balances      Alice {akre(c.token.balanceOf(alice))}, Bob {akre(c.token.balanceOf(bob))} "
               f"(+ {akre(c.market.stake_of(bob)[0])} staked), Bob's RECs {rec_text(c.rec.balanceOf(bob))}")


def print_purchase(bought, c) -> None:
    """What Bob's worker bought through the GreenRouter, against the pool's TWAP, and the pool after."""
    state = pool.read(c, GREEN["twap_window_s"])
    price = bought.akre_amount * MWH_PER_REC // bought.rec_amount
    twap = c.pool.consult(GREEN["twap_window_s"], block_id=bought.block_number)  # up to the purchase, from the reserves before it
    click.echo(f"  RECs bought   {rec_text(bought.rec_amount)} for {pool.amount_text(bought.akre_amount, 'akre')} by Bob's worker, "
               f"inside the delivery (GreenRouter)")
    click.echo(f"  its price     {akre(price)}/REC against a {GREEN['twap_window_s']} s TWAP of {akre(twap)}/REC: "
               f"{(price / twap - 1) * 100:+.2f} % (cap +{GREEN['max_premium_pct']:g} %)")
    click.echo(f"  pool after    {pool_text(state)}")


def rec_text(mwh: int) -> str:
    return pool.amount_text(mwh, "rec")


def pool_text(state) -> str:
    twap = "no TWAP yet" if state.twap is None else f"{state.twap_window} s TWAP {akre(state.twap)}/REC"
    return (f"{rec_text(state.rec)} / {akre(state.akre)}: spot {akre(round(state.spot))}/REC, {twap}; "
            f"{rec_text(state.dissipated)} dissipated so far")

