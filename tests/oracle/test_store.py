"""The sample store, on SQLite and on PostgreSQL through the same code."""

from degen.telemetry import MeterSample
from oracle.store import SampleStore

SIG = b"\x01" * 65


def sample(timestamp, register_wh, site_id=1):
    return MeterSample(site_id=site_id, timestamp=timestamp, pv_watts=1_000, register_wh=register_wh, battery_soc_permille=500)


def test_samples_are_stored_once_and_read_back_in_order(engine):
    store = SampleStore(engine)
    assert store.latest(1) is None
    for timestamp, register in ((600, 20), (0, 0), (300, 10)):
        assert store.add(sample(timestamp, register), SIG, "0xabc")
    assert not store.add(sample(300, 10), SIG, "0xabc")  # a retry
    assert store.add(sample(300, 0, site_id=2), SIG, "0xdef")
    assert store.latest(1) == (sample(600, 20), SIG)
    assert [s.timestamp for s, _ in store.between(1, 0, 300)] == [0, 300]
    assert store.get(1, 300) == (sample(300, 10), SIG) and store.get(1, 301) is None


def test_ids_and_times_beyond_the_columns_find_nothing(engine):
    store = SampleStore(engine)
    assert store.add(sample(300, 10), SIG, "0xabc")
    for huge in (2**63, 2**64, 2**256, -1):
        assert store.latest(huge) is None and store.get(huge, 300) is None and store.get(1, huge) is None
        assert store.between(huge, 0, 2**70) == []
    assert [s.timestamp for s, _ in store.between(1, -(2**70), 2**70)] == [300]


def test_concurrent_samples_share_a_commit_and_each_hears_only_after_it(engine):
    """The first commit is held at a gate while the 200 samples arrive: whatever it took, the
    rest go in the next commit, and no future completes before its commit did."""
    import threading

    from oracle.store import GroupCommit

    gate = threading.Event()

    class GatedStore(SampleStore):
        def add_many(self, rows):
            gate.wait(30)
            return super().add_many(rows)

    writer = GroupCommit(GatedStore(engine))
    futures = [writer.submit(sample(300 * i, i), SIG, "0xabc") for i in range(200)]
    assert not any(f.done() for f in futures)
    gate.set()
    assert [f.result(timeout=30) for f in futures] == [True] * 200
    assert writer.commits <= 2 and len(SampleStore(engine).between(1, 0, 2**62)) == 200  # 200 samples, at most 2 fsyncs
    assert writer.submit(sample(0, 0), SIG, "0xabc").result(timeout=30) is False  # a sample at a stored timestamp
    writer.close()


def test_samples_arriving_together_wait_for_others_to_join_their_commit(engine):
    """The writer takes two waiting samples, then gathers one submitted after it took them."""
    import threading
    import time

    from oracle.store import GroupCommit

    gate, commits = threading.Event(), []

    class GatedStore(SampleStore):
        def add_many(self, rows):
            gate.wait(30)
            commits.append([row["timestamp"] for row in rows])
            return super().add_many(rows)

    def taken_by_writer():
        deadline = time.monotonic() + 30
        while writer._pending and time.monotonic() < deadline:
            time.sleep(0.001)

    writer = GroupCommit(GatedStore(engine), gather_s=1)
    first = writer.submit(sample(300, 1), SIG, "0xabc")
    taken_by_writer()  # committed alone, held at the gate
    together = [writer.submit(sample(300 * i, i), SIG, "0xabc") for i in (2, 3)]
    gate.set()
    taken_by_writer()
    late = writer.submit(sample(1200, 4), SIG, "0xabc")
    assert [f.result(timeout=30) for f in (first, *together, late)] == [True] * 4
    assert commits == [[300], [600, 900, 1200]]
    writer.close()


def test_a_committee_report_is_kept_once_when_signed_again_or_first_received_from_a_peer(engine):
    """After a restart a member signs a report it kept already, or one a peer's signature
    brought first: on PostgreSQL too (where a refused insert ends the transaction), the
    report stays one row, marked as signed by this member."""
    from eth_account import Account

    from oracle.committee import Member, Report
    from oracle.store import metadata

    metadata.create_all(engine)
    member = Member(engine, None, Account.create(), chain_id=31337)  # no committee view: signing and keeping need none
    signed = Report.of("verdict", {"config": 1, "job_id": 7, "provider_wins": True}, 31337, "0x" + "11" * 20)
    assert member.sign(signed) and not member.sign(signed)

    received = Report.of("verdict", {"config": 1, "job_id": 8, "provider_wins": False}, 31337, "0x" + "11" * 20)
    member._keep_report(received, signed_by_us=False)
    assert member.sign(received)
    assert {row["digest"]: row["signed_by_us"] for row in member._open()} == {
        "0x" + signed.digest.hex(): 1, "0x" + received.digest.hex(): 1}
    assert [report["signers"] for report in member.attestations("verdict", 8)] == [[member.address]]
