"""The oracle's HTTP API: `POST /samples` takes a site's signed meter sample (and
`POST /samples/batch` up to 500 of them); `GET /sites/{id}` shows a site's newest sample,
`GET /sites/{id}/samples?since=&until=` its samples over a window (the last day by default);
`/health` and `/metrics` (Prometheus) show the daemon. No OpenAPI schema is served: the API
is documented in docs/oracle.md.

201 stored; 200 when the very same sample was stored before (site agents may retry); 409 for
a different sample at a stored timestamp; every other refusal is the status and reason of
`oracle.rules`, 401 for a signature the contracts would not accept, 422 for a malformed body.

`POST /samples` is a raw ASGI handler in front of a plain Starlette app for the rest: the
body is parsed and validated in one pass (pydantic-core, strict JSON: no NaN, no lone surrogates, integers only), the site comes
from the `SiteDirectory` (read from the chain in a thread, never on the event loop), and an
accepted sample is answered only once the group commit has made it durable."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from degen import eip712, telemetry
from degen.errors import InvalidSignature, describe
from degen.http import BodyLimit, ServerThread, internal_error, json_errors, read_body, send_json
from degen.telemetry import MeterSample
from oracle import rules
from oracle.metrics import OracleMetrics
from oracle.rules import SiteRecord
from oracle.sites import SiteDirectory
from oracle.store import GroupCommit, SampleStore

MAX_BATCH = 500
MAX_BODY_BYTES = 256 * 1024  # a full batch is about 120 kB
MAX_HISTORY = 2_000  # samples one `GET /sites/{id}/samples` answers (a day of 5-minute samples is 288)


class SignedSample(MeterSample):
    """The request body: a MeterSample's fields and the meter key's 65-byte signature, as
    0x-hex. Strict: JSON integers only, no other keys."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$")

    def sample(self) -> MeterSample:
        return MeterSample.model_construct(**self.model_dump(exclude={"signature"}))  # validated already


class SampleBatch(BaseModel):
    """`POST /samples/batch`: many samples in one request (a site agent's backlog after an
    outage), each checked and answered exactly as `POST /samples` would — a malformed one
    included (422 in its place), so one bad sample never holds up the others."""

    model_config = ConfigDict(strict=True, extra="forbid")

    samples: list[Any] = Field(min_length=1, max_length=MAX_BATCH)


class Ingest:
    """What `POST /samples` does with a body, without HTTP: check it against the site and the
    site's previous sample, and hand it to the group commit. One ingest process writes a
    store: it keeps each site's newest sample (and the commit it waits for) in memory."""

    def __init__(self, store: SampleStore, *, chain_id: int, registry: str, clock: Callable[[], float] = time.time):
        self.store, self.chain_id, self.registry, self.clock = store, chain_id, registry, clock
        self.writer = GroupCommit(store)
        self._one_at_a_time = threading.Lock()  # a site's samples are checked against the one before
        self._newest: dict[int, tuple[MeterSample, bytes, Future]] = {}

    def submit(self, body: SignedSample, site: SiteRecord | None) -> tuple[bool, Future]:
        """(new?, a future that completes once the sample is durable) for a body from a site
        whose registry record is `site`; raises SampleRejected with the status and reason of
        every refusal. A retry of a sample still being committed shares its future."""
        site = rules.check_site(body.site_id, site)
        sample, signature = body.sample(), bytes.fromhex(body.signature[2:])
        try:
            signer = "0x" + eip712.signer_address(telemetry.digest(sample, self.chain_id, self.registry), signature).hex()
        except InvalidSignature as exc:
            raise rules.SampleRejected(401, str(exc)) from None
        with self._one_at_a_time:
            newest = self._newest_of(sample.site_id)
            previous = None if newest is None else newest[0]
            if previous is not None and sample.timestamp <= previous.timestamp:
                if (sample, signature) == newest[:2]:
                    return False, newest[2]
                stored = self.store.get(sample.site_id, sample.timestamp) if sample.timestamp < previous.timestamp else None
                if stored == (sample, signature):
                    return False, _done(False)
                if stored is not None or sample.timestamp == previous.timestamp:
                    raise rules.SampleRejected(409, f"site {sample.site_id} already has a different sample at {sample.timestamp}")
            rules.check(sample, signer, site, previous, now=int(self.clock()))
            durable = self.writer.submit(sample, signature, signer)
            self._newest[sample.site_id] = (sample, signature, durable)
        durable.add_done_callback(lambda done: self._forget_if_lost(sample.site_id, done))
        return True, durable

    def __call__(self, body: SignedSample, site: SiteRecord | None) -> bool:
        """`submit`, waiting until the sample is durable (for callers without an event loop)."""
        stored, durable = self.submit(body, site)
        durable.result()
        return stored

    def _newest_of(self, site_id: int) -> tuple[MeterSample, bytes, Future] | None:
        """The site's newest stored sample, read from the store once and then kept: this
        process is the store's only writer, so a new sample needs no read at all."""
        if site_id not in self._newest:
            found = self.store.latest(site_id)
            self._newest[site_id] = None if found is None else (*found, _done(False))
        return self._newest[site_id]

    def _forget_if_lost(self, site_id: int, durable: Future) -> None:
        """A commit that failed leaves the memory ahead of the store: read it again next time."""
        if durable.exception() is not None:
            with self._one_at_a_time:
                self._newest.pop(site_id, None)

    def close(self) -> None:
        self.writer.close()


def _done(result) -> Future:
    done = Future()
    done.set_result(result)
    return done


STORED = (201, "stored")
DUPLICATE = (200, "duplicate")
ANSWERS = {201: b'{"stored":true,"duplicate":false}', 200: b'{"stored":false,"duplicate":true}'}


def _site_id(request) -> int:
    """The path's site id: a whole number (422 otherwise, as for a malformed id in a body); 404
    for one past what the store holds (64-bit: no such site reported anything)."""
    from starlette.exceptions import HTTPException

    text = request.path_params["site_id"]
    if not (text.isascii() and text.isdigit()):
        raise HTTPException(422, f"a site id is a whole number, not {text[:20]!r}")
    if len(text) > 19 or int(text) >= 2**63:
        raise HTTPException(404, f"site {text[:80]} has reported no samples")
    return int(text)


def create_app(ingest: Ingest, sites: SiteDirectory, *, health: Callable[[], dict] = lambda: {"status": "ok"},
               metrics: OracleMetrics | None = None, committee=None):
    """The API over `ingest` (its owner closes it) and the registry's `sites`: `POST
    /samples` handled directly, everything else by a plain Starlette app; with `committee`
    (an `oracle.committee.Member`), the routes where the other members send their signatures
    and anyone reads what this member holds of a site's or a job's reports."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    metrics = metrics or OracleMetrics()
    store = ingest.store

    def counted(request: Request, status: int) -> None:
        metrics.http_errors.labels(status=str(status)).inc()
        if request.url.path.startswith("/samples"):
            metrics.samples.labels(status=str(status)).inc()

    # Plain functions run in Starlette's thread pool: their database reads never hold up the
    # event loop that takes samples.
    def healthz(request: Request):
        return JSONResponse(health())

    def metrics_page(request: Request):
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    def site_state(request: Request):
        """A site's newest accepted sample (what `degen offers --oracle` shows as its battery)."""
        site_id = _site_id(request)
        latest = store.latest(site_id)
        if latest is None:
            raise HTTPException(404, f"site {site_id} has reported no samples")
        return JSONResponse({"site_id": site_id, "latest": latest[0].model_dump()})

    def site_samples(request: Request):
        """A site's accepted samples over a window (`since`, `until`: unix seconds; default the
        last day), oldest first, at most MAX_HISTORY, each with its meter signature: what the
        web page charts, and what another committee member copies (and checks) to catch up."""
        site_id = _site_id(request)
        now = int(time.time())
        try:
            until = int(request.query_params.get("until", now))
            since = int(request.query_params.get("since", until - 86_400))
        except ValueError:
            raise HTTPException(422, "since and until are unix times in seconds") from None
        if not 0 <= since <= until < 2**63:
            raise HTTPException(422, "since and until must satisfy 0 <= since <= until < 2^63")
        found = store.between(site_id, since, until)[-MAX_HISTORY:]
        return JSONResponse({"site_id": site_id, "since": since, "until": until,
                             "samples": [telemetry.body(sample, signature) for sample, signature in found]})

    async def site_of(site_id: int) -> SiteRecord | None:
        known, record = sites.cached(site_id)
        return record if known else await run_in_threadpool(sites.lookup, site_id)

    async def check_item(item) -> tuple[int, str, Future | None]:
        try:
            body = SignedSample.model_validate(item)
        except ValidationError as exc:
            return 422, describe(exc.errors(include_input=False, include_url=False), whole="sample"), None
        return await check(body)

    async def check(body: SignedSample) -> tuple[int, str, Future | None]:
        """(status, reason, the commit to wait for) for one body."""
        try:
            stored, durable = ingest.submit(body, await site_of(body.site_id))
        except rules.SampleRejected as exc:
            return exc.status, exc.reason, None
        return (*(STORED if stored else DUPLICATE), durable)

    async def durable(commit: Future | None) -> tuple[int, str] | None:
        """None once the commit is on disk; (503, reason) if the store failed it."""
        if commit is None:
            return None
        try:
            await asyncio.wrap_future(commit)
        except Exception as exc:  # noqa: BLE001 - a failed write is reported to the client, never raised
            return 503, f"the sample could not be stored ({type(exc).__name__}); retry later"
        return None

    def answer(status: int, detail: str) -> tuple[int, bytes]:
        """(status, JSON body) of a sample's answer, counted."""
        metrics.samples.labels(status=str(status)).inc()
        if status == 422 or status >= 500:
            metrics.http_errors.labels(status=str(status)).inc()
        return status, ANSWERS[status] if status in ANSWERS else json.dumps({"detail": detail}).encode()

    async def sample_answer(body: bytes) -> tuple[int, bytes]:
        """What `POST /samples` answers to a body."""
        try:
            sample = SignedSample.model_validate_json(body)
        except ValidationError as exc:
            return answer(422, describe(exc.errors(include_input=False, include_url=False), whole="body"))
        status, detail, commit = await check(sample)
        failed = await durable(commit)
        return answer(*(failed or (status, detail)))

    async def post_sample_directly(receive, send) -> None:
        """`POST /samples` as a raw ASGI handler: the hot path of ingest, which the
        framework's routing, middleware and request objects would cost about a fifth more."""
        try:
            body = await read_body(receive)
            if body is not None:
                await send_json(send, *await sample_answer(body))
        except Exception as exc:  # noqa: BLE001 - answered 500 with a reason, as json_errors does elsewhere
            await send_json(send, *answer(500, internal_error(exc, "/samples")))

    async def post_batch(request: Request):
        """200 with one result per sample, in order: the status `POST /samples` would have
        answered and, for a refusal, its reason; sent once every stored sample is durable."""
        try:
            batch = SampleBatch.model_validate_json(await request.body())
        except ValidationError as exc:
            status, answered = answer(422, describe(exc.errors(include_input=False, include_url=False), whole="body"))
            return Response(answered, status_code=status, media_type="application/json")
        checked = [await check_item(item) for item in batch.samples]
        results = []
        for status, detail, commit in checked:
            status, detail = await durable(commit) or (status, detail)
            metrics.samples.labels(status=str(status)).inc()
            results.append({"status": status, "detail": detail})
        return JSONResponse({"results": results})

    async def committee_signature(request: Request):
        """A member's signature over a report: kept (201; 200 a retry) or refused with why.
        The check reads the committee from the chain: it runs in the thread pool."""
        from oracle.committee import MAX_REPORT_BYTES, ReportRefused

        body = await request.body()
        if len(body) > MAX_REPORT_BYTES:
            raise HTTPException(413, f"a report is at most {MAX_REPORT_BYTES} bytes")
        try:
            document = json.loads(body)
            if not isinstance(document, dict):
                raise ValueError("a JSON object")
            status, detail = await run_in_threadpool(committee.receive, document.get("kind"), document.get("message"),
                                                     document.get("signature"))
        except ReportRefused as exc:
            metrics.signatures_received.labels(status=str(exc.status)).inc()
            raise HTTPException(exc.status, exc.reason) from None
        except (ValueError, TypeError) as exc:
            raise HTTPException(422, f"the body must be {{kind, message, signature}}: {str(exc)[:200]}") from None
        metrics.signatures_received.labels(status=str(status)).inc()
        return JSONResponse({"detail": detail}, status_code=status)

    def committee_reports(request: Request):
        """The reports of a `kind` (site, verdict, issuance) about a `subject` (site id, job id,
        first site of a batch) this member holds, with their signers."""
        kind = request.query_params.get("kind", "")
        try:
            subject = int(request.query_params.get("subject", ""))
        except ValueError:
            raise HTTPException(422, "subject must be an integer (a site or job id)") from None
        if kind not in ("issuance", "site", "verdict") or not 0 < subject < 2**63:
            raise HTTPException(422, "kind is issuance, site or verdict; subject a site or job id")
        return JSONResponse({"kind": kind, "subject": subject, "reports": committee.attestations(kind, subject)})

    routes = [
        Route("/health", healthz),
        Route("/metrics", metrics_page),
        Route("/sites/{site_id}", site_state),
        Route("/sites/{site_id}/samples", site_samples),
        Route("/samples/batch", post_batch, methods=["POST"]),
    ]
    if committee is not None:
        routes += [Route("/committee/signatures", committee_signature, methods=["POST"]),
                   Route("/committee/reports", committee_reports)]
    app = Starlette(routes=routes)
    json_errors(app, counted)

    async def route(scope, receive, send):
        if scope["type"] == "http" and scope["path"] == "/samples":
            if scope["method"] == "POST":
                return await post_sample_directly(receive, send)
            return await send_json(send, 405, b'{"detail":"Method Not Allowed"}', headers=[(b"allow", b"POST")])
        await app(scope, receive, send)

    return BodyLimit(route, MAX_BODY_BYTES)


@contextmanager
def serving(store: SampleStore, sites: SiteDirectory, *, chain_id: int, registry: str, host: str = "127.0.0.1",
            port: int = 0, clock: Callable[[], float] = time.time, **app_options):
    """The API over `store` in a thread of this process (`port` 0: a free one) until the
    block ends; yields (its URL, the Ingest). Stops the server, then the sample writer."""
    ingest = Ingest(store, chain_id=chain_id, registry=registry, clock=clock)
    server = ServerThread(create_app(ingest, sites, **app_options), host, port)
    try:
        yield f"http://{host}:{server.start()}", ingest
    finally:
        server.stop()
        ingest.close()
