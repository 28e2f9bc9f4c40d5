"""The worker's journal: forward-only steps, idempotent replays, restarts, reorgs, and a
process killed with SIGKILL in the middle of writing."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from degen.errors import InvalidInput
from worker.journal import KEPT_BLOCKS, JobKey, Journal, Step, StepOutOfOrder

MARKET = "0xAbC0000000000000000000000000000000000001"


@pytest.fixture
def journal(tmp_path):
    journal = Journal(tmp_path / "worker.sqlite")
    yield journal
    journal.close()


def key(job_id):
    return JobKey(31337, MARKET, job_id)


def test_steps_only_move_forward(journal):
    assert journal.seen(key(1), block=10)
    assert not journal.seen(key(1), block=12)  # the same event again (backfill overlap)
    assert journal.advance(key(1), Step.ACCEPTED, accept_tx="0x01")
    assert not journal.advance(key(1), Step.ACCEPTED)  # replay after a restart
    with pytest.raises(StepOutOfOrder, match="from ACCEPTED to DELIVERED"):
        journal.advance(key(1), Step.DELIVERED)
    assert journal.advance(key(1), Step.GENERATED, sha256="ab" * 32)
    entry = journal.get(key(1))
    assert entry.step == Step.GENERATED and entry.block == 10
    assert entry.data == {"accept_tx": "0x01", "sha256": "ab" * 32}
    with pytest.raises(StepOutOfOrder):
        journal.advance(key(2), Step.ACCEPTED)
    with pytest.raises(InvalidInput):
        journal.advance(key(1), Step.SKIPPED)


def test_skipped_jobs_keep_their_reason_and_stay_skipped(journal):
    journal.seen(key(3), block=5)
    journal.skip(key(3), "steps 900 above the offer's 50")
    entry = journal.get(key(3))
    assert entry.step == Step.SKIPPED and entry.reason == "steps 900 above the offer's 50"
    with pytest.raises(StepOutOfOrder):
        journal.advance(key(3), Step.ACCEPTED)
    journal.seen(key(4), block=5)
    journal.advance(key(4), Step.ACCEPTED)
    with pytest.raises(StepOutOfOrder, match="only a seen job"):
        journal.skip(key(4), "too late")


def test_accepted_jobs_that_cannot_finish_fail_with_a_reason(journal):
    journal.seen(key(11), block=3)
    with pytest.raises(StepOutOfOrder, match="only an accepted"):
        journal.fail(key(11), "too early")
    journal.advance(key(11), Step.ACCEPTED)
    journal.fail(key(11), "the deadline passed before delivery")
    assert journal.get(key(11)).reason == "the deadline passed before delivery"
    with pytest.raises(StepOutOfOrder):
        journal.advance(key(11), Step.GENERATED)
    journal.seen(key(12), block=4)
    assert journal.counts(31337, MARKET) == {"failed": 1, "seen": 1}


def test_a_reorg_rewinds_processed_blocks_and_forgets_unworked_jobs(journal):
    journal.seen(key(4), block=19)
    journal.seen(key(5), block=20)
    journal.seen(key(6), block=20)
    journal.seen(key(7), block=21)
    journal.skip(key(7), "policy")
    journal.advance(key(6), Step.ACCEPTED)
    for number in (19, 20, 21):
        journal.set_last_block(31337, MARKET, number, f"0x{number}")
    assert journal.processed(31337, MARKET) == [(21, "0x21"), (20, "0x20"), (19, "0x19")]
    assert journal.rewind(31337, MARKET, to_block=19) == [key(5), key(7)]
    assert journal.get(key(5)) is None and journal.get(key(7)) is None
    assert journal.get(key(6)).step == Step.ACCEPTED and journal.get(key(4)).step == Step.SEEN
    assert journal.last_block(31337, MARKET, default=0) == 19


def test_only_recent_block_hashes_are_kept(journal):
    for number in range(1, 300):
        journal.set_last_block(31337, MARKET, number, hex(number))
    kept = journal.processed(31337, MARKET)
    assert len(kept) == KEPT_BLOCKS and kept[0] == (299, hex(299))


def test_restart_resumes_where_each_job_stood(tmp_path):
    path = tmp_path / "worker.sqlite"
    first = Journal(path)
    for job_id, block in ((7, 30), (8, 31), (9, 29)):
        first.seen(key(job_id), block)
        first.advance(key(job_id), Step.ACCEPTED)
    first.advance(key(8), Step.GENERATED, png="results/ab.png")
    first.set_last_block(31337, MARKET, 31, "0x31")
    first.close()

    again = Journal(path)
    assert [e.key.job_id for e in again.at_step(31337, MARKET, Step.ACCEPTED)] == [9, 7]
    assert [e.data for e in again.at_step(31337, MARKET, Step.GENERATED)] == [{"png": "results/ab.png"}]
    assert again.last_block(31337, MARKET, default=0) == 31
    assert again.last_block(1, MARKET, default=17) == 17
    again.close()


def test_a_killed_writer_leaves_every_committed_step(tmp_path):
    """SIGKILL a process in a tight loop of steps; every step it returned from is there."""
    path = tmp_path / "worker.sqlite"
    progress = tmp_path / "progress"
    script = textwrap.dedent(f"""
        import os, sys
        from worker.journal import Journal, JobKey, Step
        journal = Journal(__import__("pathlib").Path({str(path)!r}))
        with open({str(progress)!r}, "a") as out:
            for job_id in range(1, 100_000):
                key = JobKey(31337, {MARKET!r}, job_id)
                journal.seen(key, job_id)
                journal.advance(key, Step.ACCEPTED)
                out.write(f"{{job_id}}\\n"); out.flush(); os.fsync(out.fileno())
    """)
    child = subprocess.Popen([sys.executable, "-c", script], cwd=os.getcwd())
    deadline = time.monotonic() + 60
    try:
        while not progress.exists() or len(progress.read_text().split()) < 50:
            assert child.poll() is None, "the writer died on its own"
            assert time.monotonic() < deadline, "the writer made no progress in 60 s"
            time.sleep(0.01)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    confirmed = [int(line) for line in progress.read_text().split()]
    journal = Journal(path)
    accepted = {e.key.job_id for e in journal.at_step(31337, MARKET, Step.ACCEPTED)}
    assert set(confirmed) <= accepted
    assert len(accepted) - len(confirmed) <= 1  # at most the step in flight when killed
    journal.close()
