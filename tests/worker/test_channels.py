"""Instant jobs through channels, as real processes on 127.0.0.1: the worker (`degen worker
run` with the tiny pipeline) serves signed orders at once, answers with the image and the
meter-signed receipt, takes only the voucher that pays exactly what it served, refuses every
bad order with a reason and no work, and redeems the vouchers on chain, at once when the
requester starts a close; killed at any step of it, it loses no voucher and redeems once."""

from __future__ import annotations

import base64
import json
import re
import signal

import httpx
import pytest
from eth_account import Account
from eth_utils import keccak

from degen import channels, contracts as reads, eip712, limits, receipts
from degen.eip712 import SECP256K1_N
from degen.instant import InstantError, Site, SiteChannel
from degen.models import GenerationParams, JobOrder, Voucher
from degen.processes import free_port
from tests.conftest import AKRE, FEE_BPS, MODEL_ID
from tests.daemons import server_url

PARAMS = GenerationParams(width=64, height=64, steps=3, guidance_x100=750, seed=5)
PROMPT = "a fox on a roof of solar panels"


@pytest.fixture
def open_channel(contracts, requester, site_id):
    def open_(deposit=20 * AKRE) -> int:
        return channels.open_channel(contracts, requester, site_id, deposit)

    return open_


@pytest.fixture
def site_channel(contracts, chain, market, registry, site_id, requester, offer_id):
    """The requester's side of a channel with the worker at `url` (its own key signs)."""
    key = Account.from_key(requester.private_key)

    def make(url: str, channel_id: int, offer=offer_id, signer=key) -> SiteChannel:
        meter, max_gpu_watts, _ = registry.meter_of(site_id)
        site = Site(url, meter, max_gpu_watts, reads.offer(market, offer), chain.chain_id, contracts.channels.address,
                    market.address)
        return SiteChannel(site, channel_id, requester.address, lambda typed: eip712.sign(typed, signer))

    return make


def order_for(channel_id, nonce, chain, prompt=PROMPT, **changes) -> JobOrder:
    fields = dict(channel_id=channel_id, nonce=nonce, model_id=MODEL_ID, prompt_hash=keccak(prompt.encode()), params=PARAMS,
                  max_price=3 * AKRE, green=False, expiry=chain.pending_timestamp + 300)
    return JobOrder(**fields | changes)


def post_order(url, order, key, chain, channels_address, prompt=PROMPT, signature=None):
    signature = signature or channels.sign(order, key, chain.chain_id, channels_address)
    return httpx.post(f"{url}/channels/orders", json={"order": channels.order_wire(order), "prompt": prompt,
                                                        "signature": "0x" + signature.hex()}, timeout=60)


def test_instant_jobs_are_served_paid_by_voucher_and_redeemed_when_the_requester_closes(
    start_worker, open_channel, site_channel, contracts, chain, requester, provider, token, meter, treasury,
):
    worker = start_worker()
    url = server_url(worker)
    channel_id = open_channel()
    requester_side = site_channel(url, channel_id)

    first = requester_side.order(PROMPT, PARAMS, 3 * AKRE, green=False, now=chain.pending_timestamp)
    assert first.png.startswith(b"\x89PNG") and first.voucher.jobs == 1 and first.voucher.amount == first.job.price
    receipt = first.job.receipt
    assert receipt.job_id == first.job_id == channels.order_job_id(first.job.order, chain.chain_id, contracts.channels.address)
    assert receipts.signer_of(receipt, first.job.meter_signature, chain.chain_id, contracts.market.address) == meter.address
    assert 2 * AKRE <= first.job.price <= 3 * AKRE and receipt.energy_mwh > 0
    second = requester_side.order(PROMPT + " at dusk", PARAMS, 3 * AKRE, green=False, now=chain.pending_timestamp)
    assert second.voucher.jobs == 2 and second.voucher.amount == first.job.price + second.job.price
    assert second.job.receipt.meter_start >= receipt.meter_end  # one register for market and channel jobs

    view = httpx.get(f"{url}/channels/{channel_id}", timeout=10).json()
    assert view["next_nonce"] == 2 and view["owed"] is None and len(view["leaves"]) == 2
    assert channels.voucher_from_wire(view["voucher"]["voucher"]) == second.voucher
    published = httpx.get(f"{url}/receipts/{second.job_id}", timeout=10).json()
    assert published["receipt"]["meter_end"] == second.job.receipt.meter_end and published["channel_id"] == str(channel_id)
    assert httpx.get(f"{url}/health", timeout=10).json()["channels"]["unredeemed_jobs"] == 2
    assert contracts.channels.channel(channel_id).jobs == 0  # nothing redeemed yet: under the threshold

    paid_before, fee_before = token.balanceOf(provider), token.balanceOf(treasury)
    contracts.channels.close(channel_id, sender=requester)
    worker.wait_for(rf"channel vouchers redeemed channel={channel_id} jobs=2 .*why=.its requester is closing", timeout=30)
    state = contracts.channels.channel(channel_id)
    assert (state.jobs, state.redeemed) == (2, second.voucher.amount)
    fee = second.voucher.amount * FEE_BPS // 10_000
    assert token.balanceOf(provider) - paid_before == second.voucher.amount - fee
    assert token.balanceOf(treasury) - fee_before == fee
    closing = post_order(url, order_for(channel_id, 2, chain), requester.private_key, chain, contracts.channels.address)
    assert closing.status_code == 409 and "closing" in closing.json()["detail"]


def test_bad_orders_are_refused_with_a_reason_and_no_work(
    start_worker, open_channel, site_channel, contracts, chain, requester, attacker, market, site_id,
):
    worker = start_worker()
    url = server_url(worker)
    channel_id = open_channel(5 * AKRE)
    address = contracts.channels.address
    served = site_channel(url, channel_id).order(PROMPT, PARAMS, 3 * AKRE, green=False, now=chain.pending_timestamp)
    signed = served.job.order
    key = requester.private_key
    high_s = channels.sign(order_for(channel_id, 1, chain), key, chain.chain_id, address)
    s = int.from_bytes(high_s[32:64], "big")
    high_s = high_s[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - high_s[64]])
    other_contract = channels.sign(order_for(channel_id, 1, chain), key, chain.chain_id, market.address)
    other_chain = channels.sign(order_for(channel_id, 1, chain), key, chain.chain_id + 1, address)
    someone_elses = channels.open_channel(contracts, attacker, site_id, 5 * AKRE)

    refusals = [
        (post_order(url, signed, key, chain, address), 409, "was served already"),  # replayed
        (post_order(url, order_for(channel_id, 1, chain, expiry=chain.pending_timestamp - 10), key, chain, address), 410,
         "expired"),
        (post_order(url, order_for(channel_id, 1, chain, max_price=3 * AKRE), key, chain, address), 402,
         "over what the deposit has left"),
        (post_order(url, order_for(channel_id, 1, chain), attacker.private_key, chain, address), 403, "not signed by channel"),
        (post_order(url, order_for(channel_id, 1, chain), key, chain, address, signature=other_contract), 403, "not signed"),
        (post_order(url, order_for(channel_id, 1, chain), key, chain, address, signature=other_chain), 403, "not signed"),
        (post_order(url, order_for(channel_id, 1, chain), key, chain, address, signature=high_s), 403, "not one the chain accepts"),
        (post_order(url, order_for(channel_id, 1, chain), key, chain, address, prompt="another prompt"), 400, "prompt_hash"),
        (post_order(url, order_for(channel_id, 1, chain, prompt="", max_price=5 * AKRE // 2), key, chain, address, prompt=""), 400, "the prompt is empty"),
        (post_order(url, order_for(channel_id, 3, chain, max_price=AKRE), key, chain, address), 409, "next order is 1"),
        (post_order(url, order_for(someone_elses, 0, chain), key, chain, address), 403, "not signed by channel"),
        (post_order(url, order_for(channel_id + 100, 0, chain), key, chain, address), 404, "there is no channel"),
    ]
    for response, status, reason in refusals:
        assert response.status_code == status and reason in response.json()["detail"], response.text
    malformed = httpx.post(f"{url}/channels/orders", json={"order": {"channel_id": "1"}, "prompt": "x", "signature": "0x"},
                           timeout=10)
    assert malformed.status_code == 422 and "lacks" in malformed.json()["detail"]
    for body in junk_bodies(order_for(channel_id, 1, chain, max_price=AKRE), key, chain, address):
        for route in ("orders", "vouchers"):
            answer = httpx.post(f"{url}/channels/{route}", content=json.dumps(body), timeout=10,  # ASCII: lone surrogates too
                                headers={"Content-Type": "application/json"})
            assert 400 <= answer.status_code < 500 and answer.json()["detail"], (route, body, answer.status_code, answer.text)
    health = httpx.get(f"{url}/health", timeout=10).json()
    assert health["channels"]["jobs"] == 1 and worker.output.count("channel job served") == 1  # no work for any of them

    wrong = Voucher(channel_id=channel_id, jobs=1, amount=served.voucher.amount - 1, energy_mwh=served.voucher.energy_mwh,
                    green_mwh=0, receipts_root=served.voucher.receipts_root)
    answer = httpx.post(f"{url}/channels/vouchers", json={"voucher": channels.voucher_wire(wrong), "signature": "0x" + channels.sign(
        wrong, key, chain.chain_id, address).hex()}, timeout=10)
    assert answer.status_code == 409 and channels.voucher_from_wire(answer.json()["expected"]) == served.voucher
    forged = httpx.post(f"{url}/channels/vouchers", json={"voucher": channels.voucher_wire(served.voucher), "signature": "0x" + channels.sign(
        served.voucher, attacker.private_key, chain.chain_id, address).hex()}, timeout=10)
    assert forged.status_code == 403


JUNK = [None, True, -1, 0, 1.5, 2**64, 2**256, 2**300, "", "x", "0x" + "zz" * 32, "0x" + "00" * 32, [], {}]


def junk_bodies(order: JobOrder, key, chain, channels_address):
    """Request bodies with one part replaced by junk: each field of the order (and of a voucher
    that reads the same fields), its signature, its prompt, the whole body. An order that still
    parses is signed as it is, so the worker's checks behind the parsing see it too."""
    wire = channels.order_wire(order)
    for field in wire:
        for value in JUNK:
            changed = wire | {field: value}
            try:
                signature = "0x" + channels.sign(channels.order_from_wire(changed), key, chain.chain_id, channels_address).hex()
            except ValueError:
                signature = "0x" + "11" * 65
            voucher = {field["name"]: changed.get(field["name"], 1) for field in channels.VOUCHER_FIELDS}
            yield {"order": changed, "voucher": voucher, "prompt": PROMPT, "signature": signature}
    signature = "0x" + channels.sign(order, key, chain.chain_id, channels_address).hex()
    for value in JUNK + ["\ud800", "é" * limits.MAX_PROMPT_BYTES]:
        yield {"order": wire, "prompt": value, "signature": signature}
        yield {"order": wire, "voucher": value, "prompt": PROMPT, "signature": value}
        yield {"order": value}
    yield []


def test_a_requester_that_does_not_sign_the_voucher_is_served_nothing_more(
    start_worker, open_channel, site_channel, contracts, chain, requester,
):
    worker = start_worker()
    url = server_url(worker)
    channel_id = open_channel()
    address = contracts.channels.address
    unpaid = post_order(url, order_for(channel_id, 0, chain), requester.private_key, chain, address)
    assert unpaid.status_code == 200 and base64.b64decode(unpaid.json()["image"]).startswith(b"\x89PNG")
    refused = post_order(url, order_for(channel_id, 1, chain), requester.private_key, chain, address)
    assert refused.status_code == 402 and "owes the voucher for order 0" in refused.json()["detail"]
    assert worker.output.count("channel job served") == 1
    worker.wait_for(rf"channel served no more until its voucher comes channel={channel_id} order=0")

    requester_side = site_channel(url, channel_id)  # a requester coming back: checks the job it missed and pays first
    tab, view = requester_side.tab()
    assert tab.jobs == 1 and view["next_nonce"] == 1
    again = requester_side.order(PROMPT, PARAMS, 3 * AKRE, green=False, now=chain.pending_timestamp)
    assert again.voucher.jobs == 2 and again.job.order.nonce == 1


def test_over_the_unredeemed_limit_an_order_waits_while_the_worker_redeems(
    worker_config, start_worker, open_channel, site_channel, contracts, chain, requester,
):
    """A channel owing its site up to the limit: the next order is refused (429, Retry-After)
    and makes the worker redeem at once, under its threshold; then it is served."""
    worker = start_worker(worker_config(channels={"redeem_threshold_akre": 6, "max_unredeemed_akre": 6}))
    url = server_url(worker)
    channel_id = open_channel()
    requester_side = site_channel(url, channel_id)
    requester_side.order(PROMPT, PARAMS, 3 * AKRE, green=False, now=chain.pending_timestamp)
    second = requester_side.order(PROMPT, PARAMS, 3 * AKRE, green=False, now=chain.pending_timestamp)
    waits = post_order(url, order_for(channel_id, 2, chain), requester.private_key, chain, contracts.channels.address)
    assert waits.status_code == 429 and waits.headers["Retry-After"] == "2" and "unredeemed" in waits.json()["detail"]
    worker.wait_for(rf"channel vouchers redeemed channel={channel_id} jobs=2 .*why=.an order waits for it", timeout=30)
    assert contracts.channels.channel(channel_id).redeemed == second.voucher.amount
    third = requester_side.order(PROMPT, PARAMS, 3 * AKRE, green=False, now=chain.pending_timestamp)
    assert third.voucher.jobs == 3


@pytest.mark.parametrize("kill_at", ["order-served", "voucher-stored", "redeemed"])
def test_a_worker_killed_around_a_channel_job_loses_no_voucher_and_redeems_once(
    kill_at, worker_config, start_worker, open_channel, site_channel, contracts, chain, requester,
):
    config = worker_config()
    doomed = start_worker(config, kill_at=kill_at)
    url = server_url(doomed)
    channel_id = open_channel()
    since = chain.blocks.height
    if kill_at == "redeemed":
        site_channel(url, channel_id).order(PROMPT, PARAMS, 3 * AKRE, green=False, now=chain.pending_timestamp)
        contracts.channels.close(channel_id, sender=requester)
    else:
        with pytest.raises(InstantError, match="unreachable"):
            site_channel(url, channel_id).order(PROMPT, PARAMS, 3 * AKRE, green=False, now=chain.pending_timestamp)
    doomed.wait_for(f"killed at {kill_at}", timeout=60)
    assert doomed.popen.wait(30) == -signal.SIGKILL

    worker = start_worker(config)
    url = server_url(worker)
    tab, view = site_channel(url, channel_id).tab()  # pays a job served before the kill, if its voucher never came
    assert tab.jobs == 1 and view["next_nonce"] == 1
    if kill_at != "redeemed":
        contracts.channels.close(channel_id, sender=requester)
    worker.wait_for(rf"channel vouchers (were )?redeemed .*channel={channel_id}", timeout=30)
    assert contracts.channels.channel(channel_id).jobs == 1
    redeemed = [log for log in contracts.channels.VoucherRedeemed.range(since, chain.blocks.height + 1)
                if log.channel_id == channel_id]
    assert len(redeemed) == 1


def test_degen_generate_instant_opens_a_channel_then_reuses_it(cli, worker_config, start_worker, offer_id, site_id, contracts,
                                                               attacker, tmp_path):
    """`degen generate --instant` as a requester with no channel yet (TEST::3, whose channels
    no other test opens): the first job opens one with the deposit, the second reuses it."""
    port = free_port()
    worker = start_worker(worker_config(server={"port": port, "public_url": f"http://127.0.0.1:{port}"}))
    worker.wait_for("result endpoint published")
    args = ("generate", PROMPT, "--instant", "--offer", str(offer_id), "--width", "64", "--height", "64", "--steps", "3",
            "--max-price", "3", "--deposit", "10", "--account", "TEST::3")
    first = cli(*args, "--out", str(tmp_path / "first.png"))
    assert first.returncode == 0, first.stderr
    channel_id = int(re.search(r"channel (\d+) opened with site \d+: 10 AKRE deposited", first.stdout).group(1))
    assert re.search(r"served on channel \d+ \(order 0\)", first.stdout) and "voucher      signed for 1 job:" in first.stdout
    assert (tmp_path / "first.png").read_bytes().startswith(b"\x89PNG")
    second = cli(*args, "--out", str(tmp_path / "second.png"))
    assert second.returncode == 0, second.stderr
    assert f"channel {channel_id} with site {site_id}: 10 AKRE deposited" in second.stdout
    assert "(order 1)" in second.stdout and "signed for 2 jobs" in second.stdout
    assert contracts.channels.channel(channel_id).requester == attacker.address
    refused = cli(*args, "--open", "--model", "tiny-sd")
    assert refused.returncode != 0 and "--instant goes to one site's offer" in refused.stderr


def test_a_green_channels_energy_is_retired_on_one_certificate_when_its_voucher_is_redeemed(
    worker_config, start_worker, open_channel, site_channel, contracts, chain, requester, provider, green_offer, rec, certificate,
):
    """Bob's green offer (his RECs issued, none approved to JobChannels yet): green orders are
    served; closing the channel redeems the voucher, the worker approving JobChannels for its
    RECs first, and one certificate in Alice's name names the channel and the receipts' root."""
    worker = start_worker(worker_config(offers=(green_offer,)))
    url = server_url(worker)
    worker.wait_for("site found")  # green orders wait for the site's first reading
    channel_id = open_channel()
    requester_side = site_channel(url, channel_id, offer=green_offer)
    requester_side.order(PROMPT, PARAMS, 3 * AKRE, green=True, now=chain.pending_timestamp)
    paid = requester_side.order(PROMPT + " again", PARAMS, 3 * AKRE, green=True, now=chain.pending_timestamp)
    assert paid.voucher.green_mwh == paid.voucher.energy_mwh > 0
    recs_before, since = rec.balanceOf(provider), chain.blocks.height
    contracts.channels.close(channel_id, sender=requester)
    worker.wait_for(rf"channel vouchers redeemed channel={channel_id} jobs=2 .*green_mwh={paid.voucher.green_mwh}\b", timeout=30)
    redeemed, = [log for log in contracts.channels.VoucherRedeemed.range(since, chain.blocks.height + 1)
                 if log.channel_id == channel_id]
    assert rec.balanceOf(provider) == recs_before - paid.voucher.green_mwh
    record = certificate.certificate(redeemed.certificate_id)
    assert (record.beneficiary, record.amount_mwh) == (requester.address, paid.voucher.green_mwh)
    assert certificate.receipts_of(redeemed.certificate_id) == (channel_id, paid.voucher.receipts_root)
