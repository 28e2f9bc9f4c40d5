"""The oracle's HTTP API: `POST /samples` takes a site's signed meter sample (and
`POST /samples/batch` up to 500 of them); `GET /sites/{id}` shows a site's newest sample;
`/health` and `/metrics` (Prometheus) show the daemon.

201 stored; 200 when the very same sample was stored before (site agents may retry); 409 for
a different sample at a stored timestamp; every other refusal is the status and reason of
`oracle.rules`, and 422 for a malformed body."""

from __future__ import annotations

import threading
import time
from typing import Callable

from pydantic import BaseModel, Field

from degen import telemetry
from degen.http import BodyLimit
from degen.errors import InvalidInput
from degen.telemetry import MeterSample
from oracle import rules
from oracle.metrics import OracleMetrics
from oracle.rules import SiteRecord
from oracle.store import SampleStore

class SignedSample(BaseModel):
    """The request body: a MeterSample's fields and the meter key's 65-byte signature."""

    site_id: int
    timestamp: int
    pv_watts: int
    register_wh: int
    battery_soc_permille: int
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$")


MAX_BATCH = 500
MAX_BODY_BYTES = 256 * 1024  # a full batch is about 120 kB


class SampleBatch(BaseModel):
    """`POST /samples/batch`: many samples in one request (a site agent's backlog after an
    outage), each checked and answered exactly as `POST /samples` would."""

    samples: list[SignedSample] = Field(min_length=1, max_length=MAX_BATCH)


SiteLookup = Callable[[int], "SiteRecord | None"]  # site id -> the registry's record, None if unknown


class Ingest:
    """What `POST /samples` does with a body, without HTTP: check it and store it once.
    One ingest process writes a store (it keeps each site's newest sample in memory)."""

    def __init__(self, store: SampleStore, sites: SiteLookup, *, chain_id: int, registry: str, clock: Callable[[], float] = time.time):
        self.store, self.sites, self.chain_id, self.registry, self.clock = store, sites, chain_id, registry, clock
        self._one_at_a_time = threading.Lock()  # a site's samples are checked against the one before
        self._latest_by_site: dict[int, MeterSample | None] = {}

    def __call__(self, body: SignedSample) -> bool:
        """True when stored, False for the very same sample again; raises SampleRejected with
        the status and reason of every refusal."""
        try:
            sample = MeterSample(**body.model_dump(exclude={"signature"}))
        except InvalidInput as exc:
            raise rules.SampleRejected(422, str(exc)) from None
        signature = bytes.fromhex(body.signature[2:])
        try:
            signer = telemetry.signer_of(sample, signature, self.chain_id, self.registry)
        except InvalidInput as exc:
            raise rules.SampleRejected(401, str(exc)) from None
        with self._one_at_a_time:
            previous = self._latest(sample.site_id)
            if previous is not None and sample.timestamp <= previous.timestamp:  # a retry, or out of order
                stored = self.store.get(sample.site_id, sample.timestamp)
                if stored is not None:
                    if stored == (sample, signature):
                        return False
                    raise rules.SampleRejected(409, f"site {sample.site_id} already has a different sample at {sample.timestamp}")
            rules.check(sample, signer, self.sites(sample.site_id), previous, now=int(self.clock()))
            self.store.add(sample, signature, signer)
            self._latest_by_site[sample.site_id] = sample
        return True

    def _latest(self, site_id: int) -> MeterSample | None:
        """The site's newest stored sample, read from the store once and then kept: this
        process is the store's only writer, so a new sample needs no read at all."""
        if site_id not in self._latest_by_site:
            self._latest_by_site[site_id] = self.store.latest(site_id)
        return self._latest_by_site[site_id]


def create_app(
    store: SampleStore, sites: SiteLookup, *, chain_id: int, registry: str, clock: Callable[[], float] = time.time,
    health: Callable[[], dict] = lambda: {"status": "ok"}, metrics: OracleMetrics | None = None,
):
    from fastapi import FastAPI, HTTPException, Request, Response
    from fastapi.exception_handlers import request_validation_exception_handler
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    metrics = metrics or OracleMetrics()
    accept = Ingest(store, sites, chain_id=chain_id, registry=registry, clock=clock)
    app = FastAPI(title="DeGEN oracle", docs_url=None, redoc_url=None)

    @app.get("/health")
    def healthz():
        return health()

    @app.get("/metrics")
    def metrics_page():
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/sites/{site_id}")
    def site_state(site_id: int):
        """A site's newest accepted sample (what `degen offers --oracle` shows as its battery)."""
        latest = store.latest(site_id) if 0 < site_id < 2**63 else None
        if latest is None:
            raise HTTPException(404, f"site {site_id} has reported no samples")
        return {"site_id": site_id, "latest": latest.model_dump()}

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError):
        metrics.samples.labels(status="422").inc()
        return await request_validation_exception_handler(request, exc)

    @app.post("/samples", status_code=201)
    async def ingest(body: SignedSample):
        """Runs on the event loop, not a thread pool: a check is a fraction of a millisecond,
        and the threads' hand-offs cost more than it does."""
        try:
            stored = accept(body)
        except rules.SampleRejected as exc:
            metrics.samples.labels(status=str(exc.status)).inc()
            raise HTTPException(exc.status, exc.reason) from None
        metrics.samples.labels(status="201" if stored else "200").inc()
        if not stored:
            return JSONResponse({"stored": False, "duplicate": True}, status_code=200)
        return {"stored": True, "duplicate": False}

    @app.post("/samples/batch")
    async def ingest_batch(batch: SampleBatch):
        """200 with one result per sample, in order: the status `POST /samples` would have
        answered and, for a refusal, its reason."""
        results = []
        for body in batch.samples:
            try:
                status, detail = (201, "stored") if accept(body) else (200, "duplicate")
            except rules.SampleRejected as exc:
                status, detail = exc.status, exc.reason
            metrics.samples.labels(status=str(status)).inc()
            results.append({"status": status, "detail": detail})
        return {"results": results}

    return BodyLimit(app, MAX_BODY_BYTES)
