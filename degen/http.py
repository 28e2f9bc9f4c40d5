"""Serving a FastAPI app from a daemon: uvicorn in a thread of its own, on a port the
caller learns once it listens (port 0 picks a free one, as tests do)."""

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
