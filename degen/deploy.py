"""Deploys and wires DeGEN's contracts. One function serves the deploy script, the tests
and the benchmarks, so every one of them runs the same deployment."""

from __future__ import annotations

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


def deploy_all(
    project: Any,
    deployer: Any,
    *,
    treasury: str | None = None,
    fee_bps: int = DEFAULT_FEE_BPS,
    dispute_bond: int = DEFAULT_DISPUTE_BOND,
    initial_supply: int = DEFAULT_INITIAL_SUPPLY,
    oracle: str | None = None,
    pool_half_life: int = DEFAULT_POOL_HALF_LIFE,
) -> Deployed:
    """Deploys AkreToken, SiteRegistry, RetirementCertificate, RECToken, JobMarket, the
    REC/AKRE EnergyPool (REC reserve half-life `pool_half_life` seconds, 0 for none) and its
    GreenRouter from `deployer`, who holds every role afterwards (admin, registrar, issuer,
    arbiter, pauser) but RECToken's MARKET_ROLE, which the JobMarket holds.
    With `oracle`, that account is also made registrar (activates and suspends sites),
    issuer (issues RECs) and arbiter (resolves disputes)."""
    token = deployer.deploy(project.AkreToken, initial_supply)
    registry = deployer.deploy(project.SiteRegistry)
    certificate = deployer.deploy(project.RetirementCertificate)
    rec = deployer.deploy(project.RECToken, registry, certificate, DEFAULT_MIN_RETIREMENT_MWH)
    certificate.set_minter(rec, sender=deployer)
    market = deployer.deploy(
        project.JobMarket, token, registry, rec, treasury or deployer.address, fee_bps, dispute_bond
    )
    rec.grantRole(rec.MARKET_ROLE(), market, sender=deployer)  # only the market names jobs on certificates
    pool = deployer.deploy(project.EnergyPool, rec, token, pool_half_life)
    router = deployer.deploy(project.GreenRouter, market, pool)
    if oracle:
        registry.grantRole(registry.REGISTRAR_ROLE(), oracle, sender=deployer)
        rec.grantRole(rec.ISSUER_ROLE(), oracle, sender=deployer)
        market.grantRole(market.ARBITER_ROLE(), oracle, sender=deployer)
    return Deployed(token, registry, market, rec, certificate, pool, router)


def record_of(deployed: Deployed, *, network: str, chain_id: int, block: int, deployer: str) -> Deployment:
    """The deployment file's record of `deployed` (fee and bond as the market holds them now)."""
    market = deployed.market
    return Deployment(
        network=network, chain_id=chain_id, block=block, deployer=deployer,
        token=deployed.token.address, registry=deployed.registry.address, market=market.address,
        rec_token=deployed.rec.address, certificate=deployed.certificate.address,
        pool=deployed.pool.address, router=deployed.router.address,
        treasury=market.treasury(), fee_bps=market.fee_bps(), dispute_bond=market.dispute_bond(),
    )
