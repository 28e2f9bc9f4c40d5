"""The oracle's view of the registry's sites: made-up site ids cost no chain read and no
memory, a slow chain never stalls the API's event loop, and a flood of unknown ids through
the real API against the real registry on anvil leaves memory and /health as they were."""

from __future__ import annotations

import threading
import time

import httpx
from eth_account import Account

from degen import telemetry
from degen.telemetry import MeterSample
from oracle.ingest import serving
from oracle.rules import SiteRecord
from oracle.sites import SiteDirectory
from oracle.store import SampleStore, engine_for

METER = Account.from_key(b"\x11" * 32)
SITE = SiteRecord(METER.address, 6_000, True, 13_500)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def counting(records: dict[int, SiteRecord], clock: Clock, **options):
    """A directory over `records` whose chain reads are counted, and the list of them."""
    reads = []

    def read_count():
        reads.append("count")
        return max(records, default=0)

    def read_site(site_id):
        reads.append(site_id)
        return records.get(site_id)

    return SiteDirectory(read_count, read_site, clock=clock, **options), reads


def test_ids_above_the_count_are_unknown_without_a_read_per_id():
    clock = Clock()
    sites, reads = counting({1: SITE, 2: SITE}, clock, count_ttl_s=5)
    assert [sites.lookup(site_id) for site_id in range(3, 10_003)] == [None] * 10_000
    assert reads == ["count"] and len(sites) == 0
    assert sites.lookup(2) == SITE and reads == ["count", 2]
    clock.now = 6  # the count is read again only once it is older than count_ttl_s
    assert sites.lookup(10**70) is None and reads == ["count", 2, "count"]


def test_a_site_registered_later_is_seen_once_the_count_is_stale():
    clock, records = Clock(), {1: SITE}
    sites, _ = counting(records, clock, count_ttl_s=1)
    assert sites.lookup(2) is None
    records[2] = SITE
    assert sites.cached(2) == (True, None)  # within count_ttl_s of the last read
    clock.now = 1.5
    assert sites.lookup(2) == SITE


def test_records_are_reused_for_their_ttl_in_a_bounded_lru():
    clock = Clock()
    sites, reads = counting({i: SITE for i in range(1, 101)}, clock, ttl_s=30, max_entries=10)
    for site_id in range(1, 101):
        sites.lookup(site_id)
    assert len(sites) == 10 and sites.cached(100) == (True, SITE) and sites.cached(1) == (False, None)
    reads.clear()
    sites.lookup(100)
    assert reads == []
    clock.now = 31
    sites.lookup(100)
    assert reads == [100]


def test_a_slow_registry_read_never_stalls_the_api(tmp_path):
    """While the registry read for a new site hangs, /health still answers: the read runs
    in a thread, not on the event loop."""
    entered, release = threading.Event(), threading.Event()

    def slow_site(site_id):
        entered.set()
        release.wait(30)
        return SITE if site_id == 1 else None

    sites = SiteDirectory(lambda: 1, slow_site)
    now = 1_800_000_000
    sample = MeterSample(site_id=1, timestamp=now, pv_watts=3_000, register_wh=1_000, battery_soc_permille=500)
    body = telemetry.body(sample, telemetry.sign(sample, METER, 31337, "0x" + "ab" * 20))
    store = SampleStore(engine_for(f"sqlite:///{tmp_path / 'oracle.sqlite'}"))
    with serving(store, sites, chain_id=31337, registry="0x" + "ab" * 20, clock=lambda: now) as (url, _):
        answers = []
        poster = threading.Thread(target=lambda: answers.append(httpx.post(f"{url}/samples", json=body, timeout=60)))
        poster.start()
        assert entered.wait(30)
        assert httpx.get(f"{url}/health", timeout=10).status_code == 200  # the loop is free
        release.set()
        poster.join(60)
    assert answers[0].status_code == 201


def test_a_flood_of_unknown_site_ids_leaves_memory_and_health_as_they_were(chain, registry, site_id, meter, tmp_path):
    """20,000 distinct made-up site ids, signed and not, one per request and in batches,
    against the real registry on anvil: each is a 404 with its reason, the registry's count
    is read once, nothing is kept per id, /health answers throughout, and the real site's
    samples are still taken."""
    reads = []

    def read_count():
        reads.append("count")
        return registry.site_count()

    def read_site(asked):
        reads.append(asked)
        record = registry.site(asked)
        return SiteRecord(record.meter, record.pv_peak_watts, record.status == 2, record.battery_wh)

    sites = SiteDirectory(read_count, read_site, count_ttl_s=3_600)
    now = int(time.time())  # the API checks timestamps against the wall clock
    store = SampleStore(engine_for(f"sqlite:///{tmp_path / 'oracle.sqlite'}"))
    signature = "0x" + telemetry.sign(MeterSample(site_id=site_id, timestamp=now, pv_watts=1, register_wh=1,
                                                  battery_soc_permille=1), meter, chain.chain_id, registry.address).hex()
    unknown = [10**9 + 7 * i for i in range(20_000)]

    def bodies(ids):
        return [{"site_id": i, "timestamp": now, "pv_watts": 1, "register_wh": 1, "battery_soc_permille": 1,
                 "signature": signature} for i in ids]

    with serving(store, sites, chain_id=chain.chain_id, registry=registry.address) as (url, ingest), \
            httpx.Client(base_url=url, timeout=30) as client:
        health = []
        for first in range(0, 19_500, 500):
            results = client.post("/samples/batch", json={"samples": bodies(unknown[first:first + 500])}).json()["results"]
            assert {(r["status"], "is not registered" in r["detail"]) for r in results} == {(404, True)}
            health.append(client.get("/health").status_code)
        for body in bodies(unknown[19_500:]):
            refused = client.post("/samples", json=body)
            assert refused.status_code == 404 and "is not registered" in refused.json()["detail"]
        assert set(health) == {200}
        assert reads == ["count"] and len(sites) == 0 and ingest._newest == {}  # nothing kept per made-up id
        genuine = MeterSample(site_id=site_id, timestamp=now, pv_watts=1_000, register_wh=5_000, battery_soc_permille=500)
        assert client.post("/samples", json=telemetry.body(genuine, telemetry.sign(genuine, meter, chain.chain_id,
                                                                                      registry.address))).status_code == 201
        assert reads == ["count", site_id]
