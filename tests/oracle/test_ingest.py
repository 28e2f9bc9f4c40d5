"""The telemetry ingest API on a real socket: stored once, retries are no-ops, and each
refusal arrives with its status and reason."""

import httpx
import pytest
from eth_account import Account

from degen import telemetry
from degen.http import ServerThread
from degen.telemetry import MeterSample
from oracle.ingest import create_app
from oracle.rules import SiteRecord
from oracle.store import SampleStore

CHAIN_ID = 31337
REGISTRY = "0x" + "ab" * 20
METER = Account.from_key(b"\x11" * 32)
NOW = 1_800_000_000
SITES = {1: SiteRecord(METER.address, 6_000, True), 2: SiteRecord(METER.address, 6_000, False)}


@pytest.fixture
def api(engine):
    thread = ServerThread(
        create_app(SampleStore(engine), SITES.get, chain_id=CHAIN_ID, registry=REGISTRY, clock=lambda: NOW), "127.0.0.1", 0
    )
    port = thread.start()
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        yield client
    thread.stop()


def post(api, key=METER, raw=None, **changes):
    """Signs and posts a sample; `raw` overrides body fields after signing."""
    fields = dict(site_id=1, timestamp=NOW, pv_watts=3_000, register_wh=1_000_000, battery_soc_permille=600) | changes
    signature = telemetry.sign(MeterSample(**fields), key, CHAIN_ID, REGISTRY)
    return api.post("/samples", json=fields | {"signature": "0x" + signature.hex()} | (raw or {}))


def test_a_sample_is_stored_once_and_a_retry_is_harmless(api):
    assert post(api).status_code == 201
    again = post(api)
    assert again.status_code == 200 and again.json() == {"stored": False, "duplicate": True}
    conflict = post(api, pv_watts=3_001)
    assert conflict.status_code == 409 and "already has a different sample" in conflict.json()["detail"]
    assert post(api, timestamp=NOW + 30, register_wh=1_000_020).status_code == 201


@pytest.mark.parametrize(
    "changes, status, reason",
    [
        ({"site_id": 9}, 404, "site 9 is not registered"),
        ({"site_id": 2}, 403, "site 2 is not active"),
        ({"key": Account.from_key(b"\x22" * 32)}, 401, "not signed by site 1's meter key"),
        ({"raw": {"battery_soc_permille": 1_001}}, 422, "battery_soc_permille"),
        ({"raw": {"pv_watts": 2_999}}, 401, "not signed by site 1's meter key"),  # edited after signing
    ],
)
def test_refusals_carry_status_and_reason(api, changes, status, reason):
    response = post(api, **changes)
    assert response.status_code == status and reason in str(response.json()["detail"])


def test_a_malformed_signature_is_refused(api):
    response = api.post("/samples", json={"site_id": 1, "timestamp": NOW, "pv_watts": 1, "register_wh": 1,
                                          "battery_soc_permille": 1, "signature": "0x1234"})
    assert response.status_code == 422


def body(key=METER, **changes) -> dict:
    fields = dict(site_id=1, timestamp=NOW, pv_watts=3_000, register_wh=1_000_000, battery_soc_permille=600) | changes
    return fields | {"signature": "0x" + telemetry.sign(MeterSample(**fields), key, CHAIN_ID, REGISTRY).hex()}


def test_a_batch_is_answered_sample_by_sample_in_order(api):
    batch = [
        body(timestamp=NOW - 600),
        body(timestamp=NOW - 600),                                  # the same again
        body(timestamp=NOW - 300, register_wh=999_000),             # the register went backwards
        body(timestamp=NOW - 300, register_wh=1_000_200),
        body(timestamp=NOW, register_wh=1_000_250, site_id=9),      # unknown site
    ]
    response = api.post("/samples/batch", json={"samples": batch})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 200, 409, 201, 404]
    assert "went backwards" in results[2]["detail"] and "not registered" in results[4]["detail"]
    assert post(api, timestamp=NOW - 300, register_wh=1_000_200).status_code == 200  # stored by the batch
    metrics = api.get("/metrics").text
    assert 'degen_oracle_samples_total{status="201"} 2.0' in metrics
    assert 'degen_oracle_samples_total{status="200"} 2.0' in metrics and 'status="409"} 1.0' in metrics


def test_batches_are_bounded(api):
    assert api.post("/samples/batch", json={"samples": []}).status_code == 422
    too_many = [body(timestamp=NOW - i) for i in range(501)]
    assert api.post("/samples/batch", json={"samples": too_many}).status_code == 422
    assert 'degen_oracle_samples_total{status="422"} 2.0' in api.get("/metrics").text


def test_oversized_or_unsized_bodies_are_refused_before_parsing(api):
    huge = api.post("/samples/batch", content=b"{" + b" " * (300 * 1024) + b"}", headers={"Content-Type": "application/json"})
    assert huge.status_code == 413 and "over 262144 bytes" in huge.json()["detail"]
    chunked = api.post("/samples", content=iter([b'{"site_id": 1}']), headers={"Content-Type": "application/json"})
    assert chunked.status_code == 411
    assert post(api).status_code == 201  # the server is fine


def test_a_sites_newest_sample_is_public(api):
    assert api.get("/sites/1").status_code == 404
    post(api, timestamp=NOW - 300)
    post(api, timestamp=NOW, register_wh=1_000_100, battery_soc_permille=655)
    latest = api.get("/sites/1").json()["latest"]
    assert (latest["timestamp"], latest["battery_soc_permille"]) == (NOW, 655)
    assert api.get("/sites/0").status_code == 404 and api.get("/sites/abc").status_code == 422
