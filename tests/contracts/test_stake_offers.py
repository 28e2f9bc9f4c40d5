"""Provider stakes and offers: only free stake leaves, only a site's owner offers on it,
offers' prices never change, closed offers take no work."""

import pytest

from degen import limits
from degen.deploy import AKRE
from tests.conftest import BASE_PRICE, COLLATERAL, MODEL_ID, PRICE_PER_KWH


def test_stake_deposit_and_withdraw(market, token, provider):
    token.approve(market, 7 * AKRE, sender=provider)
    before = token.balanceOf(provider)
    tx = market.deposit_stake(7 * AKRE, sender=provider)
    assert tx.decode_logs(market.StakeDeposited)[0].amount == 7 * AKRE
    assert token.balanceOf(provider) == before - 7 * AKRE
    free, locked = market.stake_of(provider)
    tx = market.withdraw_stake(free, sender=provider)
    assert tx.decode_logs(market.StakeWithdrawn)[0].amount == free
    assert market.stake_of(provider) == (0, locked)


def test_locked_stake_cannot_leave(create_job, market, provider, offer_id, reverts):
    market.accept(create_job(), offer_id, sender=provider)
    free, locked = market.stake_of(provider)
    assert locked == COLLATERAL
    with reverts("market: exceeds free stake"):
        market.withdraw_stake(free + 1, sender=provider)
    market.withdraw_stake(free, sender=provider)


def test_stake_refusals(market, provider, attacker, reverts):
    with reverts("market: zero amount"):
        market.deposit_stake(0, sender=provider)
    with reverts("market: zero amount"):
        market.withdraw_stake(0, sender=provider)
    with reverts("market: exceeds free stake"):
        market.withdraw_stake(1, sender=attacker)


def test_create_offer_records_fixed_terms(market, provider, site_id):
    tx = market.create_offer(site_id, MODEL_ID, 768, 512, 40, BASE_PRICE, PRICE_PER_KWH, COLLATERAL, False, sender=provider)
    offer_id = tx.return_value
    event = tx.decode_logs(market.OfferCreated)[0]
    assert (event.offer_id, event.site_id, event.model_id) == (offer_id, site_id, MODEL_ID)
    offer = market.offer(offer_id)
    assert offer.provider == provider.address and offer.active
    assert (offer.max_width, offer.max_height, offer.max_steps) == (768, 512, 40)
    assert (offer.base_price, offer.price_per_kwh, offer.collateral) == (BASE_PRICE, PRICE_PER_KWH, COLLATERAL)


def test_offer_fields_hold_their_maximums(market, provider, site_id):
    offer_id = market.create_offer(
        site_id, MODEL_ID, limits.MAX_IMAGE_SIDE, limits.MAX_IMAGE_SIDE, limits.MAX_STEPS,
        limits.MAX_BASE_PRICE, limits.MAX_PRICE_PER_KWH, limits.MAX_COLLATERAL, True, sender=provider,
    ).return_value
    offer = market.offer(offer_id)
    assert offer.green
    assert (offer.max_width, offer.max_height, offer.max_steps) == (limits.MAX_IMAGE_SIDE,) * 2 + (limits.MAX_STEPS,)
    assert (offer.base_price, offer.price_per_kwh, offer.collateral) == (
        limits.MAX_BASE_PRICE, limits.MAX_PRICE_PER_KWH, limits.MAX_COLLATERAL)
    assert offer.provider == provider.address and offer.site_id == site_id and offer.active


@pytest.mark.parametrize(
    "change, message",
    [
        ({"model_id": b"\x00" * 32}, "market: empty model"),
        ({"max_width": 32}, "market: bad width"),
        ({"max_height": limits.MAX_IMAGE_SIDE + 8}, "market: bad height"),
        ({"max_steps": limits.MAX_STEPS + 1}, "market: bad steps"),
        ({"base_price": limits.MAX_BASE_PRICE + 1}, "market: price too large"),
        ({"price_per_kwh": limits.MAX_PRICE_PER_KWH + 1}, "market: price too large"),
        ({"collateral": limits.MAX_COLLATERAL + 1}, "market: collateral too large"),
    ],
)
def test_create_offer_refuses_bad_input(change, message, market, provider, site_id, reverts):
    args = {
        "site_id": site_id, "model_id": MODEL_ID, "max_width": 512, "max_height": 512, "max_steps": 20,
        "base_price": BASE_PRICE, "price_per_kwh": PRICE_PER_KWH, "collateral": COLLATERAL,
    } | change
    with reverts(message):
        market.create_offer(*args.values(), False, sender=provider)


def test_only_the_owner_of_an_active_site_offers(market, registry, provider, attacker, deployer, site_id, reverts):
    with reverts("market: not site owner"):
        market.create_offer(site_id, MODEL_ID, 512, 512, 20, 1, 0, 0, False, sender=attacker)
    registry.suspend(site_id, sender=deployer)
    with reverts("market: site not active"):
        market.create_offer(site_id, MODEL_ID, 512, 512, 20, 1, 0, 0, False, sender=provider)
    pending = registry.register_site("0x" + "44" * 20, 1_000, 0, 100, "SG", sender=provider).return_value
    with reverts("market: site not active"):
        market.create_offer(pending, MODEL_ID, 512, 512, 20, 1, 0, 0, False, sender=provider)


def test_paused_market_takes_no_offers(market, provider, deployer, site_id, reverts):
    market.pause(sender=deployer)
    with reverts("pausable: contract is paused"):
        market.create_offer(site_id, MODEL_ID, 512, 512, 20, 1, 0, 0, False, sender=provider)


def test_update_offer_limits(market, provider, attacker, offer_id, reverts):
    with reverts("market: not provider"):
        market.update_offer(offer_id, 256, 256, 10, sender=attacker)
    with reverts("market: bad steps"):
        market.update_offer(offer_id, 256, 256, 0, sender=provider)
    tx = market.update_offer(offer_id, 256, 320, 10, sender=provider)
    assert tx.decode_logs(market.OfferUpdated)[0].max_height == 320
    offer = market.offer(offer_id)
    assert (offer.max_width, offer.max_height, offer.max_steps) == (256, 320, 10)
    assert (offer.base_price, offer.collateral, offer.active) == (BASE_PRICE, COLLATERAL, True)


def test_closed_offer_takes_no_work(market, provider, attacker, offer_id, create_job, reverts):
    accepted = create_job()
    waiting = create_job()
    market.accept(accepted, offer_id, sender=provider)
    with reverts("market: not provider"):
        market.close_offer(offer_id, sender=attacker)
    tx = market.close_offer(offer_id, sender=provider)
    assert tx.decode_logs(market.OfferClosed)[0].offer_id == offer_id
    assert not market.offer(offer_id).active
    with reverts("market: offer closed"):
        market.close_offer(offer_id, sender=provider)
    with reverts("market: offer closed"):
        market.update_offer(offer_id, 256, 256, 10, sender=provider)
    with reverts("market: offer closed"):
        market.accept(waiting, offer_id, sender=provider)
    with reverts("market: offer not active"):
        create_job()
    assert market.price_of(accepted) == BASE_PRICE  # accepted work keeps its terms
