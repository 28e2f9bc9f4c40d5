"""A hosted JSON-RPC provider as public chains' users meet it, played in front of anvil on
127.0.0.1: `eth_getLogs` capped to a block range and a result count (refused with the
providers' own messages), a request rate answered with HTTP 429 beyond it, and every so often
a gateway timeout (504). Everything else is forwarded as it is. It counts what it refused, so
a test can show the clients met each limit and still got their answers."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

RANGE_ERROR = "eth_getLogs is limited to a {cap} block range; your query spans {span} blocks"  # Alchemy's words, shortened
RESULTS_ERROR = "query returned more than {cap} results. Try with this block range [{start:#x}, {end:#x}]."  # Infura's


class HostedRpc:
    """Starts on a free port; `url` is where clients point; `refused` counts each limit met."""

    def __init__(self, upstream: str, *, max_range: int = 20, max_results: int = 15, requests_per_s: int = 60,
                 timeout_every: int = 13):
        self.upstream, self.max_range, self.max_results = upstream, max_range, max_results
        self.requests_per_s, self.timeout_every = requests_per_s, timeout_every
        self.refused: Counter[str] = Counter()
        self.log_queries = 0
        self._recent: deque[float] = deque()
        self._lock = threading.Lock()
        self._session = requests.Session()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, answer = proxy.answer(body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                if status == 429:
                    self.send_header("Retry-After", "1")
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, body: bytes) -> tuple[int, bytes]:
        try:
            request = json.loads(body)
        except ValueError:
            return 400, b'{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}'
        calls = request if isinstance(request, list) else [request]
        with self._lock:
            now = time.monotonic()
            while self._recent and now - self._recent[0] > 1.0:
                self._recent.popleft()
            if len(self._recent) >= self.requests_per_s:
                self.refused["rate"] += 1
                return 429, b'{"jsonrpc":"2.0","id":null,"error":{"code":429,"message":"Too Many Requests"}}'
            self._recent.append(now)
            if any(call.get("method") == "eth_getLogs" for call in calls if isinstance(call, dict)):
                self.log_queries += 1
                if self.log_queries % self.timeout_every == 0:
                    self.refused["timeout"] += 1
                    return 504, b'{"message":"upstream request timeout"}'
        answers = [self._one(call) for call in calls]
        return 200, json.dumps(answers if isinstance(request, list) else answers[0]).encode()

    def _one(self, call) -> dict:
        if not isinstance(call, dict) or call.get("method") != "eth_getLogs":
            return self._forward(call)
        query = (call.get("params") or [{}])[0]
        start = end = 0
        if "blockHash" not in query:
            start, end = self._block(query.get("fromBlock", "latest")), self._block(query.get("toBlock", "latest"))
            if end - start + 1 > self.max_range:
                self.refused["range"] += 1
                return _error(call, -32600, RANGE_ERROR.format(cap=self.max_range, span=end - start + 1))
        answer = self._forward(call)
        results = answer.get("result")
        if isinstance(results, list) and len(results) > self.max_results:
            self.refused["results"] += 1
            return _error(call, -32005, RESULTS_ERROR.format(cap=self.max_results, start=start, end=(start + end) // 2))
        return answer

    def _block(self, tag) -> int:
        if tag in ("latest", "pending", "safe", "finalized"):
            return int(self._forward({"jsonrpc": "2.0", "id": 0, "method": "eth_blockNumber", "params": []})["result"], 16)
        return 0 if tag == "earliest" else int(tag, 16)

    def _forward(self, call) -> dict:
        return self._session.post(self.upstream, json=call, timeout=30).json()


def _error(call: dict, code: int, message: str) -> dict:
    return {"jsonrpc": "2.0", "id": call.get("id"), "error": {"code": code, "message": message}}
