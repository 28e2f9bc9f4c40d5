"""JobChannels: a requester's deposit for one site, cumulative vouchers redeemed by the site's
owner (payment minus the market's fee; green energy retired on one certificate naming the
receipts' root), the notice before withdrawal, and every refusal with SPEC's reason."""

from __future__ import annotations

import base64
import json

import pytest
from eth_account import Account

from degen import channels as vouchers
from degen import permit
from degen.eip712 import SECP256K1_N
from degen.models import GenerationParams, JobOrder, Voucher
from tests.conftest import AKRE, FEE_BPS, MODEL_ID

DEPOSIT = 50 * AKRE
ROOT = b"\x5a" * 32


@pytest.fixture
def channels(contracts):
    return contracts.channels


@pytest.fixture
def open_channel(channels, token, requester, site_id):
    """Factory: a channel of `requester`'s (DEPOSIT unless told) with Bob's site."""

    def open_(deposit=DEPOSIT, sender=None, beneficiary=None):
        sender = sender or requester
        token.approve(channels, deposit, sender=sender)
        return channels.open_channel(site_id, deposit, beneficiary or "0x" + "00" * 20, sender=sender).return_value

    return open_


@pytest.fixture
def signed(channels, chain, requester):
    """Factory: (voucher tuple, signature) of a voucher signed by `key` (the requester's by default),
    not checked by the SDK first."""

    def sign(channel_id, jobs, amount, energy=0, green=0, key=None, chain_id=None, contract=None):
        voucher = Voucher.model_construct(channel_id=channel_id, jobs=jobs, amount=amount, energy_mwh=energy, green_mwh=green,
                                          receipts_root=ROOT)  # unchecked: the contract judges it
        signature = vouchers.sign(voucher, key or requester.private_key, chain_id or chain.chain_id,
                                  contract or channels.address)
        return voucher.as_tuple(), signature

    return sign


def test_a_voucher_pays_the_sites_owner_what_it_adds_minus_the_markets_fee(
        channels, open_channel, signed, token, provider, requester, treasury, contracts):
    channel_id = open_channel()
    assert token.balanceOf(channels) >= DEPOSIT
    provider_before, treasury_before = token.balanceOf(provider), token.balanceOf(treasury)

    first = channels.redeem(*signed(channel_id, 3, 6 * AKRE, energy=300), sender=provider)
    second = channels.redeem(*signed(channel_id, 5, 10 * AKRE, energy=500), sender=provider)

    fee = lambda amount: amount * FEE_BPS // 10_000  # noqa: E731
    assert token.balanceOf(provider) == provider_before + 10 * AKRE - fee(6 * AKRE) - fee(4 * AKRE)
    assert token.balanceOf(treasury) == treasury_before + fee(6 * AKRE) + fee(4 * AKRE)
    event = second.decode_logs(channels.VoucherRedeemed)[0].event_arguments
    assert tuple(event[name] for name in ("channel_id", "provider", "jobs", "paid", "fee", "energy_mwh", "green_mwh",
                                          "certificate_id")) == (channel_id, provider.address, 5, 4 * AKRE - fee(4 * AKRE), fee(4 * AKRE), 200, 0, 0)
    assert first.return_value == 0
    state = channels.channel(channel_id)
    assert (state.requester, state.deposit, state.redeemed, state.redeemed_mwh, state.jobs, state.closed) == (
        requester.address, DEPOSIT, 10 * AKRE, 500, 5, False)


def test_green_energy_is_retired_on_one_certificate_naming_the_receipts_root(
        channels, open_channel, signed, rec, certificate, provider, requester, green_offer, accounts):
    beneficiary = accounts[8]
    channel_id = open_channel(beneficiary=beneficiary.address)
    rec.approve(channels, 2**256 - 1, sender=provider)
    recs_before = rec.balanceOf(provider)

    tx = channels.redeem(*signed(channel_id, 4, 8 * AKRE, energy=900, green=700), sender=provider)

    certificate_id = tx.return_value
    assert rec.balanceOf(provider) == recs_before - 700
    record = certificate.certificate(certificate_id)
    assert (record.beneficiary, record.amount_mwh, record.retired_by, record.job_id) == (
        beneficiary.address, 700, provider.address, 0)
    assert certificate.receipts_of(certificate_id) == (channel_id, ROOT)
    traits = {trait["trait_type"]: trait["value"] for trait in json.loads(base64.b64decode(
        certificate.tokenURI(certificate_id).removeprefix("data:application/json;base64,")))["attributes"]}
    assert (traits["channel_id"], traits["receipts_root"], traits["amount_mwh"]) == (channel_id, "0x" + ROOT.hex(), 700)
    assert channels.redeem(*signed(channel_id, 5, 9 * AKRE, energy=1_000, green=700), sender=provider).return_value == 0


def test_opening_with_a_permit_takes_no_approval(channels, token, site_id, chain, accounts, deployer):
    alice = accounts[9]
    token.transfer(alice, DEPOSIT, sender=deployer)
    before = token.balanceOf(alice)
    deadline = chain.pending_timestamp + 600
    typed = permit.typed_data(token=token.address, chain_id=chain.chain_id, owner=alice.address, spender=channels.address,
                              value=DEPOSIT, nonce=token.nonces(alice), deadline=deadline)
    from degen.eip712 import sign

    signature = permit.split(sign(typed, alice.private_key), deadline)
    channel_id = channels.open_channel_with_permit(site_id, DEPOSIT, "0x" + "00" * 20, *signature, sender=alice).return_value
    assert channels.channel(channel_id).deposit == DEPOSIT and token.balanceOf(alice) == before - DEPOSIT


def test_the_requester_withdraws_what_no_voucher_claims_after_the_notice(
        channels, open_channel, signed, token, provider, requester, chain, reverts):
    channel_id = open_channel()
    channels.redeem(*signed(channel_id, 2, 4 * AKRE), sender=provider)
    with reverts("channels: not closing"):
        channels.withdraw(channel_id, sender=requester)
    closing = channels.close(channel_id, sender=requester)
    closes_at = closing.decode_logs(channels.ChannelClosing)[0].closes_at
    assert closes_at == chain.blocks.head.timestamp + channels.NOTICE_PERIOD()
    with reverts("channels: notice not over"):
        channels.withdraw(channel_id, sender=requester)
    with reverts("channels: channel closing"):
        channels.top_up(channel_id, AKRE, sender=requester)
    with reverts("channels: channel closing"):
        channels.close(channel_id, sender=requester)
    channels.redeem(*signed(channel_id, 3, 6 * AKRE), sender=provider)  # the notice is the provider's window

    chain.pending_timestamp = closes_at
    before = token.balanceOf(requester)
    tx = channels.withdraw(channel_id, sender=requester)
    assert token.balanceOf(requester) == before + DEPOSIT - 6 * AKRE
    assert tx.decode_logs(channels.ChannelClosed)[0].refund == DEPOSIT - 6 * AKRE
    assert channels.channel(channel_id).closed
    with reverts("channels: channel closed"):
        channels.redeem(*signed(channel_id, 4, 7 * AKRE), sender=provider)
    with reverts("channels: channel closed"):
        channels.withdraw(channel_id, sender=requester)


def test_top_ups_raise_the_deposit_a_voucher_may_claim(channels, open_channel, signed, token, requester, provider, reverts):
    channel_id = open_channel(deposit=5 * AKRE)
    with reverts("channels: voucher over the deposit"):
        channels.redeem(*signed(channel_id, 1, 6 * AKRE), sender=provider)
    token.approve(channels, 5 * AKRE, sender=requester)
    tx = channels.top_up(channel_id, 5 * AKRE, sender=requester)
    assert tx.decode_logs(channels.ChannelToppedUp)[0].deposit == 10 * AKRE
    channels.redeem(*signed(channel_id, 1, 6 * AKRE), sender=provider)


@pytest.mark.parametrize(("jobs", "amount", "energy", "green", "reason"), [
    (2, 4 * AKRE, 200, 0, "channels: voucher not newer"),  # the same voucher again
    (1, 5 * AKRE, 300, 0, "channels: voucher not newer"),  # an older one
    (3, 3 * AKRE, 300, 0, "channels: voucher below the last"),
    (3, 5 * AKRE, 100, 0, "channels: voucher below the last"),
    (3, 5 * AKRE, 300, 301, "channels: green energy above energy"),
    (3, DEPOSIT + 1, 300, 0, "channels: voucher over the deposit"),
])
def test_vouchers_that_claim_less_or_more_than_they_may_are_refused(
        channels, open_channel, signed, provider, reverts, jobs, amount, energy, green, reason):
    channel_id = open_channel()
    channels.redeem(*signed(channel_id, 2, 4 * AKRE, energy=200), sender=provider)
    with reverts(reason):
        channels.redeem(*signed(channel_id, jobs, amount, energy=energy, green=green), sender=provider)


def test_only_the_requesters_signature_in_this_domain_redeems(
        channels, open_channel, signed, provider, attacker, chain, requester, reverts, contracts):
    channel_id = open_channel()
    voucher, signature = signed(channel_id, 1, AKRE)
    with reverts("channels: not the site's owner"):
        channels.redeem(voucher, signature, sender=attacker)
    for forged in (signed(channel_id, 1, AKRE, key=Account.create().key),  # another key
                   signed(channel_id, 1, AKRE, chain_id=chain.chain_id + 1),  # another chain
                   signed(channel_id, 1, AKRE, contract=contracts.market.address)):  # another contract
        with reverts("channels: not signed by the requester"):
            channels.redeem(*forged, sender=provider)
    other = open_channel()
    with reverts("channels: not signed by the requester"):  # another channel's voucher
        channels.redeem((other, *voucher[1:]), signature, sender=provider)
    with reverts("channels: signature not 65 bytes"):
        channels.redeem(voucher, signature[:64], sender=provider)
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    high_s = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])  # the same signature's other form
    with reverts():
        channels.redeem(voucher, high_s, sender=provider)
    channels.redeem(voucher, signature, sender=provider)


def test_opening_and_top_ups_are_bounded(channels, token, requester, site_id, registry, provider, meter, reverts, open_channel,
                                         attacker):
    token.approve(channels, 2**256 - 1, sender=requester)
    with reverts("channels: zero amount"):
        channels.open_channel(site_id, 0, "0x" + "00" * 20, sender=requester)
    with reverts("channels: site not active"):
        channels.open_channel(10**6, AKRE, "0x" + "00" * 20, sender=requester)
    pending = registry.register_site(meter.address, 1_000, 0, 100, "BR", sender=provider).return_value
    with reverts("channels: site not active"):
        channels.open_channel(pending, AKRE, "0x" + "00" * 20, sender=requester)
    with reverts("channels: deposit too large"):
        channels.open_channel(site_id, 2**96, "0x" + "00" * 20, sender=requester)
    channel_id = open_channel()
    with reverts("channels: not the requester"):
        channels.top_up(channel_id, AKRE, sender=attacker)
    with reverts("channels: not the requester"):
        channels.close(channel_id, sender=attacker)
    with reverts("channels: unknown channel"):
        channels.channel(10**9)
    with reverts("channels: unknown channel"):
        channels.top_up(10**9, AKRE, sender=requester)


def test_pausing_stops_new_channels_but_not_redemption_or_withdrawal(
        channels, open_channel, signed, deployer, requester, provider, token, site_id, reverts, attacker):
    channel_id = open_channel()
    with reverts():
        channels.pause(sender=attacker)
    channels.pause(sender=deployer)
    try:
        token.approve(channels, AKRE, sender=requester)
        with reverts():
            channels.open_channel(site_id, AKRE, "0x" + "00" * 20, sender=requester)
        with reverts():
            channels.top_up(channel_id, AKRE, sender=requester)
        channels.redeem(*signed(channel_id, 1, AKRE), sender=provider)
        channels.close(channel_id, sender=requester)
    finally:
        channels.unpause(sender=deployer)


def test_the_order_digest_is_the_sdks(channels, chain):
    order = JobOrder(channel_id=3, nonce=7, model_id=MODEL_ID, prompt_hash=b"\x01" * 32,
                     params=GenerationParams(width=64, height=64, steps=4, guidance_x100=750, seed=9),
                     max_price=2 * AKRE, green=True, expiry=2**40)
    onchain = channels.order_digest((order.channel_id, order.nonce, order.model_id, order.prompt_hash, *order.params.as_tuple(),
                                     order.max_price, order.green, order.expiry))
    assert onchain == vouchers.digest(order, chain.chain_id, channels.address)
    voucher = Voucher(channel_id=3, jobs=2, amount=AKRE, energy_mwh=5, green_mwh=4, receipts_root=ROOT)
    assert channels.voucher_digest(voucher.as_tuple()) == vouchers.digest(voucher, chain.chain_id, channels.address)


def test_only_a_retiring_contract_names_a_channel_on_a_certificate(rec, attacker, requester, channels, reverts):
    with reverts("access_control: account is missing role"):
        rec.retire_for_channel(attacker, 1, requester, 1, ROOT, sender=attacker)
    assert rec.hasRole(rec.MARKET_ROLE(), channels)
