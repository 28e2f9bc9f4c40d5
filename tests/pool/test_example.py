"""The integrator example (contracts/examples/GreenOffset.vy): it buys and retires RECs through
the public interfaces only, and a pushed spot price makes it refuse instead of overpaying."""

import pytest

from degen.deploy import AKRE, DEFAULT_POOL_HALF_LIFE
from tests.pool.conftest import FOREVER, REC

HOUR = 3600


@pytest.fixture
def offset(make_pool, project, deployer, token, requester, chain):
    pool = make_pool(half_life=DEFAULT_POOL_HALF_LIFE)
    chain.mine(1, timestamp=chain.blocks.head.timestamp + 2 * HOUR)
    contract = deployer.deploy(project.GreenOffset, pool, HOUR, 200)
    token.approve(contract, 2**256 - 1, sender=requester)
    return pool, contract


def test_offset_buys_and_retires_for_the_beneficiary(offset, rec, token, certificate, requester, attacker):
    pool, contract = offset
    akre_before = token.balanceOf(requester)
    quote = pool.get_amount_in(5 * REC, *reversed(pool.get_reserves()))  # a block early: the decay adds a little
    tx = contract.offset(5 * REC, attacker, "Carol", "office power 2026", 10 * AKRE, FOREVER, sender=requester)
    swap = tx.decode_logs(pool.Swap)[0]
    cost = swap.amount_in
    assert swap.amount_out == 5 * REC and quote <= cost <= quote * 1_0001 // 1_0000
    record = certificate.certificate(tx.return_value)
    assert (record.beneficiary, record.amount_mwh, record.retired_by) == (attacker.address, 5 * REC, contract.address)
    assert certificate.ownerOf(tx.return_value) == attacker.address
    assert token.balanceOf(requester) == akre_before - cost
    assert rec.balanceOf(contract) == 0


def test_offset_refuses_a_pushed_spot_price(offset, token, attacker, requester, reverts):
    pool, contract = offset
    pool.swap_exact_in(token, 20 * AKRE, 0, attacker, FOREVER, sender=attacker)  # the front-run
    with reverts("offset: spot price above the TWAP band"):
        contract.offset(5 * REC, requester, "", "", 10 * AKRE, FOREVER, sender=requester)
    with reverts("offset: costs more than max_akre"):
        contract.offset(5 * REC, requester, "", "", 1, FOREVER, sender=requester)
