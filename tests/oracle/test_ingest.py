"""The telemetry ingest API on a real socket: stored once, retries are no-ops, and each
refusal arrives with its status and reason."""

import httpx
import pytest
from eth_account import Account

from degen import eip712, telemetry
from degen.telemetry import MeterSample
from oracle.ingest import serving
from oracle.rules import SiteRecord
from oracle.sites import SiteDirectory
from oracle.store import SampleStore

CHAIN_ID = 31337
REGISTRY = "0x" + "ab" * 20
METER = Account.from_key(b"\x11" * 32)
NOW = 1_800_000_000
SITES = {1: SiteRecord(METER.address, 6_000, True, 13_500), 2: SiteRecord(METER.address, 6_000, False, 13_500)}


@pytest.fixture
def api(engine):
    with serving(SampleStore(engine), SiteDirectory.of(SITES), chain_id=CHAIN_ID, registry=REGISTRY, clock=lambda: NOW) as (url, _):
        with httpx.Client(base_url=url, timeout=10) as client:
            yield client


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
    assert api.get("/sites/0").status_code == 404 and api.get(f"/sites/{2**256}").status_code == 404
    for malformed in ("abc", "-1", "1.5", "%C2%B2"):  # a malformed id is 422, as in a body
        refused = api.get(f"/sites/{malformed}")
        assert refused.status_code == 422 and "a site id is a whole number" in refused.json()["detail"], malformed
        assert api.get(f"/sites/{malformed}/samples").status_code == 422


def raw(api, content: bytes, path: str = "/samples"):
    return api.post(path, content=content, headers={"Content-Type": "application/json"})


def signed_body(**fields) -> dict:
    """A body signed by the meter over fields the SDK model may refuse (built unvalidated; a
    site id EIP-712 cannot encode carries the signature of site 1's sample)."""
    defaults = dict(site_id=1, timestamp=NOW, pv_watts=3_000, register_wh=1_000_000, battery_soc_permille=600)
    sample = MeterSample.model_construct(**(defaults | fields))
    signable = sample if sample.site_id < 2**256 else MeterSample.model_construct(**defaults)
    return sample.model_dump() | {"signature": "0x" + telemetry.sign(signable, METER, CHAIN_ID, REGISTRY).hex()}


@pytest.mark.parametrize("fields, status, reason", [
    ({"site_id": 2**63}, 404, f"site {2**63} is not registered"),
    ({"site_id": 2**64}, 404, "is not registered"),
    ({"site_id": 2**256 - 1}, 404, "is not registered"),
    ({"site_id": 2**256}, 422, "site_id: Input should be less than or equal to"),
    ({"register_wh": 2**63}, 422, "register_wh: Input should be less than or equal to 9223372036854775807"),
    ({"register_wh": 2**64 - 1}, 422, "register_wh"),
    ({"timestamp": 2**64 - 1}, 422, "in the future"),
])
def test_numbers_beyond_the_store_are_refused_with_a_reason(api, fields, status, reason):
    response = api.post("/samples", json=signed_body(**fields))
    assert response.status_code == status and reason in response.json()["detail"]
    assert post(api).status_code == 201  # the API is fine


@pytest.mark.parametrize("signature, reason", [
    ("0x" + "00" * 65, "r is outside"),
    ("0x" + "ff" * 65, "r is outside"),
    ("0x" + "11" * 64 + "00", "v is 0"),
])
def test_signatures_the_contracts_refuse_are_unauthorized(api, signature, reason):
    response = post(api, raw={"signature": signature})
    assert response.status_code == 401 and reason in response.json()["detail"]


def test_the_high_s_twin_of_a_sample_cannot_block_it(api):
    genuine = body()
    r, s, v = (int(genuine["signature"][2:66], 16), int(genuine["signature"][66:130], 16), int(genuine["signature"][130:], 16))
    twin = genuine | {"signature": "0x" + r.to_bytes(32, "big").hex() + (eip712.SECP256K1_N - s).to_bytes(32, "big").hex()
                      + bytes([55 - v]).hex()}
    refused = api.post("/samples", json=twin)
    assert refused.status_code == 401 and "lower half" in refused.json()["detail"]
    assert api.post("/samples", json=genuine).status_code == 201


@pytest.mark.parametrize("content", [
    b'{"site_id": NaN, "timestamp": 1, "pv_watts": 1, "register_wh": 1, "battery_soc_permille": 1, "signature": "0x"}',
    b'{"site_id": Infinity}',
    b'{"site_id": 1e999}',
    b'{"site_id": 1, "signature": "\\ud800"}',
    '{"site_id": 1, "signature": "\ud800"}'.encode("utf-8", "surrogatepass"),
    b'\xff\xfe{',
    b'[' * 5_000 + b']' * 5_000,
    b'{"site_id": true}',
    b'{"site_id": 1.0}',
    b'',
])
def test_malformed_json_is_a_422_with_a_reason_never_a_500(api, content):
    for path in ("/samples", "/samples/batch"):
        response = raw(api, content, path)
        assert response.status_code == 422 and response.json()["detail"]
    metrics = api.get("/metrics").text
    assert 'status="500"' not in metrics and 'degen_oracle_http_errors_total{status="422"}' in metrics


def test_one_malformed_sample_in_a_batch_is_answered_in_its_place(api):
    response = api.post("/samples/batch", json={"samples": [body(timestamp=NOW - 300), {"site_id": 2**256}, "text", body()]})
    assert response.status_code == 200
    statuses = [result["status"] for result in response.json()["results"]]
    assert statuses == [201, 422, 422, 201]


def test_no_api_schema_is_served(api):
    assert api.get("/openapi.json").status_code == 404 and api.get("/docs").status_code == 404


def test_the_sample_route_takes_only_posts(api):
    refused = api.get("/samples")
    assert refused.status_code == 405 and refused.headers["allow"] == "POST"
    assert refused.json() == {"detail": "Method Not Allowed"}
