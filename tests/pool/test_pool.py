"""EnergyPool on a real chain: liquidity, the three swaps, quotes, bounds, skim/sync, the
reentrancy lock and the first-depositor inflation attack."""

import math

import pytest

from degen import pool_model
from degen.deploy import AKRE
from tests.pool.conftest import FOREVER, REC, SEED_AKRE, SEED_REC


def test_first_deposit_locks_minimum_liquidity(make_pool, deployer, rec, token):
    pool = make_pool(seed=None)
    tx = pool.add_liquidity(SEED_REC, SEED_AKRE, 0, FOREVER, sender=deployer)
    minted = math.isqrt(SEED_REC * SEED_AKRE) - pool.MINIMUM_LIQUIDITY()
    assert tx.return_value == minted == pool.balanceOf(deployer)
    assert pool.balanceOf(pool) == pool.MINIMUM_LIQUIDITY() == 1_000
    assert pool.totalSupply() == minted + 1_000
    assert pool.get_reserves() == (SEED_REC, SEED_AKRE)
    assert rec.balanceOf(pool) == SEED_REC and token.balanceOf(pool) == SEED_AKRE
    assert (pool.name(), pool.symbol(), pool.decimals()) == ("DeGEN REC-AKRE LP", "DGLP", 12)


def test_later_deposits_take_the_pool_ratio_and_refund_nothing_extra(make_pool, requester, rec, token):
    pool = make_pool()
    supply = pool.totalSupply()
    rec_before, akre_before = rec.balanceOf(requester), token.balanceOf(requester)
    # Offers twice the AKRE the ratio needs: only the matching AKRE is taken.
    tx = pool.add_liquidity(100 * REC, 10 * AKRE, 0, FOREVER, sender=requester)
    event = tx.decode_logs(pool.LiquidityAdded)[0]
    assert (event.rec_amount, event.akre_amount) == (100 * REC, 5 * AKRE)
    assert tx.return_value == min(100 * REC * supply // SEED_REC, 5 * AKRE * supply // SEED_AKRE)
    assert rec.balanceOf(requester) == rec_before - 100 * REC
    assert token.balanceOf(requester) == akre_before - 5 * AKRE
    # Offers more RECs than the AKRE matches: the RECs are cut instead.
    reserves = pool.get_reserves()
    tx = pool.add_liquidity(500 * REC, AKRE, 0, FOREVER, sender=requester)
    event = tx.decode_logs(pool.LiquidityAdded)[0]
    assert (event.rec_amount, event.akre_amount) == (AKRE * reserves[0] // reserves[1], AKRE)


def test_remove_liquidity_pays_the_share_rounded_down(make_pool, deployer, rec, token, reverts):
    pool = make_pool()
    lp = pool.balanceOf(deployer)
    supply = pool.totalSupply()
    share = lp // 3
    with reverts("pool: slippage"):
        pool.remove_liquidity(share, SEED_REC, 0, FOREVER, sender=deployer)
    tx = pool.remove_liquidity(share, 0, 0, FOREVER, sender=deployer)
    assert tx.return_value == (share * SEED_REC // supply, share * SEED_AKRE // supply)
    with reverts("pool: not enough liquidity"):
        pool.remove_liquidity(lp, 0, 0, FOREVER, sender=deployer)
    # Everyone out: only the locked minimum's share stays, and it can never be withdrawn.
    pool.remove_liquidity(lp - share, 0, 0, FOREVER, sender=deployer)
    rec_left, akre_left = pool.get_reserves()
    assert pool.totalSupply() == 1_000 and rec_left >= 1_000 * SEED_REC // supply
    assert (rec.balanceOf(pool), token.balanceOf(pool)) == (rec_left, akre_left)


def test_swap_exact_in_pays_the_quote(make_pool, requester, attacker, rec, token, reverts, chain):
    pool = make_pool()
    quote = pool.get_amount_out(AKRE, SEED_AKRE, SEED_REC)
    assert quote == pool_model.amount_out(AKRE, SEED_AKRE, SEED_REC)
    with reverts("pool: slippage"):
        pool.swap_exact_in(token, AKRE, quote + 1, attacker, FOREVER, sender=requester)
    before = rec.balanceOf(attacker)
    tx = pool.swap_exact_in(token, AKRE, quote, attacker, FOREVER, sender=requester)
    assert tx.return_value == quote and rec.balanceOf(attacker) == before + quote
    swap = tx.decode_logs(pool.Swap)[0]
    assert (swap.sender, swap.to, swap.token_in, swap.amount_in, swap.amount_out) == (
        requester.address, attacker.address, token.address, AKRE, quote)
    assert pool.get_reserves() == (SEED_REC - quote, SEED_AKRE + AKRE)
    # k grows by the fee.
    assert (SEED_REC - quote) * (SEED_AKRE + AKRE) > SEED_REC * SEED_AKRE


def test_swap_exact_out_pays_exactly_the_output(make_pool, requester, rec, token, reverts):
    pool = make_pool()
    cost = pool.get_amount_in(10 * REC, SEED_AKRE, SEED_REC)
    assert cost == pool_model.amount_in(10 * REC, SEED_AKRE, SEED_REC)
    with reverts("pool: slippage"):
        pool.swap_exact_out(token, 10 * REC, cost - 1, requester, FOREVER, sender=requester)
    rec_before, akre_before = rec.balanceOf(requester), token.balanceOf(requester)
    tx = pool.swap_exact_out(token, 10 * REC, cost, requester, FOREVER, sender=requester)
    assert tx.return_value == cost
    assert rec.balanceOf(requester) == rec_before + 10 * REC and token.balanceOf(requester) == akre_before - cost
    with reverts("pool: insufficient liquidity"):
        pool.swap_exact_out(token, SEED_REC, 2**200, requester, FOREVER, sender=requester)


def test_swap_received_sells_what_was_sent_first(make_pool, requester, attacker, rec, token, reverts):
    pool = make_pool()
    with reverts("pool: zero amount"):
        pool.swap_received(rec, 0, requester, FOREVER, sender=requester)
    rec.transfer(pool, 5 * REC, sender=requester)
    quote = pool.get_amount_out(5 * REC, SEED_REC, SEED_AKRE)
    with reverts("pool: slippage"):
        pool.swap_received(rec, quote + 1, requester, FOREVER, sender=requester)
    # Unreserved tokens belong to whoever swaps them first: pay and swap in one transaction.
    before = token.balanceOf(attacker)
    assert pool.swap_received(rec, quote, attacker, FOREVER, sender=attacker).return_value == quote
    assert token.balanceOf(attacker) == before + quote


@pytest.mark.parametrize("call, reason", [
    (lambda pool, rec, token, who: pool.swap_exact_in(token, AKRE, 0, who, 1, sender=who), "pool: expired"),
    (lambda pool, rec, token, who: pool.swap_exact_in(pool, AKRE, 0, who, FOREVER, sender=who), "pool: unknown token"),
    (lambda pool, rec, token, who: pool.swap_exact_in(token, AKRE, 0, pool, FOREVER, sender=who), "pool: bad recipient"),
    (lambda pool, rec, token, who: pool.swap_exact_in(token, 0, 0, who, FOREVER, sender=who), "pool: zero amount"),
    (lambda pool, rec, token, who: pool.swap_exact_in(token, 2**112, 0, who, FOREVER, sender=who), "pool: amount too large"),
    (lambda pool, rec, token, who: pool.swap_exact_in(token, 1, 0, who, FOREVER, sender=who), "pool: zero output"),
    (lambda pool, rec, token, who: pool.swap_exact_out(token, 0, 0, who, FOREVER, sender=who), "pool: zero amount"),
    (lambda pool, rec, token, who: pool.swap_received(token, 0, who, 1, sender=who), "pool: expired"),
    (lambda pool, rec, token, who: pool.add_liquidity(REC, AKRE, 0, 1, sender=who), "pool: expired"),
    (lambda pool, rec, token, who: pool.add_liquidity(REC, AKRE, 2**200, FOREVER, sender=who), "pool: slippage"),
    (lambda pool, rec, token, who: pool.add_liquidity(2**112, AKRE, 0, FOREVER, sender=who), "pool: amount too large"),
    (lambda pool, rec, token, who: pool.add_liquidity(1, 1, 0, FOREVER, sender=who), "pool: zero liquidity"),
    (lambda pool, rec, token, who: pool.remove_liquidity(0, 0, 0, FOREVER, sender=who), "pool: not enough liquidity"),
    (lambda pool, rec, token, who: pool.remove_liquidity(1, 0, 0, 1, sender=who), "pool: expired"),
    (lambda pool, rec, token, who: pool.skim(pool, sender=who), "pool: bad recipient"),
    (lambda pool, rec, token, who: pool.consult(0), "pool: zero window"),
    (lambda pool, rec, token, who: pool.consult(3600), "pool: window beyond history"),
])
def test_bad_input_is_refused_with_a_reason(call, reason, make_pool, rec, token, requester, reverts):
    pool = make_pool()
    with reverts(reason):
        call(pool, rec, token, requester)


def test_empty_pool_and_bad_deployments_are_refused(make_pool, project, deployer, rec, token, requester, reverts):
    pool = make_pool(seed=None)
    with reverts("pool: first deposit too small"):
        pool.add_liquidity(1_000, 1_000, 0, FOREVER, sender=requester)
    with reverts("pool: insufficient liquidity"):
        pool.swap_exact_in(token, AKRE, 0, requester, FOREVER, sender=requester)
    for args, reason in [((rec, rec, 0), "pool: same token"), ((rec, token, 60), "pool: bad half-life"),
                         ((rec, token, 101 * 365 * 86400), "pool: bad half-life"),
                         (("0x" + "00" * 20, token, 0), "pool: zero token")]:
        with reverts(reason):
            deployer.deploy(project.EnergyPool, *args)


def test_skim_and_sync_handle_donations(make_pool, requester, attacker, deployer, rec, token):
    pool = make_pool()
    rec.transfer(pool, 7 * REC, sender=requester)
    token.transfer(pool, AKRE, sender=requester)
    rec_before, akre_before = rec.balanceOf(attacker), token.balanceOf(attacker)
    pool.skim(attacker, sender=attacker)
    assert (rec.balanceOf(attacker) - rec_before, token.balanceOf(attacker) - akre_before) == (7 * REC, AKRE)
    assert pool.get_reserves() == (SEED_REC, SEED_AKRE)

    rec.transfer(pool, 7 * REC, sender=requester)
    tx = pool.sync(sender=attacker)
    assert pool.get_reserves() == (SEED_REC + 7 * REC, SEED_AKRE)
    assert tx.decode_logs(pool.Sync)[0].reserve_rec == SEED_REC + 7 * REC
    # The donation is now the liquidity providers'.
    lp, supply = pool.balanceOf(deployer), pool.totalSupply()
    out = pool.remove_liquidity(lp, 0, 0, FOREVER, sender=deployer).return_value
    assert out[0] == lp * (SEED_REC + 7 * REC) // supply


def test_reentrancy_through_a_hostile_token_is_locked_out(project, deployer, rec, rec_holders, requester):
    hostile = deployer.deploy(project.ReentrantToken, 10**6 * AKRE)
    pool = deployer.deploy(project.EnergyPool, rec, hostile, 0)
    rec.approve(pool, 2**256 - 1, sender=deployer)
    hostile.approve(pool, 2**256 - 1, sender=deployer)
    pool.add_liquidity(SEED_REC, SEED_AKRE, 0, FOREVER, sender=deployer)
    rec.approve(pool, 2**256 - 1, sender=requester)
    # While the pool pays AKRE out, the token calls back into the pool to swap again.
    payload = pool.swap_exact_in.encode_input(rec, REC, 0, requester.address, FOREVER)
    hostile.arm(pool, payload, sender=deployer)
    pool.swap_exact_in(rec, REC, 0, requester, FOREVER, sender=requester)
    assert not hostile.reentry_succeeded()
    assert b"reentrancy" in hostile.reentry_result() or hostile.reentry_result() == b""


def test_first_depositor_inflation_attack_does_not_pay(make_pool, attacker, requester, rec, token, reverts):
    """The attacker seeds the smallest pool, then donates to inflate the share price so that
    a victim's deposit rounds down. The locked minimum makes the attacker fund 1,000 shares
    for each one they hold, and the victim's min_liquidity refuses a rounded-down deposit."""
    pool = make_pool(seed=None)
    pool.add_liquidity(1_001, 1_001, 0, FOREVER, sender=attacker)
    assert pool.balanceOf(attacker) == 1 and pool.totalSupply() == 1_001
    donation_rec, donation_akre = 100 * REC, 5 * AKRE
    rec.transfer(pool, donation_rec, sender=attacker)
    token.transfer(pool, donation_akre, sender=attacker)
    pool.sync(sender=attacker)

    # A deposit worth half a share rounds to nothing and reverts; one worth 1.5 shares would
    # mint 1, and the victim's bound (99 % of the fair 1.5) refuses it.
    rec_reserve, akre_reserve = pool.get_reserves()
    with reverts("pool: zero liquidity"):
        pool.add_liquidity(rec_reserve // 2_002, akre_reserve, 0, FOREVER, sender=requester)
    deposit = rec_reserve * 3 // 2_002
    fair = deposit * pool.totalSupply() / rec_reserve
    with reverts("pool: slippage"):
        pool.add_liquidity(deposit, akre_reserve, math.ceil(fair * 0.99), FOREVER, sender=requester)
    # The attacker's one share redeems for a thousandth of what it put in.
    out_rec, out_akre = pool.remove_liquidity(1, 0, 0, FOREVER, sender=attacker).return_value
    assert out_rec * 1_000 <= donation_rec + 1_001 and out_akre * 1_000 <= donation_akre + 1_001
