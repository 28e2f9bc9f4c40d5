"""Gas per JobMarket, JobChannels, RECToken and EnergyPool operation on a local anvil, written to docs/gas.md.

    make bench        (or: .venv/bin/python bench/gas.py [--out docs/gas.md])

Figures are transaction receipt gas (what a user pays, the 21,000 base included). Each
operation is measured on a warm market: one job has already run through, so the figures
are the steady state every later job pays; the first job's extra one-time storage costs
(the treasury's first balance, a site's first meter register) are reported separately.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

from ape import accounts, chain, networks, project
from eth_account import Account

from eth_utils import keccak

from degen import channels as orders
from degen import receipts
from degen.deploy import AKRE, ZERO, deploy_all, grant_operator_roles
from degen.models import EnergyReceipt, GenerationParams, JobTerms, Voucher
from degen.permit import sign_permit

LIFECYCLE_TARGET = 300_000
GREEN_LIFECYCLE_TARGET = 400_000
CHANNEL_JOBS = 50  # jobs one redemption pays for
CHANNEL_JOB_TARGET, GREEN_CHANNEL_JOB_TARGET = 3_000, 5_000  # gas per job of a redemption
CHANNEL_JOB_PRICE, CHANNEL_JOB_MWH = 2 * AKRE, 1_500
# Uniswap v2's pair `swap` in its own test: the whole transaction, the input already
# transferred, in a new block (price accumulators updated).
SWAP_RECEIVED_TARGET = 73_462
REC = 10**6
# EIP-170: the most code a contract may deploy.
CODE_SIZE_LIMIT = 24_576
PROMPT = "A quick brown fox jumps over the lazy dog"
MODEL_ID = hashlib.sha256(b"tiny-sd").digest()
PARAMS = GenerationParams(width=512, height=512, steps=20, guidance_x100=750, seed=42).as_tuple()


class Bench:
    """A deployed market with a requester, a provider and an active site and offer."""

    def __init__(self):
        self.deployer, self.requester, self.provider, self.treasury = accounts.test_accounts[:4]
        self.meter = Account.from_key(b"\x11" * 32)
        self.c = deploy_all(project, self.deployer, treasury=self.treasury.address, admin_delay=0)
        grant_operator_roles(self.c, self.deployer, registrar=self.deployer.address, issuer=self.deployer.address,
                             arbiter=self.deployer.address)  # the operator's roles, measured directly
        token, market, registry = self.c.token, self.c.market, self.c.registry
        for who in (self.requester, self.provider):
            token.transfer(who, 10_000 * AKRE, sender=self.deployer)
            token.approve(market, 2**256 - 1, sender=who)
        site = registry.register_site(self.meter.address, 10_000, 20_000, 450, "BR", sender=self.provider).return_value
        registry.activate(site, sender=self.deployer)
        self.site = site
        market.deposit_stake(1_000 * AKRE, sender=self.provider)
        self.offer = market.create_offer(
            site, MODEL_ID, 1024, 1024, 50, 2 * AKRE, 30 * AKRE, 5 * AKRE, False, sender=self.provider
        ).return_value

    def terms(self, offer_id=None, green=False):
        offer_id = self.offer if offer_id is None else offer_id
        return JobTerms(
            offer_id=offer_id, max_price=10 * AKRE, deadline=chain.pending_timestamp + 3600, green=green
        ).as_tuple()

    def create(self, offer_id=None, green=False):
        return self.c.market.create_job(self.terms(offer_id, green), PROMPT, PARAMS, sender=self.requester)

    def create_with_permit(self):
        token, market = self.c.token, self.c.market
        token.approve(market, 0, sender=self.requester)
        permit = sign_permit(
            self.requester.private_key, token=token.address, chain_id=chain.chain_id, owner=self.requester.address,
            spender=market.address, value=10 * AKRE, nonce=token.nonces(self.requester),
            deadline=chain.pending_timestamp + 3600,
        )
        tx = market.create_job_with_permit(
            self.terms(), PROMPT, PARAMS, *permit, sender=self.requester,
        )
        token.approve(market, 2**256 - 1, sender=self.requester)
        return tx

    def accept(self, job_id, offer_id=None):
        tx = self.c.market.accept(job_id, self.offer if offer_id is None else offer_id, sender=self.provider)
        chain.pending_timestamp += 60
        return tx

    def deliver(self, job_id, max_akre=None):
        """Delivers with a signed receipt; with `max_akre`, through the GreenRouter."""
        market = self.c.market
        started = market.job(job_id).state_since
        start = market.meter_register(market.offer(self.offer).site_id)
        receipt = EnergyReceipt(
            job_id=job_id,
            result_hash=hashlib.sha256(b"png").digest(),
            started_at=started,
            finished_at=started + 30,
            energy_mwh=1_500,
            meter_start=start,
            meter_end=start + 1_500,
        )
        signature = receipts.sign(receipt, self.meter, chain.chain_id, market.address)
        if max_akre is not None:
            return self.c.router.deliver(job_id, receipt.as_tuple(), signature, max_akre, 2**64, sender=self.provider)
        return market.deliver(job_id, receipt.as_tuple(), signature, sender=self.provider)

    def lifecycle(self, offer_id=None, green=False, max_akre=None):
        """create, accept, deliver (through the GreenRouter with `max_akre`), settle."""
        created = self.create(offer_id, green)
        job_id = created.return_value
        return [
            created, self.accept(job_id, offer_id), self.deliver(job_id, max_akre),
            self.c.market.settle(job_id, sender=self.requester),
        ]

    def issue(self, count=1):
        """Issues `count` consecutive hours of the site's generation (batched when more than one)."""
        rec = self.c.rec
        start = max(rec.high_water_mark(self.site), chain.pending_timestamp - 30 * 86400)
        requests = [(self.site, start + i * 3600, start + (i + 1) * 3600, 5_000_000, b"\xee" * 32) for i in range(count)]
        chain.pending_timestamp = max(chain.pending_timestamp, start + count * 3600 + 1)
        if count == 1:
            return rec.issue(*requests[0], sender=self.deployer)
        return rec.issue_batch(requests, sender=self.deployer)

    def route_through_the_pool(self):
        """The provider's RECs seed the deployment's pool (he holds none after), and the
        GreenRouter may deliver his jobs and spend his AKRE: every green delivery buys its RECs."""
        c = self.c
        self.issue(10)
        period = c.pool.OBSERVATION_PERIOD()  # the jobs' deliveries share the seed's period: no observation stored
        chain.pending_timestamp = (chain.pending_timestamp // period + 1) * period + 1
        recs = c.rec.balanceOf(self.provider)
        c.rec.transfer(self.deployer, recs, sender=self.provider)
        c.rec.approve(c.pool, recs, sender=self.deployer)
        c.token.approve(c.pool, 50 * AKRE, sender=self.deployer)
        c.pool.add_liquidity(recs, 50 * AKRE, 0, 2**64, sender=self.deployer)
        c.token.approve(c.router, 2**256 - 1, sender=self.provider)
        c.market.set_delivery_operator(c.router, True, sender=self.provider)

    def green_offer(self):
        self.issue()
        self.c.rec.approve(self.c.market, 2**256 - 1, sender=self.provider)
        return self.c.market.create_offer(
            self.site, MODEL_ID, 1024, 1024, 50, 2 * AKRE, 30 * AKRE, 5 * AKRE, True, sender=self.provider
        ).return_value


def code_sizes(deployed) -> list[tuple[str, int]]:
    """Each deployable's code on chain, immutables included: what EIP-170 limits."""
    contracts = (getattr(deployed, name) for name in deployed._fields if name != "block")
    return [(contract.contract_type.name, len(chain.provider.get_code(contract.address))) for contract in contracts]


def measure() -> tuple[list[tuple], dict[str, int], list[tuple[str, int]]]:
    """The market's rows, the lifecycle totals and the code sizes."""
    bench = Bench()
    market = bench.c.market
    first_lifecycle = sum(tx.gas_used for tx in bench.lifecycle())
    rows: list[tuple[str, int]] = []

    create, accept, deliver, settle = bench.lifecycle()
    rows += [("create_job (directed)", create.gas_used), ("accept", accept.gas_used),
             ("deliver (EIP-712 receipt verified)", deliver.gas_used), ("settle (by requester)", settle.gas_used)]
    lifecycle = sum(tx.gas_used for tx in (create, accept, deliver, settle))

    first_permit = bench.create_with_permit().gas_used  # the requester's first nonce is new storage
    rows.append(("create_job_with_permit", bench.create_with_permit().gas_used, first_permit))

    open_job = market.create_job(
        JobTerms(model_id=MODEL_ID, max_price=10 * AKRE, deadline=chain.pending_timestamp + 3600).as_tuple(),
        PROMPT, PARAMS, sender=bench.requester,
    )
    rows.append(("create_job (open)", open_job.gas_used))
    rows.append(("accept (open job)", bench.accept(open_job.return_value).gas_used))

    cancelled = bench.create().return_value
    rows.append(("cancel", market.cancel(cancelled, sender=bench.requester).gas_used))

    expiring = bench.create().return_value
    bench.accept(expiring)
    chain.pending_timestamp += 3600
    rows.append(("expire (accepted job, collateral slashed)", market.expire(expiring, sender=bench.deployer).gas_used))

    disputed = bench.create().return_value
    bench.accept(disputed)
    bench.deliver(disputed)
    rows.append(("dispute (bond posted)", market.dispute(disputed, sender=bench.requester).gas_used))
    rows.append(("resolve (provider wins)", market.resolve(disputed, True, sender=bench.deployer).gas_used))

    first_issue = bench.issue().gas_used  # the site's first record and high-water mark, the owner's first RECs
    rows.append(("REC issue (one site-period)", bench.issue().gas_used, first_issue))
    rows.append(("REC issue_batch (10 site-periods)", bench.issue(10).gas_used))

    def retire():
        return bench.c.rec.retire(1_000, bench.deployer, "Alice", "", sender=bench.provider).gas_used

    first_retire = retire()  # the first certificate ever, the beneficiary's first, the first retired total
    rows.append(("REC retire (certificate with a name minted)", retire(), first_retire))

    green = bench.green_offer()
    first_green = sum(tx.gas_used for tx in bench.lifecycle(green, green=True))
    green_txs = bench.lifecycle(green, green=True)
    rows += [("green create_job", green_txs[0].gas_used), ("green accept", green_txs[1].gas_used),
             ("green deliver (RECs retired, certificate minted)", green_txs[2].gas_used),
             ("green settle", green_txs[3].gas_used)]
    green_lifecycle = sum(tx.gas_used for tx in green_txs)

    bench.route_through_the_pool()
    bench.lifecycle(green, green=True, max_akre=AKRE)  # the steady state is the second
    routed_txs = bench.lifecycle(green, green=True, max_akre=AKRE)
    rows.append(("green deliver through the GreenRouter, all 1.5 kWh of RECs bought from the pool", routed_txs[2].gas_used))
    routed = sum(tx.gas_used for tx in routed_txs)
    totals = dict(lifecycle=lifecycle, first=first_lifecycle, green=green_lifecycle, first_green=first_green, routed=routed)
    return rows, totals, code_sizes(bench.c)


def measure_channels() -> tuple[list[tuple], dict[str, int]]:
    """A channel between the bench's requester and site: opening, top-up, redemptions of
    vouchers that add CHANNEL_JOBS jobs each (plain, then green), closing and withdrawal."""
    bench = Bench()
    c, requester, provider = bench.c, bench.requester, bench.provider
    channels = c.channels
    c.token.approve(channels, 2**256 - 1, sender=requester)
    bench.issue(2)  # RECs for the green jobs, approved to the channels
    c.rec.approve(channels, 2**256 - 1, sender=provider)

    def voucher(channel_id: int, jobs: int, green_jobs: int = 0):
        signed = Voucher(channel_id=channel_id, jobs=jobs, amount=jobs * CHANNEL_JOB_PRICE, energy_mwh=jobs * CHANNEL_JOB_MWH,
                         green_mwh=green_jobs * CHANNEL_JOB_MWH, receipts_root=keccak(jobs.to_bytes(32, "big")))
        return signed.as_tuple(), orders.sign(signed, requester.private_key, chain.chain_id, channels.address)

    def open_channel():
        return channels.open_channel(bench.site, 1_000 * AKRE, ZERO, sender=requester)

    first_open = open_channel()  # the contract's first channel: its counter is new storage
    opened = open_channel()
    channel_id = opened.return_value
    top_up = channels.top_up(channel_id, 10 * AKRE, sender=requester)
    first = channels.redeem(*voucher(channel_id, CHANNEL_JOBS), sender=provider)  # the channel's redeemed record is new
    plain = channels.redeem(*voucher(channel_id, 2 * CHANNEL_JOBS), sender=provider)
    channels.redeem(*voucher(channel_id, 3 * CHANNEL_JOBS, CHANNEL_JOBS), sender=provider)  # the provider's first certificate
    green = channels.redeem(*voucher(channel_id, 4 * CHANNEL_JOBS, 2 * CHANNEL_JOBS), sender=provider)
    close = channels.close(channel_id, sender=requester)
    chain.pending_timestamp += channels.NOTICE_PERIOD()
    withdraw = channels.withdraw(channel_id, sender=requester)
    rows = [
        ("channel open (deposit pulled)", opened.gas_used, first_open.gas_used),
        ("channel top_up", top_up.gas_used),
        (f"channel redeem: a voucher adding {CHANNEL_JOBS} jobs", plain.gas_used, first.gas_used),
        (f"channel redeem: a voucher adding {CHANNEL_JOBS} green jobs (their RECs retired, one certificate)", green.gas_used),
        ("channel close (the notice begins)", close.gas_used),
        ("channel withdraw (the rest refunded)", withdraw.gas_used),
    ]
    whole_life = opened.gas_used + first.gas_used + close.gas_used + withdraw.gas_used
    return rows, dict(plain=plain.gas_used, green=green.gas_used, first=first.gas_used, whole_life=whole_life)


def measure_pool() -> list[tuple[str, int]]:
    """Gas of the EnergyPool (default half-life: every measured action decays and burns RECs)
    and the integrator example. Each action runs in a new block, after the observation
    ring has wrapped once (so a period's first action rewrites a slot, as in steady state); the
    receiver already holds both tokens, as in Uniswap v2's test."""
    bench = Bench()
    c, deployer, trader = bench.c, bench.deployer, bench.requester
    pool, rec, token = c.pool, c.rec, c.token
    now = chain.pending_timestamp + 31 * 86400
    chain.pending_timestamp = now
    rec.issue(bench.site, now - 30 * 86400, now - 1, 7_000 * REC, b"\xee" * 32, sender=deployer)
    for who in (deployer, trader):
        if who != bench.provider:
            rec.transfer(who, 2_000 * REC, sender=bench.provider)
        rec.approve(pool, 2**256 - 1, sender=who)
        token.approve(pool, 2**256 - 1, sender=who)
    period = pool.OBSERVATION_PERIOD()
    rows = [("pool add_liquidity (first deposit)", pool.add_liquidity(1_000 * REC, 50 * AKRE, 0, 2**64, sender=deployer).gas_used)]
    for _ in range(pool.OBSERVATIONS() + 1):
        chain.pending_timestamp = (chain.pending_timestamp // period + 1) * period + 1
        pool.swap_exact_in(rec, REC, 0, trader, 2**64, sender=trader)

    def next_block(seconds=12):
        chain.pending_timestamp = chain.blocks.head.timestamp + seconds

    def received(token_in, amount):
        token_in.transfer(pool, amount, sender=trader)
        next_block()
        return pool.swap_received(token_in, 0, trader, 2**64, sender=trader)

    chain.pending_timestamp = (chain.pending_timestamp // period + 1) * period + 1
    crossing = received(rec, REC)
    measured = {
        "pool add_liquidity": lambda: pool.add_liquidity(100 * REC, 10 * AKRE, 0, 2**64, sender=trader),
        "pool swap_exact_in AKRE→REC (transferFrom)": lambda: pool.swap_exact_in(token, AKRE // 10, 0, trader, 2**64, sender=trader),
        "pool swap_exact_in REC→AKRE (transferFrom)": lambda: pool.swap_exact_in(rec, REC, 0, trader, 2**64, sender=trader),
        "pool swap_exact_out AKRE→REC (transferFrom)": lambda: pool.swap_exact_out(token, REC, 2**256 - 1, trader, 2**64, sender=trader),
        "pool swap_received REC→AKRE": lambda: received(rec, REC),
        "pool swap_received AKRE→REC": lambda: received(token, AKRE // 10),
        "pool remove_liquidity": lambda: pool.remove_liquidity(pool.balanceOf(trader) // 2, 0, 0, 2**64, sender=trader),
        "pool sync": lambda: pool.sync(sender=trader),
    }
    for name, action in measured.items():
        next_block()
        rows.append((name, action().gas_used))
    rows.append(("pool swap_received REC→AKRE, first of a 15-minute period (observation stored)", crossing.gas_used))

    plain = bench.deployer.deploy(project.EnergyPool, rec, token, 0)
    for who in (deployer, trader):
        rec.approve(plain, 2**256 - 1, sender=who)
        token.approve(plain, 2**256 - 1, sender=who)
    plain.add_liquidity(1_000 * REC, 50 * AKRE, 0, 2**64, sender=deployer)
    rec.transfer(plain, REC, sender=trader)
    next_block()
    rows.append(("pool swap_received REC→AKRE, half-life 0 (Uniswap v2 maths, no burn)",
                 plain.swap_received(rec, 0, trader, 2**64, sender=trader).gas_used))

    example = deployer.deploy(project.GreenOffset, pool, 3600, 200)
    token.approve(example, 2**256 - 1, sender=trader)
    next_block(3600)

    def offset():
        next_block()
        return example.offset(5 * REC, trader, "Alice", "", 10 * AKRE, 2**64, sender=trader).gas_used

    offset()  # the first retirement ever and Alice's first certificate are new storage
    rows.append(("GreenOffset offset (TWAP read, 5 REC bought and retired)", offset()))
    return rows


def render(rows, totals, sizes, pool_rows, channel_rows, channel_totals) -> str:
    """Rows are (operation, gas) or (operation, steady-state gas, first-use gas)."""
    verdict = "meets" if totals["lifecycle"] <= LIFECYCLE_TARGET else "MISSES"
    green_verdict = "meets" if totals["green"] <= GREEN_LIFECYCLE_TARGET else "MISSES"
    lines = [
        "# Gas per operation",
        "",
        "Produced by `bench/gas.py` (`make bench`) on a local anvil "
        f"({time.strftime('%Y-%m-%d')}). Transaction receipt gas: what the sender pays, the",
        "21,000 base of every transaction included. Steady state: the market has already run a job,",
        "so one-time storage (the treasury's first balance, the site's first meter reading) is not in",
        "these rows; it is in the first-job line below. Where an account's or a site's first use of",
        "an operation writes storage that later uses only update (a requester's first permit nonce,",
        "a site's first issuance, the first retirement and a beneficiary's first certificate), the",
        "first use is its own column.",
        "",
        "| operation | gas (steady state) | first use |",
        "|---|---:|---:|",
        *[f"| {row[0]} | {row[1]:,} | {f'{row[2]:,}' if len(row) > 2 else ''} |" for row in rows],
        "",
        f"**Lifecycle create + accept + deliver + settle: {totals['lifecycle']:,} gas** "
        f"({verdict} the {LIFECYCLE_TARGET:,} target). The very first job on a fresh deployment: "
        f"{totals['first']:,} gas.",
        "",
        f"**Green lifecycle create + accept + deliver + settle, with the RECs retired and the certificate "
        f"minted: {totals['green']:,} gas** ({green_verdict} the {GREEN_LIFECYCLE_TARGET:,} target). A "
        f"requester's very first green job: {totals['first_green']:,} gas (their first certificate count is new storage).",
        "",
        f"**Green lifecycle with the delivery through the GreenRouter, the provider holding no RECs (the "
        f"worker's `[green]` purchase of the whole shortfall): {totals['routed']:,} gas**, "
        f"{totals['routed'] - totals['green']:+,} over the plain green lifecycle: the router's checks, the AKRE "
        "transfer to the pool and its swap (decay and price accumulator included).",
        "",
        "## JobChannels",
        "",
        "A channel between the requester and the site (docs/SPEC.md, \"Channels\"): jobs run off chain on",
        f"signed orders; the site's owner redeems the requester's cumulative voucher, here every {CHANNEL_JOBS} jobs",
        f"({CHANNEL_JOB_PRICE // AKRE} AKRE and {CHANNEL_JOB_MWH:,} mWh each), paying the market's fee and, for green",
        "jobs, retiring their RECs on one certificate.",
        "",
        "| operation | gas (steady state) | first use |",
        "|---|---:|---:|",
        *[f"| {row[0]} | {row[1]:,} | {f'{row[2]:,}' if len(row) > 2 else ''} |" for row in channel_rows],
        "",
        channel_lines(channel_totals),
        "",
        "## EnergyPool",
        "",
        "The deployment's pool (REC half-life 88,930,531 s: 2 % a month), so every action below is",
        "the first of its block: it decays the REC reserve, burns the decay through",
        "`RECToken.dissipate` and updates the cumulative price. Each in a new block, the receiver",
        "already holding both tokens; the observation ring has wrapped once.",
        "",
        "| operation | gas |",
        "|---|---:|",
        *[f"| {name} | {gas:,} |" for name, gas in pool_rows],
        "",
        swap_received_line(dict(pool_rows)),
        "",
        "## Code size",
        "",
        f"Deployed code, immutables included, against EIP-170's limit of {CODE_SIZE_LIMIT:,} bytes: a",
        "contract over it cannot be deployed, so a change that grows JobMarket watches this column.",
        "",
        "| contract | bytes | headroom |",
        "|---|---:|---:|",
        *[f"| {name} | {size:,} | {CODE_SIZE_LIMIT - size:,} |" for name, size in sizes],
        "",
    ]
    return "\n".join(lines)


def channel_lines(totals: dict[str, int]) -> str:
    plain, green = totals["plain"] / CHANNEL_JOBS, totals["green"] / CHANNEL_JOBS
    verdict = lambda gas, target: "meets" if gas <= target else "MISSES"  # noqa: E731
    return (
        f"**Gas per job, a redemption of {CHANNEL_JOBS} jobs: {plain:,.0f} plain** ({verdict(plain, CHANNEL_JOB_TARGET)} the "
        f"{CHANNEL_JOB_TARGET:,} target), **{green:,.0f} green** ({verdict(green, GREEN_CHANNEL_JOB_TARGET)} the "
        f"{GREEN_CHANNEL_JOB_TARGET:,} target). A channel's first "
        f"redemption stores its record ({totals['first'] / CHANNEL_JOBS:,.0f} a job); a channel opened, redeemed once for "
        f"{CHANNEL_JOBS} jobs, closed and withdrawn costs {totals['whole_life'] / CHANNEL_JOBS:,.0f} gas a job in all."
    )


def swap_received_line(pool_rows: dict[str, int]) -> str:
    worst = max(pool_rows["pool swap_received REC→AKRE"], pool_rows["pool swap_received AKRE→REC"])
    verdict = "meets" if worst <= SWAP_RECEIVED_TARGET else "MISSES"
    return (
        f"**swap_received, decay and price accumulator included: at most {worst:,} gas** ({verdict} the "
        f"{SWAP_RECEIVED_TARGET:,} target, Uniswap v2's pair swap in its own test). `swap_exact_in`, which "
        f"pulls the input with `transferFrom`, costs {pool_rows['pool swap_exact_in REC→AKRE (transferFrom)']:,}. "
        "The first action of a 15-minute period also stores an observation (about 5,000 gas more once the "
        "ring has wrapped, 22,100 in its first day)."
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/gas.md"))
    parser.add_argument("--network", default="ethereum:local:foundry")
    args = parser.parse_args(argv)
    with networks.parse_network_choice(args.network):
        table = render(*measure(), measure_pool(), *measure_channels())
    print(table)
    args.out.write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
