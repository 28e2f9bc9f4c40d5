"""The worker's web3 view of the market and the JobCreated follower on anvil: typed reads,
simulation before sending, confirmations, backfill in ranges, and a reorg that removes a job."""

import time

import pytest
from eth_account import Account

from degen.models import JobState
from degen.chain.follower import Follower
from worker.journal import Journal, Step
from degen.contracts import abi_of
from degen.chain.market import MarketClient, TxRejected


@pytest.fixture
def client_for(project, chain, market, registry):
    def make(account):
        return MarketClient(
            chain.provider.web3, market.address, abi_of(project.JobMarket.contract_type),
            registry.address, abi_of(project.SiteRegistry.contract_type), Account.from_key(account.private_key),
        )

    return make


@pytest.fixture
def journal(tmp_path):
    journal = Journal(tmp_path / "worker.sqlite")
    yield journal
    journal.close()


def test_reads_are_typed(client_for, provider, offer_id, create_job, site_id, meter):
    client = client_for(provider)
    job_id = create_job()
    assert client.job(job_id).state == JobState.OPEN and client.offer(offer_id).provider == provider.address
    assert client.site_meter(site_id) == (meter.address, 450, True)
    assert client.chain_time() >= client.web3.eth.get_block("latest")["timestamp"]


def test_a_call_that_would_revert_is_not_sent(client_for, attacker, provider, create_job, offer_id, chain):
    job_id = create_job()
    client = client_for(attacker)
    nonce = chain.provider.web3.eth.get_transaction_count(attacker.address)
    with pytest.raises(TxRejected, match="accept rejected: market: not provider"):
        client.send("accept", job_id, offer_id)
    assert chain.provider.web3.eth.get_transaction_count(attacker.address) == nonce
    receipt = client_for(provider).send("accept", job_id, offer_id)
    assert receipt["status"] == 1 and client.job(job_id).state == JobState.ACCEPTED


def test_follows_with_confirmations_and_backfills_in_ranges(client_for, provider, journal, create_job, chain):
    client = client_for(provider)
    start = chain.blocks.height + 1
    follower = Follower(client, journal, confirmations=2, start_block=start, max_range=1)
    first, second = create_job(), create_job()
    polls = [follower.poll() for _ in range(3)]
    assert [job.job_id for poll in polls for job in poll.new] == [first]  # second is one block short
    chain.mine(2)
    seen = [job.job_id for _ in range(4) for job in follower.poll().new]
    assert seen == [second]
    again = Follower(client, journal, confirmations=2, start_block=start, max_range=1000)  # a restart
    assert again.poll().new == []
    entry = journal.get(follower.key(first))
    assert entry.step == Step.SEEN and entry.data["prompt"] and entry.data["params"]["width"] == 512


def test_a_reorged_out_job_is_forgotten(client_for, provider, journal, create_job, chain):
    client = client_for(provider)
    follower = Follower(client, journal, confirmations=0, start_block=chain.blocks.height + 1)
    snapshot = chain.snapshot()
    job_id = create_job()
    assert [job.job_id for job in follower.poll().new] == [job_id]
    chain.restore(snapshot)  # the block with JobCreated is gone ...
    chain.mine(3)  # ... and a longer branch without it replaces it
    poll = follower.poll()
    assert poll.forgotten == [follower.key(job_id)] and poll.new == []
    assert journal.get(follower.key(job_id)) is None
    again = create_job(prompt="a different job with the same id")
    assert again == job_id and [job.prompt for job in follower.poll().new] == ["a different job with the same id"]


def test_a_nonce_taken_by_another_sender_is_recovered(client_for, provider, create_job, offer_id, token, market, caplog):
    client = client_for(provider)
    first, second = create_job(), create_job()
    client.send("accept", first, offer_id)  # the client now counts the account's nonce itself
    token.approve(market, 2**256 - 1, sender=provider)  # the same account, from elsewhere
    with caplog.at_level("WARNING", logger="degen.chain.market"):
        assert client.send("accept", second, offer_id)["status"] == 1
    assert "nonce taken by another sender; re-signing" in caplog.text


def test_transient_rpc_failures_are_retried_with_back_off_then_raised(caplog):
    import requests
    from web3 import HTTPProvider, Web3

    from degen.processes import free_port

    dead = Web3(HTTPProvider(f"http://127.0.0.1:{free_port()}", request_kwargs={"timeout": 2}))
    with caplog.at_level("WARNING", logger="degen.chain.market"), pytest.raises(requests.ConnectionError):
        MarketClient(dead, "0x" + "00" * 20, [], "0x" + "00" * 20, [], Account.create(), retries=2, backoff_s=0.01)
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == ["rpc failed", "rpc failed"]
    assert "retry 1/2 in 0.0 s" in caplog.records[0].getMessage() and "retry 2/2" in caplog.records[1].getMessage()


@pytest.fixture
def manual_mining(chain):
    """Turns anvil's automine off (restored after the test); `mine(base_fee)` then mines the
    next block at that base fee (wei)."""
    node = chain.provider.make_request
    node("evm_setAutomine", [False])

    def mine(base_fee: int) -> None:
        node("anvil_setNextBlockBaseFeePerGas", [hex(base_fee)])
        node("evm_mine", [])

    yield mine
    node("evm_setAutomine", [True])
    node("evm_mine", [])  # whatever a failed test left pending is mined, not left to the next test


def send_in_background(client, *call):
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(1)
    return pool.submit(client.send, *call), pool


def pending_hashes(chain, address: str) -> set[str]:
    content = chain.provider.make_request("txpool_content", [])
    return {tx["hash"] for tx in content["pending"].get(address, content["pending"].get(address.lower(), {})).values()}


def test_a_transaction_the_base_fee_outgrew_is_replaced_at_its_nonce_and_done_once(
        client_for, provider, create_job, offer_id, chain, request, caplog):
    job_id = create_job()
    manual_mining = request.getfixturevalue("manual_mining")  # after the job is posted
    manual_mining(10**9)
    client = client_for(provider)
    client.replace_after_blocks = 2
    nonce = chain.provider.web3.eth.get_transaction_count(provider.address)
    sending, pool = send_in_background(client, "accept", job_id, offer_id)
    [first] = wait_for_pending(chain, provider.address, lambda pending: len(pending) == 1)
    for _ in range(2):  # the base fee jumps 50-fold, past what the transaction offers: blocks pass without it
        manual_mining(50 * 10**9)
    wait_for_pending(chain, provider.address, lambda pending: pending - {first})
    manual_mining(50 * 10**9)  # the replacement pays the new base fee
    receipt = sending.result(timeout=30)
    pool.shutdown()
    assert receipt["status"] == 1 and receipt["transactionHash"].to_0x_hex() != first
    assert client.job(job_id).state == JobState.ACCEPTED
    assert chain.provider.web3.eth.get_transaction_count(provider.address) == nonce + 1  # one action, one nonce
    assert "sent again with higher fees" in caplog.text


def test_a_replaced_transaction_mined_after_all_is_recognised(client_for, provider, create_job, offer_id, chain, request, caplog):
    """A builder that still had the first transaction mines it instead of its replacement: the
    client takes that receipt (one action, the journal names the transaction that landed)."""
    job_id = create_job()
    manual_mining = request.getfixturevalue("manual_mining")  # after the job is posted
    manual_mining(10**9)
    client = client_for(provider)
    client.replace_after_blocks = 1
    caplog.set_level("INFO", logger="degen.chain.market")
    node = chain.provider.make_request
    sending, pool = send_in_background(client, "accept", job_id, offer_id)
    [first] = wait_for_pending(chain, provider.address, lambda pending: len(pending) == 1)
    original = node("eth_getRawTransactionByHash", [first])
    manual_mining(50 * 10**9)
    [replacement] = wait_for_pending(chain, provider.address, lambda pending: pending and first not in pending)
    node("anvil_dropTransaction", [replacement])
    node("anvil_setNextBlockBaseFeePerGas", [hex(10**9)])  # the fee falls back, and the original is there after all
    node("eth_sendRawTransaction", [original])
    node("evm_mine", [])
    receipt = sending.result(timeout=30)
    pool.shutdown()
    assert receipt["transactionHash"].to_0x_hex() == first and client.job(job_id).state == JobState.ACCEPTED
    assert "transaction mined after replacement" in caplog.text


def wait_for_pending(chain, address: str, condition) -> set[str]:
    deadline = time.monotonic() + 30
    while not condition(pending := pending_hashes(chain, address)):
        assert time.monotonic() < deadline, pending
        time.sleep(0.05)
    return pending
