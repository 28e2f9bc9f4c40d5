"""The oracle's journal on SQLite and PostgreSQL: jobs only move forward, replays are no-ops,
and the block cursor keeps recent hashes and moves back on a reorg."""

from oracle.journal import KEPT_BLOCKS, OracleJournal, Phase

MARKET = "0x" + "Cd" * 20


def test_jobs_move_forward_only_and_replays_change_nothing(engine):
    journal = OracleJournal(engine, 31337, MARKET)
    assert journal.record(1, Phase.CREATED, deadline=100, prompt="a fox")
    assert not journal.record(1, Phase.CREATED, deadline=999)  # the same event again
    assert journal.record(1, Phase.DELIVERED, delivered_at=50, result_hash="ab")
    assert not journal.record(1, Phase.ACCEPTED)  # an older event after a newer one
    journal.note(1, verified="ok")
    watched = journal.get(1)
    assert watched.phase == Phase.DELIVERED and watched.data == {"deadline": 100, "prompt": "a fox", "delivered_at": 50,
                                                                   "result_hash": "ab", "verified": "ok"}
    assert journal.record(2, Phase.DELIVERED, delivered_at=60)  # first heard of at delivery
    journal.finish(1, "settled")
    assert journal.get(1).outcome == "settled" and [w.job_id for w in journal.at_phase(Phase.DELIVERED)] == [2]
    assert journal.counts() == {"delivered": 1, "done": 1}
    assert OracleJournal(engine, 1, MARKET).get(1) is None  # another chain's market is another journal


def test_the_block_cursor_keeps_recent_hashes_and_rewinds(engine):
    journal = OracleJournal(engine, 31337, MARKET)
    assert journal.last_block(31337, MARKET, default=7) == 7
    for number in range(1, KEPT_BLOCKS + 11):
        journal.set_last_block(31337, MARKET, number, f"0x{number:064x}")
    processed = journal.processed(31337, MARKET)
    assert len(processed) == KEPT_BLOCKS and processed[0] == (KEPT_BLOCKS + 10, f"0x{KEPT_BLOCKS + 10:064x}")
    assert journal.rewind(31337, MARKET, 100) == []  # no job is forgotten: every action reads the chain first
    assert journal.last_block(31337, MARKET, default=0) == 100
    journal.set_last_block(31337, MARKET, 100, "0x" + "ff" * 32)  # the same height on the new branch
    assert journal.processed(31337, MARKET)[0] == (100, "0x" + "ff" * 32)
