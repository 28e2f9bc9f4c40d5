"""Following the chain as it grows: `NewBlocks` reports each new head once, and
`requester.follow` (what `degen generate` waits with) reads a job once and then only when a
new block's logs name it — acceptance and delivery as they are mined, nothing for the blocks
in between."""

from __future__ import annotations

import threading
import time

import pytest

from degen import contracts as degen_contracts
from degen import requester as requester_sdk
from degen.chain.heads import NewBlocks
from degen.chain.readonly import ReadOnlyContract
from degen.models import JobState


def test_new_blocks_reports_each_new_head_once():
    heads = iter([7, 7, 7, 8, 8, 10])
    blocks = NewBlocks(lambda: next(heads), every_s=0.001, seen=7)
    assert blocks.wait(5) and blocks.seen == 8
    assert blocks.wait(5) and blocks.seen == 10


def test_new_blocks_gives_up_after_its_timeout_or_when_woken():
    blocks = NewBlocks(lambda: 3, every_s=0.01, seen=3)
    assert not blocks.wait(0.05) and blocks.seen == 3
    woken = threading.Event()
    woken.set()
    started = time.monotonic()
    assert not blocks.wait(60, wake=woken) and time.monotonic() - started < 30


def test_a_node_that_does_not_answer_is_asked_again():
    answers = iter([ConnectionError("refused"), TimeoutError("slow"), 12])

    def head():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    blocks = NewBlocks(head, every_s=0.001, seen=11)
    assert blocks.wait(5) and blocks.seen == 12


@pytest.fixture
def spied(monkeypatch):
    """The jobs `follow` reads and the block ranges whose logs it asks for."""
    reads, ranges = [], []
    read_job, logs_about = degen_contracts.job, ReadOnlyContract.logs_about

    def job(market, job_id):
        reads.append(job_id)
        return read_job(market, job_id)

    def logs(self, argument, value, start, stop):
        ranges.append((start, stop))
        return logs_about(self, argument, value, start, stop)

    monkeypatch.setattr(degen_contracts, "job", job)
    monkeypatch.setattr(ReadOnlyContract, "logs_about", logs)
    return reads, ranges


def test_follow_reads_the_job_only_when_a_new_block_names_it(
        spied, contracts, create_job, market, token, provider, offer_id, requester, deployer, chain, make_receipt, sign):
    reads, ranges = spied
    job_id = create_job()
    states, followed = [], {}
    follower = threading.Thread(target=lambda: followed.update(job=requester_sdk.follow(
        contracts, job_id, chain.blocks.height, on_change=lambda job: states.append(job.state), timeout_s=120)))
    follower.start()
    try:
        wait_for(lambda: states == [JobState.OPEN])
        create_job()  # a block with another job's logs, one with no market logs
        token.transfer(deployer, 1, sender=requester)
        head = chain.blocks.height
        wait_for(lambda: any(stop > head for _, stop in ranges))
        assert reads == [job_id] and states == [JobState.OPEN]

        market.accept(job_id, offer_id, sender=provider)
        wait_for(lambda: JobState.ACCEPTED in states)
        chain.pending_timestamp += 60
        receipt = make_receipt(job_id)
        market.deliver(job_id, receipt.as_tuple(), sign(receipt), sender=provider)
    finally:
        follower.join(timeout=60)
    assert followed["job"].state == JobState.DELIVERED
    assert states == [JobState.OPEN, JobState.ACCEPTED, JobState.DELIVERED] and reads == [job_id] * 3
    covered = sorted(ranges)
    assert all(later[0] == earlier[1] for earlier, later in zip(covered, covered[1:]))  # each block's logs read once


def wait_for(condition, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.05)
