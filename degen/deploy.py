"""Deploys and wires DeGEN's contracts. One function serves the deploy script, the tests
and the benchmarks, so every one of them runs the same deployment: the market's trust layer
included — an OracleCommittee of the operators' oracles holds the issuer, registrar and
arbiter roles, and an AdminTimelock is the admin of every role and of the committee, so the
deployer keeps no power but pausing new jobs (and AKRE's minters)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from degen import pool_model
from degen.contracts import Deployed
from degen.deployments import Deployment

AKRE = 10**18
DEFAULT_INITIAL_SUPPLY = 1_000_000_000 * AKRE
DEFAULT_FEE_BPS = 250
DEFAULT_DISPUTE_BOND = 10 * AKRE
DEFAULT_MIN_RETIREMENT_MWH = 1
# A Li-ion battery's self-discharge of about 2 % a month, as the REC reserve's half-life.
DEFAULT_POOL_HALF_LIFE = pool_model.half_life_for_monthly_loss(0.02)
DEFAULT_CHANNEL_NOTICE = 86_400  # a requester closing a channel waits this long: the site can still redeem
DEFAULT_ADMIN_DELAY = 2 * 86_400  # a change of roles or of the committee waits this long in the open
DEFAULT_MIN_BOND = 1_000 * AKRE  # each oracle member's bond, posted by the deployer at deployment
DEFAULT_BOND_LOCK = 14 * 86_400  # a leaving member's bond stays slashable this long
DEFAULT_ORACLE_ENDPOINT = "http://127.0.0.1:8800"  # the oracle's default API (a development committee of one)
ZERO = "0x" + "00" * 20


def deploy_all(
    project: Any,
    deployer: Any,
    *,
    treasury: str | None = None,
    fee_bps: int = DEFAULT_FEE_BPS,
    dispute_bond: int = DEFAULT_DISPUTE_BOND,
    initial_supply: int = DEFAULT_INITIAL_SUPPLY,
    oracles: Sequence[tuple[str, str]] | None = None,
    threshold: int | None = None,
    admin_delay: int = DEFAULT_ADMIN_DELAY,
    min_bond: int = DEFAULT_MIN_BOND,
    bond_lock: int = DEFAULT_BOND_LOCK,
    pool_half_life: int = DEFAULT_POOL_HALF_LIFE,
    channel_notice: int = DEFAULT_CHANNEL_NOTICE,
) -> Deployed:
    """Deploys AkreToken, SiteRegistry, RetirementCertificate, RECToken, JobMarket, the
    REC/AKRE EnergyPool (REC reserve half-life `pool_half_life` seconds, 0 for none), its
    GreenRouter, the OracleCommittee, the AdminTimelock and JobChannels (a requester's
    withdrawal waits `channel_notice` seconds) from `deployer`.

    The committee's members are `oracles` ((address, endpoint) each; default the deployer
    alone, a committee of one for development), each bonded with `min_bond` AKRE the deployer
    posts for it, `threshold` of them (default: a majority) signing every report. It holds
    RECToken's ISSUER_ROLE, SiteRegistry's REGISTRAR_ROLE and JobMarket's ARBITER_ROLE; the
    timelock (delay `admin_delay`; the deployer proposes, cancels and executes) holds
    DEFAULT_ADMIN_ROLE of all three and is the committee's admin. The deployer gives every role
    up but JobMarket's and JobChannels' PAUSER_ROLE; RECToken's MARKET_ROLE goes to the JobMarket
    and JobChannels."""
    token = deployer.deploy(project.AkreToken, initial_supply)
    registry = deployer.deploy(project.SiteRegistry)
    certificate = deployer.deploy(project.RetirementCertificate)
    rec = deployer.deploy(project.RECToken, registry, certificate, DEFAULT_MIN_RETIREMENT_MWH)
    certificate.set_minter(rec, sender=deployer)
    market = deployer.deploy(
        project.JobMarket, token, registry, rec, treasury or deployer.address, fee_bps, dispute_bond
    )
    rec.grantRole(rec.MARKET_ROLE(), market, sender=deployer)  # only the market and the channels name jobs on certificates
    pool = deployer.deploy(project.EnergyPool, rec, token, pool_half_life)
    router = deployer.deploy(project.GreenRouter, market, pool)
    timelock = deployer.deploy(project.AdminTimelock, admin_delay, [deployer], [deployer], ZERO)
    committee = deployer.deploy(project.OracleCommittee, rec, registry, market, token, treasury or deployer.address, deployer,
                                min_bond, bond_lock)
    _seat(committee, token, deployer, oracles or [(deployer.address, DEFAULT_ORACLE_ENDPOINT)], threshold, min_bond)
    committee.transfer_admin(timelock, sender=deployer)
    channels = deployer.deploy(project.JobChannels, token, registry, rec, market, channel_notice)
    rec.grantRole(rec.MARKET_ROLE(), channels, sender=deployer)
    for contract, role in ((rec, rec.ISSUER_ROLE()), (registry, registry.REGISTRAR_ROLE()), (market, market.ARBITER_ROLE())):
        contract.grantRole(role, committee, sender=deployer)
        contract.renounceRole(role, deployer, sender=deployer)
    for contract in (rec, registry, market, channels):
        admin = contract.DEFAULT_ADMIN_ROLE()
        contract.grantRole(admin, timelock, sender=deployer)
        contract.renounceRole(admin, deployer, sender=deployer)
    return Deployed(token, registry, market, rec, certificate, pool, router, committee, timelock, channels)


def _seat(committee: Any, token: Any, deployer: Any, oracles: Sequence[tuple[str, str]], threshold: int | None,
          min_bond: int) -> None:
    """Bonds and adds each oracle (the threshold a majority as the committee grows), then sets
    `threshold` when one is given."""
    if min_bond:
        token.approve(committee, min_bond * len(oracles), sender=deployer)
    for count, (address, endpoint) in enumerate(oracles, start=1):
        if min_bond:
            committee.post_bond_for(address, min_bond, sender=deployer)
        committee.add_member(address, endpoint, count // 2 + 1, sender=deployer)
    if threshold is not None and threshold != committee.threshold():
        committee.set_threshold(threshold, sender=deployer)


def through_timelock(deployed: Deployed, proposer: Any, calls: Sequence[tuple[Any, bytes]], *, salt: bytes = b"\x00" * 32) -> None:
    """Schedules `calls` ((contract, calldata) each) on the deployment's AdminTimelock as one
    batch and executes them: what governance does, in one go where the delay is 0 (tests and
    development deployments); elsewhere the execution waits for the delay and is refused."""
    timelock = deployed.timelock
    targets, payloads = [contract.address for contract, _ in calls], [payload for _, payload in calls]
    amounts, predecessor = [0] * len(calls), b"\x00" * 32
    timelock.schedule_batch(targets, amounts, payloads, predecessor, salt, timelock.get_minimum_delay(), sender=proposer)
    timelock.execute_batch(targets, amounts, payloads, predecessor, salt, sender=proposer)


def grant_operator_roles(deployed: Deployed, proposer: Any, *, registrar: str | None = None, issuer: str | None = None,
                         arbiter: str | None = None, salt: bytes = b"\x00" * 32) -> None:
    """Grants the registrar, issuer and arbiter roles to accounts of a development deployment
    (0-delay timelock) beside the committee, through the timelock: how the contracts' own tests
    act as those roles directly."""
    calls = [(contract, contract.grantRole.encode_input(role, account)) for contract, role, account in (
        (deployed.registry, deployed.registry.REGISTRAR_ROLE(), registrar), (deployed.rec, deployed.rec.ISSUER_ROLE(), issuer),
        (deployed.market, deployed.market.ARBITER_ROLE(), arbiter)) if account is not None]
    through_timelock(deployed, proposer, calls, salt=salt)


def record_of(deployed: Deployed, *, network: str, chain_id: int, block: int, deployer: str) -> Deployment:
    """The deployment file's record of `deployed` (fee and bond as the market holds them now)."""
    market = deployed.market
    return Deployment(
        network=network, chain_id=chain_id, block=block, deployer=deployer,
        token=deployed.token.address, registry=deployed.registry.address, market=market.address,
        rec_token=deployed.rec.address, certificate=deployed.certificate.address,
        pool=deployed.pool.address, router=deployed.router.address,
        committee=deployed.committee.address, timelock=deployed.timelock.address, channels=deployed.channels.address,
        treasury=market.treasury(), fee_bps=market.fee_bps(), dispute_bond=market.dispute_bond(),
    )
