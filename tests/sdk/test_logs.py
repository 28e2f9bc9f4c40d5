"""degen.chain.logs against a hosted-provider stand-in (tests/rpc_proxy.py) in front of anvil:
a range over its block cap, a page over its result cap, 429s and gateway timeouts all end in
exactly the logs anvil holds, in order; a block the node refuses even alone is a sentence."""

from __future__ import annotations

import pytest
from eth_account import Account
from web3 import HTTPProvider, Web3

from degen.chain.logs import LogQueryFailed, read_logs
from degen.contracts import abi_of
from tests.rpc_proxy import HostedRpc


@pytest.fixture
def hosted(chain):
    proxy = HostedRpc(chain.provider.uri, max_range=20, max_results=15, requests_per_s=8, timeout_every=5)
    yield proxy
    proxy.close()


@pytest.fixture
def transfers(token, deployer, chain):
    """60 AKRE transfers, one block each: (first block, last block, recipient)."""
    recipient = Account.create().address
    first = chain.blocks.height + 1
    for _ in range(60):
        token.transfer(recipient, 1, sender=deployer)
    return first, chain.blocks.height, recipient


def transfer_logs(url: str, token, recipient):
    web3 = Web3(HTTPProvider(url, request_kwargs={"timeout": 10}))
    event = web3.eth.contract(address=token.address, abi=abi_of(token.contract_type)).events.Transfer()
    return lambda start, end: event.get_logs(from_block=start, to_block=end, argument_filters={"receiver": recipient})


def test_every_log_arrives_through_a_provider_that_caps_throttles_and_times_out(hosted, transfers, token, chain):
    first, last, recipient = transfers
    direct = transfer_logs(chain.provider.uri, token, recipient)(first, last)
    assert len(direct) == 60
    waits = []
    paged = read_logs(transfer_logs(hosted.url, token, recipient), first - 5, last + 1, max_range=1_000, sleep=waits.append)
    assert [(log["blockNumber"], log["logIndex"]) for log in paged] == [(log["blockNumber"], log["logIndex"]) for log in direct]
    assert hosted.refused["range"] >= 1 and hosted.refused["results"] >= 1 and hosted.refused["timeout"] >= 1


def test_a_block_the_node_refuses_even_alone_is_a_sentence(chain, token, transfers):
    first, last, recipient = transfers
    strict = HostedRpc(chain.provider.uri, max_range=20, max_results=0, timeout_every=10**9)
    try:
        with pytest.raises(LogQueryFailed, match=rf"refuses the logs of block {first} even alone: query returned more than 0"):
            read_logs(transfer_logs(strict.url, token, recipient), first, last, sleep=lambda _: None)
    finally:
        strict.close()
