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
    assert store.latest(1) == sample(600, 20)
    assert [s.timestamp for s, _ in store.between(1, 0, 300)] == [0, 300]
    assert store.get(1, 300) == (sample(300, 10), SIG) and store.get(1, 301) is None
