"""Pool fixtures: RECs issued to Bob's site (his 10 kW array over 31 days: 7,440 kWh), spread
over the actors, and a factory of EnergyPools with a chosen half-life, seeded with liquidity."""

from __future__ import annotations

import pytest

from degen.deploy import AKRE
from tests.conftest import EVIDENCE_ROOT

REC = 10**6  # one REC (1 kWh) in mWh
SEED_REC = 1_000 * REC
SEED_AKRE = 50 * AKRE  # 0.05 AKRE per REC
FOREVER = 2**64
DAY = 86400


@pytest.fixture
def rec_holders(rec, token, deployer, provider, requester, attacker, site_id, chain):
    """Issues a 31-day period of Bob's generation to him and gives each actor RECs and AKRE.
    Function-scoped, like every fixture here that changes the chain: a session fixture's
    transactions would outlive the test (other tests count issuances and balances)."""
    start = max(rec.high_water_mark(site_id), chain.pending_timestamp - 31 * DAY)
    end = start + 31 * DAY
    if end > chain.pending_timestamp:
        chain.pending_timestamp = end + 1
    rec.issue(site_id, start, end, 7_000_000 * REC // 1_000, EVIDENCE_ROOT, sender=deployer)
    for who in (requester, attacker, deployer):
        rec.transfer(who, 1_500 * REC, sender=provider)
    for who in (requester, attacker):
        token.transfer(who, 1_000 * AKRE, sender=deployer)
    return (provider, requester, attacker, deployer)


@pytest.fixture
def make_pool(project, deployer, rec, token, rec_holders):
    """Factory: an EnergyPool with `half_life` seconds (0: no decay), approved by every actor,
    with `seed` = (RECs, AKRE) deposited by the deployer (None: empty)."""

    def make(half_life=0, seed=(SEED_REC, SEED_AKRE)):
        pool = deployer.deploy(project.EnergyPool, rec, token, half_life)
        for who in rec_holders:
            rec.approve(pool, 2**256 - 1, sender=who)
            token.approve(pool, 2**256 - 1, sender=who)
        if seed:
            pool.add_liquidity(*seed, 0, FOREVER, sender=deployer)
        return pool

    return make


@pytest.fixture
def wad_exp_contract(project, deployer):
    """snekmate's `_wad_exp` exposed by a test contract."""
    return deployer.deploy(project.WadExp)
