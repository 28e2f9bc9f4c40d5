"""The site agent's telemetry outbox against the oracle's real ingest API on 127.0.0.1:
samples recorded while the oracle is down are kept and posted in order once it is up, a
retry of a stored sample is harmless, and a sample refused for good is dropped."""

import time

import pytest
from eth_account import Account

from degen.processes import free_port
from oracle.ingest import serving
from oracle.rules import SiteRecord
from oracle.sites import SiteDirectory
from oracle.store import SampleStore, engine_for
from worker.policy import SiteState
from worker.reporter import MissingPoints, TelemetryReporter

CHAIN_ID, REGISTRY = 31337, "0x" + "ab" * 20
METER = Account.from_key(b"\x11" * 32)


def test_samples_wait_in_the_outbox_while_the_oracle_is_down(tmp_path):
    port = free_port()
    reporter = TelemetryReporter(f"http://127.0.0.1:{port}", tmp_path / "telemetry.sqlite", site_id=1, meter_key=METER,
                                 chain_id=CHAIN_ID, registry=REGISTRY, timeout_s=2)
    now = int(time.time())
    for i, (watts, register) in enumerate([(1_000, 5_000), (1_200, 5_090), (1_100, 5_180)]):
        reporter.record(SiteState(pv_watts=watts, battery_soc_pct=61.26, lifetime_wh=register), now - 900 + 300 * i)
    assert reporter.flush() == 0 and reporter.pending() == 3  # nobody listens yet

    store = SampleStore(engine_for(f"sqlite:///{tmp_path / 'oracle.sqlite'}"))
    with serving(store, SiteDirectory.of({1: SiteRecord(METER.address, 6_000, True, 13_500)}), chain_id=CHAIN_ID, registry=REGISTRY, port=port):
        assert reporter.flush() == 3 and reporter.pending() == 0
        stored = [sample for sample, _ in store.between(1, 0, now)]
        assert [s.register_wh for s in stored] == [5_000, 5_090, 5_180] and stored[0].battery_soc_permille == 613
        reporter.record(SiteState(pv_watts=1_000, battery_soc_pct=60, lifetime_wh=4_000), now)  # register went backwards
        assert reporter.flush() == 1 and reporter.pending() == 0  # refused (409) and dropped, not retried forever
        assert len(store.between(1, 0, now)) == 3
    reporter.close()


def test_a_sample_is_never_made_of_what_the_site_did_not_report(tmp_path):
    reporter = TelemetryReporter("http://127.0.0.1:1", tmp_path / "telemetry.sqlite", site_id=1, meter_key=METER,
                                 chain_id=CHAIN_ID, registry=REGISTRY)
    reporter.record(SiteState(pv_watts=0, battery_soc_pct=40, lifetime_wh=0), int(time.time()))  # a new installation
    for missing, said in ((dict(pv_watts=None), "AC power"), (dict(lifetime_wh=None), "lifetime energy"),
                          (dict(battery_soc_pct=None), "state of charge")):
        with pytest.raises(MissingPoints, match=f"the site does not report its {said}"):
            reporter.record(SiteState(**{"pv_watts": 1_000, "battery_soc_pct": 40, "lifetime_wh": 5_000, **missing}), 0)
    assert reporter.pending() == 1
    reporter.close()
