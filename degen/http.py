"""Serving a FastAPI app from a daemon: uvicorn in a thread of its own, on a port the
caller learns once it listens (port 0 picks a free one, as tests do), and a bound on request
bodies."""

from __future__ import annotations

import threading
import time


class ServerThread:
    """Runs the app under uvicorn in a daemon thread; `start` returns the port it listens on."""

    def __init__(self, app, host: str, port: int):
        import uvicorn

        self._server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
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
    import json

    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
