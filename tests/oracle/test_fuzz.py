"""The oracle's ingest API attacked through a real server on 127.0.0.1 with a real store:
arbitrary paths, methods, query strings, headers and bodies (non-finite numbers, huge and
negative integers, wrong types, deep nesting, invalid Unicode) and signature bytes, mixed
with genuinely signed samples. What must hold: never a 5xx, every refusal carries a reason,
the server stays up, and the store holds only samples that pass every rule — checked
independently afterwards."""

from __future__ import annotations

import json

import httpx
import pytest
from eth_account import Account
from hypothesis import HealthCheck, given, settings, strategies as st

from degen import eip712, telemetry
from degen.telemetry import MeterSample
from oracle import rules
from oracle.ingest import serving
from oracle.rules import SiteRecord
from oracle.sites import SiteDirectory
from oracle.store import SampleStore, engine_for
from tests.strategies import json_values

CHAIN_ID, REGISTRY = 31337, "0x" + "ab" * 20
METER = Account.from_key(b"\x11" * 32)
NOW = 1_800_000_000
SITES = {1: SiteRecord(METER.address, 6_000, True, 13_500), 2: SiteRecord(METER.address, 6_000, False, 13_500)}
FUZZ = settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)


@st.composite
def signatures(draw, genuine: str) -> str:
    """A genuine signature, a mutation of it (bit flips, high-s twin, odd v) or arbitrary text."""
    raw = bytearray(bytes.fromhex(genuine[2:]))
    kind = draw(st.sampled_from(["genuine", "flip", "twin", "v", "random", "text"]))
    if kind == "flip":
        raw[draw(st.integers(0, 64))] ^= 1 << draw(st.integers(0, 7))
    elif kind == "twin":
        s = int.from_bytes(raw[32:64], "big")
        raw[32:64], raw[64] = (eip712.SECP256K1_N - s).to_bytes(32, "big"), 55 - raw[64]
    elif kind == "v":
        raw[64] = draw(st.sampled_from([0, 1, 26, 29, 254, 255]))
    elif kind == "random":
        raw = bytearray(draw(st.binary(min_size=65, max_size=65)))
    elif kind == "text":
        return draw(st.text(max_size=140))
    return "0x" + bytes(raw).hex()


@st.composite
def sample_bodies(draw) -> dict:
    """Sample-shaped bodies: signed by the meter over plausible fields, then possibly edited."""
    fields = dict(
        site_id=draw(st.sampled_from([1, 1, 1, 2, 3])),
        timestamp=NOW - 300 * draw(st.integers(0, 40)),
        pv_watts=draw(st.integers(0, 7_000)),
        register_wh=1_000_000 + draw(st.integers(0, 20_000)),
        battery_soc_permille=draw(st.integers(0, 1_000)),
    )
    signature = "0x" + telemetry.sign(MeterSample(**fields), METER, CHAIN_ID, REGISTRY).hex()
    body = fields | {"signature": draw(signatures(signature))}
    if draw(st.booleans()):  # edit a field after signing, to anything
        body[draw(st.sampled_from([*fields, "signature", "extra"]))] = draw(json_values)
    return body


def encoded(document) -> bytes:
    """JSON as a careless or hostile client writes it: NaN and Infinity tokens allowed, and
    now and then a lone surrogate or a broken byte."""
    text = json.dumps(document, allow_nan=True)
    return text.encode("utf-8", "surrogatepass")


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    engine = engine_for(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'oracle.sqlite'}")
    with serving(SampleStore(engine), SiteDirectory.of(SITES), chain_id=CHAIN_ID, registry=REGISTRY, clock=lambda: NOW) as (url, _):
        with httpx.Client(base_url=url, timeout=30) as client:
            yield client, SampleStore(engine)
    engine.dispose()


def assert_answered(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    if response.status_code >= 400:
        detail = response.json()["detail"]
        assert isinstance(detail, str) and detail.strip(), response.text[:300]


@FUZZ
@given(body=sample_bodies())
def test_sample_bodies(api, body):
    client, _ = api
    assert_answered(client.post("/samples", content=encoded(body), headers={"Content-Type": "application/json"}))


@FUZZ
@given(bodies=st.lists(sample_bodies() | json_values, min_size=1, max_size=8) | json_values)
def test_batches(api, bodies):
    client, _ = api
    document = {"samples": bodies} if isinstance(bodies, list) else bodies
    response = client.post("/samples/batch", content=encoded(document), headers={"Content-Type": "application/json"})
    assert_answered(response)
    if response.status_code == 200:
        for result in response.json()["results"]:
            assert result["status"] < 500 and result["detail"]


@FUZZ
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
    path=st.sampled_from(["/samples", "/samples/batch", "/sites/", "/health", "/metrics", "/", "/openapi.json", "/docs"])
    | st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=40).map(lambda text: "/" + text),
    suffix=st.sampled_from(["", "1", "0", "-5", str(2**63), str(2**256), "abc", "%00", "%ff", "../etc"]),
    params=st.dictionaries(st.text(max_size=8), st.text(max_size=16), max_size=3),
    headers=st.dictionaries(st.from_regex(r"\AX-[A-Za-z]{1,10}\Z"), st.from_regex(r"\A[!-~]([ -~]{0,28}[!-~])?\Z"), max_size=3),
    content=st.binary(max_size=300) | json_values.map(encoded),
)
def test_any_request(api, method, path, suffix, params, headers, content):
    client, _ = api
    body = content if method in ("POST", "PUT", "PATCH") else None
    response = client.request(method, path + suffix, params=params, headers=headers, content=body)
    assert response.status_code < 500, (method, path + suffix, response.status_code, response.text[:300])


def test_after_the_fuzz_the_store_holds_only_valid_samples_and_the_api_still_works(api):
    """Runs after the fuzz tests of this module: every stored sample is independently
    re-checked — canonical signature by the site's meter, and every rule against the sample
    before it."""
    client, store = api
    stored = 0
    for site_id in store.site_ids():
        previous = None
        for sample, signature in store.between(site_id, 0, 2**62):
            signer = eip712.recover_digest(telemetry.digest(sample, CHAIN_ID, REGISTRY), signature)
            site = rules.check_site(site_id, SITES.get(site_id))
            rules.check(sample, signer, site, previous, now=NOW)
            previous, stored = sample, stored + 1
    assert stored > 0, "the fuzz stored no genuine sample: it did not exercise the accepting path"
    assert client.get("/health").status_code == 200
    metrics = client.get("/metrics").text
    assert 'status="500"' not in metrics and "degen_oracle_http_errors_total{status=\"5" not in metrics
