"""Dissipation on a real chain: the REC reserve decays by exp(-lambda t), the decayed RECs are
burned through RECToken.dissipate on the next action, a zero half-life is Uniswap v2, and a
reserve decayed to nothing leaves the pool withdrawable but closed to REC purchases."""

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from degen import pool_model
from degen.deploy import AKRE
from tests.pool.conftest import DAY, FOREVER, REC, SEED_AKRE, SEED_REC


@given(x=st.one_of(
    st.integers(-42 * 10**18, 135_305_999_368_893_231_588),
    st.integers(-10**16, 10**16),
    st.sampled_from([0, -1, 1, -41_446_531_673_892_822_313, -41_446_531_673_892_822_312]),
))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_model_exp_is_snekmates_bit_for_bit(wad_exp_contract, x):
    assert wad_exp_contract.wad_exp(x) == pool_model.wad_exp(x)


def test_model_exp_overflows_where_snekmate_does(wad_exp_contract, reverts):
    with reverts("math: wad_exp overflow"):
        wad_exp_contract.wad_exp(135_305_999_368_893_231_589)
    with pytest.raises(OverflowError, match="wad_exp overflow"):
        pool_model.wad_exp(135_305_999_368_893_231_589)


def test_half_life_halves_the_rec_reserve_and_burns_the_rest(make_pool, chain, rec, token, requester):
    pool = make_pool(half_life=DAY)
    assert pool.DECAY_RATE_WAD() == pool_model.decay_rate_wad(DAY) == pool_model.LN2_WAD // DAY
    start = chain.blocks.head.timestamp
    supply, dissipated = rec.totalSupply(), rec.total_dissipated()
    chain.mine(1, timestamp=start + DAY)
    rec_now, akre_now = pool.get_reserves()
    assert rec_now == pool_model.decayed(SEED_REC, pool.DECAY_RATE_WAD(), DAY)
    assert abs(rec_now - SEED_REC // 2) <= SEED_REC // 10**8 and akre_now == SEED_AKRE
    # Nothing is burned until an action; the action burns exactly the decay, first thing.
    assert rec.balanceOf(pool) == SEED_REC
    chain.pending_timestamp = start + DAY + 60
    expected = pool_model.decayed(SEED_REC, pool.DECAY_RATE_WAD(), DAY + 60)
    tx = pool.sync(sender=requester)
    event = tx.decode_logs(rec.Dissipated)[0]
    assert (event.holder, event.amount_mwh) == (pool.address, SEED_REC - expected)
    assert rec.balanceOf(pool) == expected == pool.get_reserves()[0]
    assert rec.totalSupply() == supply - event.amount_mwh
    assert rec.total_dissipated() == dissipated + event.amount_mwh
    assert rec.total_issued() - rec.total_retired() - rec.total_dissipated() == rec.totalSupply()
    # The price of a REC rose as the stock decayed: arbitrage now pays to restock the pool.
    assert pool.get_amount_out(REC, *pool.get_reserves()) > pool_model.amount_out(REC, SEED_REC, SEED_AKRE)


def test_default_half_life_is_two_percent_a_month(contracts, chain):
    pool = contracts.pool
    assert pool.HALF_LIFE() == pool_model.half_life_for_monthly_loss(0.02) == 88_930_531
    left = pool_model.decayed(10**12, pool.DECAY_RATE_WAD(), pool_model.MONTH)
    assert abs(left - 98 * 10**10) <= 10**4  # 98 % after 30 days


def test_zero_half_life_is_uniswap_v2(make_pool, chain, token, requester):
    pool = make_pool(half_life=0)
    chain.mine(1, timestamp=chain.blocks.head.timestamp + 365 * DAY)
    assert pool.get_reserves() == (SEED_REC, SEED_AKRE)
    tx = pool.swap_exact_in(token, AKRE, 0, requester, FOREVER, sender=requester)
    assert tx.return_value == AKRE * 997 * SEED_REC // (SEED_AKRE * 1000 + AKRE * 997)
    assert "Dissipated" not in [log.event_name for log in tx.decode_logs()]


def test_a_fully_decayed_reserve_leaves_the_pool_withdrawable(make_pool, chain, rec, token, deployer, requester, reverts):
    pool = make_pool(half_life=3600)
    chain.pending_timestamp = chain.blocks.head.timestamp + 10 * DAY  # 240 half-lives: nothing left
    pool.sync(sender=requester)
    assert pool.get_reserves() == (0, SEED_AKRE) and rec.balanceOf(pool) == 0
    with reverts("pool: insufficient liquidity"):
        pool.swap_exact_in(token, AKRE, 0, requester, FOREVER, sender=requester)
    with reverts("pool: depleted"):
        pool.add_liquidity(REC, AKRE, 0, FOREVER, sender=requester)
    lp, supply = pool.balanceOf(deployer), pool.totalSupply()
    assert pool.remove_liquidity(lp, 0, 0, FOREVER, sender=deployer).return_value == (0, lp * SEED_AKRE // supply)
