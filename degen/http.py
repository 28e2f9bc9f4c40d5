"""Serving a FastAPI app from a daemon: uvicorn in a thread of its own, on a port the
caller learns once it listens (port 0 picks a free one, as tests do), a bound on request
bodies, and refusals that are always a JSON reason, never a traceback."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Callable

from degen.errors import describe

log = logging.getLogger(__name__)


class ServerThread:
    """Runs the app under uvicorn in a daemon thread; `start` returns the port it listens on.
    The daemons face their clients directly: no access log (the metrics count requests) and
    no trust in X-Forwarded-* headers."""

    def __init__(self, app, host: str, port: int):
        import uvicorn

        self._server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off",
                                                     access_log=False, proxy_headers=False))
        self._thread = threading.Thread(target=self._server.run, name="http-server", daemon=True)
        self.host = host

    def start(self, timeout_s: float = 10.0) -> int:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise OSError(f"the HTTP server could not start on {self.host} (address in use?)")
            time.sleep(0.02)
        return self._server.servers[0].sockets[0].getsockname()[1]

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)


class BodyLimit:
    """ASGI wrapper refusing request bodies over `max_bytes` before anything reads them:
    413 when Content-Length says so, 411 when a body comes without one (chunked)."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT", "PATCH"):
            headers = dict(scope["headers"])
            length = headers.get(b"content-length")
            if length is None and b"chunked" in headers.get(b"transfer-encoding", b""):
                return await _refuse(send, 411, "a body needs a Content-Length")
            if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
                return await _refuse(send, 413, f"the body is over {self.max_bytes} bytes")
        await self.app(scope, receive, send)


async def _refuse(send, status: int, detail: str) -> None:
    await send_json(send, status, json.dumps({"detail": detail}).encode())


async def send_json(send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] = ()) -> None:
    """Answers a raw ASGI request with an encoded JSON body (and any further headers)."""
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body)), *headers]})
    await send({"type": "http.response.body", "body": body})


async def read_body(receive) -> bytes | None:
    """A raw ASGI request's whole body (BodyLimit bounds it), or None if the client left."""
    parts = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts)


def internal_error(exc: Exception, path: str) -> str:
    """Logs an unexpected exception; the short reason a 500 answers with."""
    log.error("request failed", exc_info=exc, extra={"path": path})
    return f"internal error ({type(exc).__name__}); the operator's log has the details"


def json_errors(app, on_error: Callable[[object, int], None] = lambda request, status: None) -> None:
    """Makes every refusal of a Starlette (or FastAPI) app JSON `{"detail": "<reason>"}` —
    unknown paths and methods included — and never echoes the request (it may be huge or
    not serialisable: NaN, lone surrogates); a malformed FastAPI request is a 422 naming the
    field and the problem; an unexpected exception is a logged 500 with a short reason.
    `on_error(request, status)` counts the 422s and 5xx."""
    from starlette.exceptions import HTTPException
    from starlette.responses import JSONResponse

    async def refused(request, exc: HTTPException):
        if exc.status_code == 422 or exc.status_code >= 500:
            on_error(request, exc.status_code)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    async def unexpected(request, exc: Exception):
        detail = internal_error(exc, request.url.path)
        on_error(request, 500)
        return JSONResponse({"detail": detail}, status_code=500)

    app.add_exception_handler(HTTPException, refused)
    app.add_exception_handler(Exception, unexpected)
    if hasattr(app, "openapi"):  # FastAPI: its request validation
        from fastapi.exceptions import RequestValidationError

        async def malformed(request, exc: RequestValidationError):
            on_error(request, 422)
            return JSONResponse({"detail": describe(exc.errors(), whole="request")}, status_code=422)

        app.add_exception_handler(RequestValidationError, malformed)
