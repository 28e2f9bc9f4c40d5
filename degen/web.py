"""`degen web`: serves the wallet users' page (`web/dist`, built from `web/src` by `make web`)
with what it needs to find the market: `/config.json` (chain id, the deployment, whether an
oracle is configured), `/deployment.json`, `/abi/<Contract>.json`, a read-only JSON-RPC
relay to the node (`POST /rpc`, so the page reads the chain before a wallet is connected
and the node's URL, which may carry an API key, stays on the server), and a relay of the
oracle's public site readings (`/oracle/sites/{id}`, `/oracle/sites/{id}/samples`).

Transactions and signatures never pass through here: the page sends them through the
user's wallet. A relay that cannot reach its node or oracle answers 424 with the reason
(the page says it; nothing here fails with a 5xx)."""

from __future__ import annotations

import json
from pathlib import Path

from degen.chain.readonly import published_abis
from degen.deployments import Deployment
from degen.http import BodyLimit, json_errors
from degen.processes import ROOT

DIST = ROOT / "web" / "dist"
MAX_RPC_BODY = 64 * 1024
RPC_TIMEOUT_S = 15
ORACLE_TIMEOUT_S = 5
MAX_BATCH = 20

# What the page may ask the node through the relay: reads only. Sending goes through the wallet.
READ_METHODS = frozenset({
    "eth_chainId", "net_version", "eth_blockNumber", "eth_call", "eth_getLogs", "eth_getBalance", "eth_getCode",
    "eth_getBlockByNumber", "eth_getBlockByHash", "eth_getTransactionReceipt", "eth_getTransactionByHash",
    "eth_getTransactionCount", "eth_estimateGas", "eth_gasPrice", "eth_maxPriorityFeePerGas", "eth_feeHistory",
})


class PageNotBuilt(FileNotFoundError):
    """web/dist has no built page."""


def create_app(deployment: Deployment, rpc_url: str, *, oracle_url: str | None = None, wallet_rpc: str | None = None,
               dist: Path = DIST):
    """The page's app. `rpc_url` is the node the relay reads from; `oracle_url` the oracle
    whose site readings are relayed (None: the page shows none); `wallet_rpc` the JSON-RPC URL
    the page offers a wallet that lacks the chain (`wallet_addEthereumChain`; None: the page
    asks the user to add it). The relay cannot be that URL: it sends nothing."""
    import requests
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import FileResponse, JSONResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    if not (dist / "index.html").is_file():
        raise PageNotBuilt(f"the web page is not built ({dist / 'index.html'} is missing): run `make web`")
    abis = published_abis()
    config = {"chain_id": deployment.chain_id, "network": deployment.network, "deployment": deployment.model_dump(),
              "rpc": "/rpc", "oracle": oracle_url is not None, "wallet_rpc": wallet_rpc}
    session = requests.Session()

    def index(request: Request):
        return FileResponse(dist / "index.html", headers=_PAGE_HEADERS)

    def page_config(request: Request):
        return JSONResponse(config)

    def deployment_file(request: Request):
        return JSONResponse(deployment.model_dump())

    def abi(request: Request):
        name = request.path_params["name"]
        if name not in abis:
            raise HTTPException(404, f"no ABI called {name!r}; there are {', '.join(sorted(abis))}")
        return JSONResponse(abis[name])

    def relay(call) -> dict:
        """One JSON-RPC call to the node, or its refusal as a JSON-RPC error."""
        if not isinstance(call, dict) or not isinstance(call.get("method"), str):
            return _rpc_error(None, -32600, "not a JSON-RPC request")
        if call["method"] not in READ_METHODS:
            return _rpc_error(call.get("id"), -32601, f"{call['method'][:64]} is not relayed: send it through your wallet")
        try:
            answer = session.post(rpc_url, json=call, timeout=RPC_TIMEOUT_S)
        except requests.RequestException:
            return _rpc_error(call.get("id"), -32603, "the node does not answer")
        if answer.status_code == 429:  # the node's provider limits its rate: the page waits and asks again
            return _rpc_error(call.get("id"), -32005, "rate limited by the node (HTTP 429): try again shortly")
        try:
            return answer.json() if answer.status_code < 500 else _rpc_error(
                call.get("id"), -32603, f"the node does not answer (HTTP {answer.status_code})")
        except ValueError:
            return _rpc_error(call.get("id"), -32603, "the node does not answer (not JSON)")

    async def rpc(request: Request):
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return JSONResponse(_rpc_error(None, -32700, "the body is not JSON"), status_code=400)
        if isinstance(body, list):
            if not 0 < len(body) <= MAX_BATCH:
                return JSONResponse(_rpc_error(None, -32600, f"a batch holds 1 to {MAX_BATCH} calls"), status_code=400)
            return JSONResponse([await run_in_threadpool(relay, call) for call in body])
        return JSONResponse(await run_in_threadpool(relay, body))

    def rpc_not_posted(request: Request):
        raise HTTPException(405, "the relay takes JSON-RPC requests as POST", headers={"Allow": "POST"})

    def oracle(path: str, params: dict | None = None):
        if oracle_url is None:
            raise HTTPException(404, "this page was started without an oracle (degen web --oracle URL)")
        try:
            answer = session.get(f"{oracle_url.rstrip('/')}{path}", params=params, timeout=ORACLE_TIMEOUT_S)
        except requests.RequestException:
            raise HTTPException(424, "the oracle does not answer") from None
        if answer.status_code >= 500 or "json" not in answer.headers.get("content-type", ""):
            raise HTTPException(424, f"the oracle answered {answer.status_code}")
        return Response(answer.content, status_code=answer.status_code, media_type="application/json")

    def site_reading(request: Request):
        return oracle(f"/sites/{request.path_params['site_id']}")

    def site_samples(request: Request):
        params = {key: request.query_params[key] for key in ("since", "until") if key in request.query_params}
        return oracle(f"/sites/{request.path_params['site_id']}/samples", params)

    app = Starlette(routes=[
        Route("/", index),
        Route("/config.json", page_config),
        Route("/deployment.json", deployment_file),
        Route("/abi/{name}.json", abi),
        Route("/rpc", rpc, methods=["POST"]),
        Route("/rpc", rpc_not_posted, methods=["GET", "PUT", "DELETE", "PATCH"]),
        Route("/oracle/sites/{site_id:int}", site_reading),
        Route("/oracle/sites/{site_id:int}/samples", site_samples),
        Mount("/", StaticFiles(directory=dist)),
    ])
    json_errors(app)
    from starlette.middleware.gzip import GZipMiddleware

    return BodyLimit(_with_headers(GZipMiddleware(app, minimum_size=1024)), MAX_RPC_BODY)  # the bundle: a third gzipped


# The page loads nothing from elsewhere; it talks to the node relay, the oracle relay and the
# workers' result endpoints (any origin: each site publishes its own).
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; connect-src 'self' http: https:; "
                               "style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _with_headers(app):
    """Adds nosniff to every answer (the page's own headers come with index.html)."""

    async def wrapped(scope, receive, send):
        async def sending(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-content-type-options", b"nosniff")]
            await send(message)

        await app(scope, receive, sending)

    return wrapped


def _rpc_error(call_id, code: int, message: str) -> dict:
    return {"jsonrpc": "2.0", "id": call_id, "error": {"code": code, "message": message}}
