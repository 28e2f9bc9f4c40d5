"""The worker's HTTP endpoint: results for their requesters, health, and metrics.

`GET /results/{job_id}?expiry=<unix s>&signature=<0x… 65 bytes>` returns the PNG when the
signature is the job's requester's (or the market arbiter's) EIP-712 ResultDownload for
(job id, expiry) on this chain and market: 404 for a job this worker has no result for, 401 for an expired or malformed
permission, 403 for anyone else's signature. `GET /receipts/{job_id}` shows a delivered
job's signed EnergyReceipt and its metadata: the meter, whether it is an estimate, and how
the image was computed (its batch and setup, which an arbiter rebuilds in a dispute).
`GET /progress/{job_id}` says where the worker is with a job it took (the denoising step).

Channels (docs/SPEC.md, "Channels"): `POST /channels/orders` takes a requester's signed
JobOrder with its prompt and answers with the image, the meter-signed receipt, the price and
the voucher to sign; `POST /channels/vouchers` takes that voucher; `GET /channels/{id}` shows
what the worker holds of a channel. A refusal is 4xx with the reason in `detail`."""

from __future__ import annotations

import base64
import time
from typing import Callable, NamedTuple

from degen import channels, downloads, limits
from degen.errors import InvalidInput
from degen.http import BodyLimit, json_errors
from worker.channels import OrderRefused

MAX_JOB_ID = 2**256 - 1
MAX_BODY_BYTES = 16_384  # a channel order with the longest prompt fits several times


class Result(NamedTuple):
    requester: str
    sha256: bytes
    cid: str


ResultLookup = Callable[[int], "Result | None"]  # job id -> its result, if this worker made one


ReceiptLookup = Callable[[int], "dict | None"]  # job id -> its delivered receipt and metadata


ProgressLookup = Callable[[int], "dict | None"]  # job id -> where this worker is with it


def create_app(
    lookup: ResultLookup, read_png: Callable[[bytes], bytes | None], *, chain_id: int, market: str,
    health: Callable[[], dict], metrics_registry, receipts: ReceiptLookup = lambda job_id: None,
    is_arbiter: Callable[[str], bool] = lambda address: False, clock: Callable[[], float] = time.time,
    on_error: Callable[[int], None] = lambda status: None, progress: ProgressLookup = lambda job_id: None,
    allowed_origins: list[str] = (), desk=None,
):
    """The app; `on_error(status)` counts the refusals of malformed requests (422) and any
    unexpected failure (500). Scripts of the `allowed_origins` (web pages such as the one
    `degen web` serves) may GET from it (and post channel orders and vouchers) across origins;
    no other origin may. `desk` (a worker.channels.ChannelDesk) serves channels; without it
    the channel routes answer 404."""
    from fastapi import Body, FastAPI, HTTPException, Path, Query, Response
    from fastapi.responses import JSONResponse
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    registry = metrics_registry or CollectorRegistry()
    app = FastAPI(title="DeGEN worker", docs_url=None, redoc_url=None, openapi_url=None)
    json_errors(app, lambda request, status: on_error(status))
    if allowed_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(allowed_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type"], expose_headers=["ETag", "X-Result-CID", "Retry-After"], max_age=600)
    JobId = Path(ge=1, le=MAX_JOB_ID, description="a job id of the market")

    @app.get("/results/{job_id}")
    def result(job_id: int = JobId, expiry: int | None = Query(None, ge=0, lt=2**64),
               signature: str | None = Query(None, max_length=140)):
        found = lookup(job_id)
        png = None if found is None else read_png(found.sha256)
        if png is None:
            raise HTTPException(404, f"no result for job {job_id} here")
        if expiry is None or signature is None:
            raise HTTPException(401, "a download needs ?expiry=<unix time>&signature=<requester's EIP-712 signature>")
        try:
            raw = bytes.fromhex(signature.removeprefix("0x"))
        except ValueError:
            raise HTTPException(401, "the signature is not hex") from None
        try:
            downloads.check(found.requester, job_id, expiry, raw, chain_id=chain_id, market=market, now=int(clock()),
                            is_arbiter=is_arbiter)
        except downloads.DownloadExpired as exc:
            raise HTTPException(401, str(exc)) from None
        except downloads.DownloadDenied as exc:
            raise HTTPException(403, str(exc)) from None
        return Response(png, media_type="image/png", headers={
            "ETag": f'"{found.sha256.hex()}"', "X-Result-CID": found.cid, "Cache-Control": "private, max-age=3600",
        })

    @app.get("/receipts/{job_id}")
    def receipt(job_id: int = JobId):
        """The delivered EnergyReceipt with its signature and metadata (which meter measured
        it, whether that is an estimate, its batch and setup). Public: all of it but the
        metadata is on chain, and the metadata names only job ids and software versions."""
        found = receipts(job_id)
        if found is None:
            raise HTTPException(404, f"no delivered receipt for job {job_id} here")
        return found

    @app.get("/progress/{job_id}")
    def job_progress(job_id: int = JobId):
        """Where this worker is with a job it took: queued, generating (denoising step, steps and
        the seconds it expects are left), generated, delivered, settled. Public: it tells no
        more than the chain does, only sooner."""
        found = progress(job_id)
        if found is None:
            raise HTTPException(404, f"job {job_id} is not one this worker took")
        return found

    def channel_desk():
        if desk is None:
            raise HTTPException(404, "this worker serves no channels ([channels] enabled = false)")
        return desk

    def refused(exc: OrderRefused) -> JSONResponse:
        on_error(exc.status)
        body = {"detail": exc.reason} | ({} if exc.expected is None else {"expected": channels.voucher_wire(exc.expected)})
        headers = {} if exc.retry_after_s is None else {"Retry-After": str(exc.retry_after_s)}
        return JSONResponse(body, status_code=exc.status, headers=headers)

    def parsed(parse, wire, signature: str):
        try:
            return parse(wire), channels.signature_from_wire(signature)
        except InvalidInput as exc:
            raise HTTPException(422, str(exc)) from None

    @app.post("/channels/orders")
    def channel_order(order: dict = Body(...), signature: str = Body(..., max_length=140),
                      prompt: str = Body(..., max_length=limits.MAX_PROMPT_BYTES)):
        """Serves a signed JobOrder at once: the image (base64), the served job and the voucher to sign."""
        taking = channel_desk()
        order_, signature_ = parsed(channels.order_from_wire, order, signature)
        try:
            answer = taking.order(order_, signature_, prompt)
        except OrderRefused as exc:
            return refused(exc)
        return {"job_id": f"0x{answer.served.receipt.job_id:064x}", "image": base64.b64encode(answer.png).decode(),
                "served": answer.served.wire(), "voucher": channels.voucher_wire(answer.voucher)}

    @app.post("/channels/vouchers")
    def channel_voucher(voucher: dict = Body(...), signature: str = Body(..., max_length=140)):
        """Takes the requester's cumulative voucher for every job served on the channel."""
        taking = channel_desk()
        voucher_, signature_ = parsed(channels.voucher_from_wire, voucher, signature)
        try:
            new = taking.voucher(voucher_, signature_)
        except OrderRefused as exc:
            return refused(exc)
        return {"held": True, "new": new, "jobs": voucher_.jobs}

    @app.get("/channels/{channel_id}")
    def channel_view(channel_id: int = Path(ge=1, le=MAX_JOB_ID)):
        """What the worker holds of a channel (public: the chain shows as much once redeemed)."""
        return channel_desk().view(channel_id)

    @app.get("/health")
    def healthz():
        return health()

    @app.get("/metrics")
    def metrics():
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return BodyLimit(app, MAX_BODY_BYTES)
