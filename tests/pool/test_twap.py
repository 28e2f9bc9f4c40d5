"""The pool's price oracle: a flash manipulation inside one transaction leaves the TWAP where
it was, a price held for one block moves a one-hour TWAP by that block's share of the hour,
and the observation ring answers any window it still covers, exactly as the model does."""

from degen.deploy import AKRE
from degen.pool_model import OBSERVATION_PERIOD, OBSERVATIONS, PoolModel
from tests.pool.conftest import FOREVER, REC, SEED_AKRE, SEED_REC

HOUR = 3600


def _pool_with_history(make_pool, chain, half_life=0):
    pool = make_pool(half_life=half_life)
    chain.mine(1, timestamp=chain.blocks.head.timestamp + 2 * HOUR)
    return pool


def test_a_flash_sandwich_does_not_move_the_twap(make_pool, project, deployer, token, chain):
    pool = _pool_with_history(make_pool, chain, half_life=86400)
    sandwich = deployer.deploy(project.Sandwich)
    token.transfer(sandwich, 200 * AKRE, sender=deployer)
    twap = pool.consult(HOUR)
    before, during, after, spot = sandwich.sandwich(pool, 200 * AKRE, HOUR, sender=deployer).return_value
    assert before == during == after
    assert spot > 10 * twap  # the spot price was pushed more than tenfold
    # The next block: the sandwich's block counted at the price it found.
    snapshot_twap = pool.consult(HOUR)
    assert abs(snapshot_twap - twap) * 1_000 < twap


def test_a_price_held_for_one_block_moves_the_hour_by_its_share(make_pool, chain, token, requester):
    pool = _pool_with_history(make_pool, chain)
    start = chain.blocks.head.timestamp
    fair = pool.consult(HOUR)
    chain.pending_timestamp = start + 1
    pool.swap_exact_in(token, 50 * AKRE, 0, requester, FOREVER, sender=requester)  # doubles AKRE: 4x price
    rec_reserve, akre_reserve = pool.get_reserves()
    pushed = akre_reserve * REC // rec_reserve
    chain.mine(1, timestamp=start + 13)  # held for 12 seconds
    moved = pool.consult(HOUR)
    # The span starts at the newest observation an hour old or older: the seeding, two hours back.
    seeded = pool.observation(0)[0]
    expected = (fair * (start + 1 - seeded) + pushed * 12) // (start + 13 - seeded)
    assert abs(moved - expected) <= expected // 10**6
    assert moved < fair * 101 // 100  # 4x spot for a block: about 1 % on the hour


def test_observations_cover_a_day_and_match_the_model(make_pool, chain, rec, token, deployer, requester, reverts):
    pool = make_pool(seed=None)
    model = PoolModel(half_life=0)
    now = (chain.blocks.head.timestamp // OBSERVATION_PERIOD + 1) * OBSERVATION_PERIOD
    chain.pending_timestamp = now
    pool.add_liquidity(SEED_REC, SEED_AKRE, 0, FOREVER, sender=deployer)
    model.add_liquidity(SEED_REC, SEED_AKRE, now)
    # One trade per period for 110 periods (the ring holds 96), alternating directions.
    for period in range(110):
        now += OBSERVATION_PERIOD + 7 * (period % 3)
        chain.pending_timestamp = now
        token_in, amount = (token, AKRE) if period % 2 else (rec, 20 * REC)
        out = pool.swap_exact_in(token_in, amount, 0, requester, FOREVER, sender=requester).return_value
        assert out == model.swap_exact_in("akre" if period % 2 else "rec", amount, now)
    chain.mine(1, timestamp=now + 300)
    now += 300
    oldest = min(t for t, _ in model.observations if t)
    for window in (1, 299, 300, 301, 900, HOUR, 6 * HOUR, now - oldest - 1, now - oldest):
        assert pool.consult(window) == model.consult(window, now), window
    assert sum(1 for t, _ in model.observations if t) == OBSERVATIONS
    with reverts("pool: window beyond history"):
        pool.consult(now - oldest + 1)
    assert [pool.observation(i) for i in range(OBSERVATIONS)] == [(t, c) for t, c in model.observations]
