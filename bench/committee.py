"""Oracle committee: gas of its reports on anvil (REC issuance for 100 sites in one report signed by 3 of 5 members, per site-period against the issuer role's direct issue_batch; a dispute verdict, a site activation, an equivocation proof), and three live members' time from a period's end to RECs and HTTP traffic (bench/committee_live.py).

    python bench/committee.py [--out docs/performance.md] [--network ethereum:local:foundry]

Rewrites the "Oracle committee" section of the document it is given."""

from __future__ import annotations

import hashlib
import os
import platform
import sys
from datetime import date
from pathlib import Path

from eth_account import Account

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import committee_live  # noqa: E402
from bench.report import arguments, replace_section  # noqa: E402

SITES = 100
MEMBERS, THRESHOLD = 5, 3
GAS_TARGET = 50_000  # per site-period in a 100-site report (issue 28)
BOND = 1_000 * 10**18  # AKRE
ROOT = b"\xee" * 32


def measure(network: str) -> dict[str, int]:
    from ape import accounts, chain, networks, project

    from degen import committee as reports
    from degen import eip712, receipts
    from degen.committee import IssuanceRequest
    from degen.deploy import AKRE, deploy_all, grant_operator_roles, through_timelock
    from degen.models import EnergyReceipt, GenerationParams, JobTerms, model_id

    with networks.parse_network_choice(network):
        deployer = accounts.test_accounts[0]
        c = deploy_all(project, deployer, treasury=deployer.address, admin_delay=0)
        committee = deployer.deploy(project.OracleCommittee, c.rec, c.registry, c.market, c.token, deployer, deployer, BOND, 86_400)
        through_timelock(c, deployer, [(contract, contract.grantRole.encode_input(role, committee)) for contract, role in (
            (c.rec, c.rec.ISSUER_ROLE()), (c.registry, c.registry.REGISTRAR_ROLE()), (c.market, c.market.ARBITER_ROLE()))])
        grant_operator_roles(c, deployer, registrar=deployer.address, issuer=deployer.address, salt=b"\x01" * 32)
        members = []
        for count in range(1, MEMBERS + 1):
            member = accounts.test_accounts.generate_test_account()  # bonded: it posts its own bond
            deployer.transfer(member, 10**17)
            c.token.transfer(member, BOND, sender=deployer)
            c.token.approve(committee, BOND, sender=member)
            committee.post_bond(BOND, sender=member)
            committee.add_member(member, f"https://oracle-{count}.example.org", count // 2 + 1, sender=deployer)
            members.append(member)
        committee.set_threshold(THRESHOLD, sender=deployer)

        def signed(typed, signers=members[:THRESHOLD]):
            return reports.ordered({m.address: eip712.sign(typed, m.private_key) for m in signers})

        sites = []
        for i in range(SITES):
            owner = accounts.test_accounts.generate_test_account()  # every site its own owner, as in life
            deployer.transfer(owner, 10**17)
            site = c.registry.register_site(Account.from_key((i + 1).to_bytes(32, "big")).address, 10_000, 20_000, 450, "BR",
                                            sender=owner).return_value
            c.registry.activate(site, sender=deployer)
            sites.append(site)
        hour = (chain.pending_timestamp // 3600 - 24) * 3600

        def requests(start):
            return [IssuanceRequest(site, start, start + 3600, 2_500_000, ROOT) for site in sites]

        gas = {}
        c.rec.issue_batch([r.as_tuple() for r in requests(hour)], sender=deployer)  # first issuances: one-time storage
        gas["direct"] = c.rec.issue_batch([r.as_tuple() for r in requests(hour + 3600)], sender=deployer).gas_used // SITES
        typed = reports.issuance_report(committee.config_count(), requests(hour + 7200), chain.chain_id, committee.address)
        gas["issuance"] = committee.issue(reports.as_arguments(typed), signed(typed), sender=deployer).gas_used // SITES

        owner = accounts.test_accounts[2]
        meter = Account.create()
        site = c.registry.register_site(meter.address, 10_000, 20_000, 450, "BR", sender=owner).return_value
        decision = reports.site_report(committee.config_count(), site, 0, True, meter=meter.address, pv_peak_watts=10_000,
                                       battery_wh=20_000, max_gpu_watts=450, chain_id=chain.chain_id, committee=committee.address)
        gas["site"] = committee.decide_site(reports.as_arguments(decision), signed(decision), sender=deployer).gas_used

        requester = accounts.test_accounts[1]
        c.token.transfer(owner, 200 * AKRE, sender=deployer)
        c.token.transfer(requester, 100 * AKRE, sender=deployer)
        c.token.approve(c.market, 2**256 - 1, sender=owner)
        c.token.approve(c.market, 2**256 - 1, sender=requester)
        c.market.deposit_stake(100 * AKRE, sender=owner)
        offer = c.market.create_offer(site, model_id("tiny-sd"), 512, 512, 20, AKRE, AKRE, AKRE, False, sender=owner).return_value
        terms = JobTerms(offer_id=offer, max_price=5 * AKRE, deadline=chain.pending_timestamp + 3600, challenge_window=600)
        job = c.market.create_job(terms.as_tuple(), "a bench", GenerationParams(width=64, height=64, steps=4, seed=1).as_tuple(),
                                  sender=requester).return_value
        c.market.accept(job, offer, sender=owner)
        chain.pending_timestamp += 60
        started = c.market.job(job).state_since
        receipt = EnergyReceipt(job_id=job, result_hash=hashlib.sha256(b"png").digest(), started_at=started,
                                finished_at=started + 30, energy_mwh=1_000, meter_start=0, meter_end=1_000)
        c.market.deliver(job, receipt.as_tuple(), receipts.sign(receipt, meter, chain.chain_id, c.market.address), sender=owner)
        c.market.dispute(job, sender=requester)
        verdict = reports.verdict_report(committee.config_count(), job, False, chain.chain_id, committee.address)
        gas["verdict"] = committee.resolve(reports.as_arguments(verdict), signed(verdict), sender=requester).gas_used

        yes = reports.verdict_report(committee.config_count(), 99, True, chain.chain_id, committee.address)
        no = reports.verdict_report(committee.config_count(), 99, False, chain.chain_id, committee.address)
        liar = members[-1]
        gas["equivocation"] = committee.prove_verdict_equivocation(
            reports.as_arguments(yes), eip712.sign(yes, liar.private_key), reports.as_arguments(no), eip712.sign(no, liar.private_key),
            sender=requester).gas_used
    return gas



def render(gas: dict[str, int], live: dict) -> str:
    verdict = f"≤ {GAS_TARGET:,} {'met' if gas['issuance'] <= GAS_TARGET else 'NOT met'}"
    config = committee_live.CONFIG
    return "\n".join([
        f"Produced by `bench/committee.py` (`make bench-committee`) on {date.today().isoformat()}, {platform.machine()} CPU "
        f"({os.cpu_count()} cores), anvil; a committee of {MEMBERS} members, reports signed by {THRESHOLD} (signers "
        "ascending, 65-byte signatures).",
        "",
        "| report | gas | target |",
        "|---|---:|---|",
        f"| issuance report of {SITES} site-periods: gas per site-period | {gas['issuance']:,} | {verdict} |",
        f"| the same {SITES} site-periods issued directly by the issuer role (issue_batch), per site-period | {gas['direct']:,} | |",
        f"| site activation report (the registry's record checked, then `activate`) | {gas['site']:,} | |",
        f"| dispute verdict report (then `JobMarket.resolve`, the requester refunded) | {gas['verdict']:,} | |",
        f"| equivocation proof (two verdicts by one member: bond split, member removed, new configuration) | {gas['equivocation']:,} | |",
        "",
        f"The committee adds {gas['issuance'] - gas['direct']:,} gas per site-period to the issuer's own batch: three",
        "signature recoveries (about 3,000 gas each plus the signature's calldata) shared by the report, and each",
        "request hashed once more for the report's EIP-712 digest and passed on to RECToken.",
        "",
        f"Three `degen oracle run` members, 2 of 3, on this machine with anvil: {live['rounds']} rounds of one hour for "
        f"{live['sites']} sites (a sample every {committee_live.SAMPLE_INTERVAL_S // 60} minutes per site, posted to every "
        f"member), `grace_s` {config['grace_s']}, `interval_s` {config['interval_s']:g} s, chain `poll_interval_s` "
        f"{config['poll_interval_s']:g} s, `transmit_delay_s` {config['transmit_delay_s']:g} s.",
        "",
        "| measure | result |",
        "|---|---:|",
        f"| from the sample that closes the hour (posted to the three) to every site's RECs on chain: median / max | "
        f"{live['latency_median_s']:.2f} / {live['latency_max_s']:.2f} s |",
        f"| issuance reports accepted on chain for the {live['rounds'] * live['sites']} site-periods | {live['reports']} |",
        f"| signature requests a member sent its peers, per round | {live['signature_requests_per_round']:.1f} |",
        f"| bytes of those requests per member per issued site-period: mean / the busiest member | "
        f"{live['signature_bytes_per_period']:,.0f} / {live['signature_bytes_per_period_max']:,.0f} B |",
        f"| bytes of signed samples each member took from the sites, per issued site-period | "
        f"{live['sample_bytes_per_period']:,.0f} B |",
        "",
        "How to read it: a period's RECs come `grace_s` after its end (600 s by default, for late",
        "samples) plus the time the table's first row measures: the members' next issuance round (every",
        "`interval_s`, 60 s by default), signing, the signatures' way to the peers (each member posts",
        "its own to the other two), the next chain-loop step of the member first in the transmission",
        "schedule, and one transaction. A report's signature request carries the whole report (every",
        "request of the batch), so its bytes per site-period fall as batches grow; a member receives",
        "what its peers send it, and sends nothing more once the report is on chain (hence fewer than",
        "two requests a round). The site agent's own posting interval (5 minutes) comes on top when",
        "the period's closing sample is the next regular one.",
    ]) + "\n"


def main(argv=None) -> int:
    args = arguments(__doc__).parse_args(argv)
    live = committee_live.measure(args.network)
    section = render(measure(args.network), live)
    print(section)
    replace_section(args.out, "Oracle committee", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
