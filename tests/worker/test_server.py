"""The result server on a real socket: only the job's requester, with a live signature over
(job id, expiry) for this chain and market, gets the PNG; health and metrics are served."""

import hashlib
import time

import httpx
import pytest
from eth_account import Account
from hypothesis import HealthCheck, given, settings, strategies as st

from degen import downloads
from worker.metrics import WorkerMetrics
from worker.results import ResultStore
from degen.http import ServerThread
from tests.sdk.test_signatures import high_s_twin
from worker.server import Result, create_app

CHAIN_ID = 31337
MARKET = "0x" + "ab" * 20
REQUESTER = Account.from_key(b"\x21" * 32)
STRANGER = Account.from_key(b"\x22" * 32)
PNG = b"\x89PNG\r\n\x1a\n" + b"result" * 10


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    store = ResultStore(tmp_path_factory.mktemp("worker"))
    stored = store.put(PNG)
    results = {7: Result(REQUESTER.address, stored.sha256, stored.cid)}
    metrics = WorkerMetrics()
    metrics.jobs.labels(step="delivered").inc(3)
    app = create_app(
        results.get, store.get, chain_id=CHAIN_ID, market=MARKET, metrics_registry=metrics.registry,
        health=lambda: {"status": "ok", "processed_block": 12},
    )
    thread = ServerThread(app, "127.0.0.1", 0)
    port = thread.start()
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        yield client
    thread.stop()


def download(client, job_id=7, key=REQUESTER, expiry=None, chain_id=CHAIN_ID, market=MARKET, signature=None):
    expiry = expiry if expiry is not None else int(time.time()) + 300
    signature = signature or "0x" + downloads.sign(key, job_id, expiry, chain_id, market).hex()
    return client.get(f"/results/{job_id}", params={"expiry": expiry, "signature": signature})


def test_the_requester_downloads_the_png(server):
    response = download(server)
    assert response.status_code == 200 and response.content == PNG
    assert response.headers["content-type"] == "image/png"
    assert response.headers["etag"] == f'"{hashlib.sha256(PNG).hexdigest()}"'
    assert response.headers["x-result-cid"].startswith("bafkrei")


def test_anyone_else_is_forbidden(server):
    assert download(server, key=STRANGER).status_code == 403
    assert download(server, market="0x" + "cd" * 20).status_code == 403  # signed for another market
    assert download(server, chain_id=1).status_code == 403


@pytest.mark.parametrize(
    "kwargs",
    [
        {"expiry": 1_000},  # expired long ago
        {"expiry": int(time.time()) + 2 * downloads.MAX_VALIDITY},  # reaches too far ahead
        {"signature": "0x" + "00" * 65},
        {"signature": "0xnot-hex"},
    ],
)
def test_expired_or_malformed_permissions_are_unauthorized(server, kwargs):
    assert download(server, **kwargs).status_code == 401


def test_only_the_canonical_encoding_of_the_requesters_own_signature_is_accepted(server):
    """The high-s twin recovers the requester too, but the contracts would refuse it: so does the worker."""
    expiry = int(time.time()) + 300
    genuine = downloads.sign(REQUESTER, 7, expiry, CHAIN_ID, MARKET)
    twin = download(server, expiry=expiry, signature="0x" + high_s_twin(genuine).hex())
    assert twin.status_code == 401 and "high-s" in twin.json()["detail"]
    v_off_by_27 = download(server, expiry=expiry, signature="0x" + (genuine[:64] + bytes([genuine[64] - 27])).hex())
    assert v_off_by_27.status_code == 401 and "not 27 or 28" in v_off_by_27.json()["detail"]
    assert download(server, expiry=expiry, signature="0x" + genuine.hex()).status_code == 200


def test_a_missing_permission_is_unauthorized(server):
    response = server.get("/results/7")
    assert response.status_code == 401 and "signature" in response.json()["detail"]


def test_unknown_jobs_are_not_found(server):
    assert download(server, job_id=8).status_code == 404


def test_health_and_metrics(server):
    assert server.get("/health").json() == {"status": "ok", "processed_block": 12}
    metrics = server.get("/metrics")
    assert metrics.status_code == 200 and 'degen_worker_jobs_total{step="delivered"} 3.0' in metrics.text


@pytest.mark.parametrize("job_id", [2**63, 2**64, 2**256 - 1, 10**60])
def test_job_ids_no_journal_holds_are_not_found(server, job_id):
    assert download(server, job_id=job_id).status_code == 404
    assert server.get(f"/receipts/{job_id}").status_code == 404


@pytest.mark.parametrize("job_id", ["0", str(2**256), str(-10**30), "abc", "1e3"])
def test_job_ids_outside_the_markets_range_are_refused_with_the_reason(server, job_id):
    for path in (f"/results/{job_id}", f"/receipts/{job_id}"):
        response = server.get(path)
        assert response.status_code == 422 and response.json()["detail"].startswith("path.job_id: ")


def test_no_api_schema_is_served(server):
    assert server.get("/openapi.json").status_code == 404 and server.get("/docs").status_code == 404


@settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)
@given(
    method=st.sampled_from(["GET", "POST", "HEAD", "OPTIONS", "DELETE"]),
    path=st.sampled_from(["/results/", "/receipts/", "/health", "/metrics", "/", "/openapi.json"])
    | st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=30).map(lambda text: "/" + text),
    job=st.sampled_from(["", "7", "8", "0", "-1", str(2**63), str(2**64), str(2**256), str(10**80), "abc", "%ff", "7/x"]),
    expiry=st.none() | st.sampled_from([-1, 0, 2**63, 2**64, 10**30]).map(str) | st.integers().map(str) | st.text(max_size=12),
    signature=st.none() | st.binary(max_size=70).map(lambda raw: "0x" + raw.hex()) | st.text(max_size=150),
    headers=st.dictionaries(st.from_regex(r"\AX-[A-Za-z]{1,10}\Z"), st.from_regex(r"\A[!-~]{1,30}\Z"), max_size=3),
)
def test_any_request_is_answered_with_a_reason_never_a_server_error(server, method, path, job, expiry, signature, headers):
    params = {key: value for key, value in (("expiry", expiry), ("signature", signature)) if value is not None}
    response = server.request(method, path + job, params=params, headers=headers)
    assert response.status_code < 500, (method, path + job, params, response.status_code, response.text[:300])
    if response.status_code >= 400 and method != "HEAD":
        assert response.json()["detail"]
    assert server.get("/health").status_code == 200
