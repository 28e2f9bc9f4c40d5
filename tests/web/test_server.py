"""`degen web` as an attacker or a careless client meets it, without a browser: the relay reads
and never sends, bounds what it takes, and every refusal is a 4xx with a reason, never a 5xx."""

from __future__ import annotations

import gzip
import subprocess

import pytest
import requests

from degen.processes import degen, free_port


@pytest.fixture
def page(start_web):
    """The page server with an oracle that is not there."""
    return start_web(oracle=f"http://127.0.0.1:{free_port()}")


def rpc(page: str, body, **kwargs) -> requests.Response:
    return requests.post(f"{page}/rpc", json=body, timeout=30, **kwargs)


def call(method: str, params=(), call_id=1) -> dict:
    return {"jsonrpc": "2.0", "id": call_id, "method": method, "params": list(params)}


def test_the_page_learns_the_market_and_where_a_wallet_sends(page, chain, market):
    config = requests.get(f"{page}/config.json", timeout=10).json()
    assert (config["chain_id"], config["deployment"]["market"], config["rpc"], config["oracle"]) == (
        chain.chain_id, market.address, "/rpc", True)
    assert config["wallet_rpc"] == chain.provider.uri  # the node on this machine; never the read-only relay
    index = requests.get(page, timeout=10)
    assert "default-src 'self'" in index.headers["content-security-policy"]
    assert index.headers["x-content-type-options"] == "nosniff"
    assert requests.get(f"{page}/abi/JobMarket.json", timeout=10).json()[0]["type"]


def test_the_bundle_is_served_compressed_to_a_browser_that_takes_gzip(page):
    plain = requests.get(f"{page}/app.js", headers={"Accept-Encoding": "identity"}, timeout=10)
    packed = requests.get(f"{page}/app.js", headers={"Accept-Encoding": "gzip"}, stream=True, timeout=10)
    on_the_wire = packed.raw.read(decode_content=False)
    assert "content-encoding" not in plain.headers and packed.headers["content-encoding"] == "gzip"
    assert len(on_the_wire) < len(plain.content) / 2
    assert gzip.decompress(on_the_wire) == plain.content


def test_the_relay_reads_and_refuses_to_send(page, chain):
    assert int(rpc(page, call("eth_chainId")).json()["result"], 16) == chain.chain_id
    for method in ("eth_sendRawTransaction", "eth_sendTransaction", "eth_sign", "anvil_setBalance", "evm_mine", "debug_traceCall"):
        refused = rpc(page, call(method, ["0x00"]))
        assert refused.status_code == 200 and refused.json()["error"]["code"] == -32601, method
    batch = rpc(page, [call("eth_blockNumber", call_id=1), call("anvil_impersonateAccount", ["0x" + "11" * 20], call_id=2)]).json()
    assert int(batch[0]["result"], 16) >= 0 and batch[1]["error"]["code"] == -32601


@pytest.mark.parametrize("body, status", [
    ([], 400),  # an empty batch
    ([call("eth_blockNumber", call_id=n) for n in range(21)], 400),  # over the batch bound
    ({"method": 7}, 200),  # not a JSON-RPC request: a JSON-RPC error
    ("not an object", 200),
])
def test_the_relay_bounds_what_it_takes(page, body, status):
    answer = rpc(page, body)
    assert answer.status_code == status and "error" in (answer.json() if status == 400 else answer.json())


def test_malformed_and_oversized_bodies_are_refused_with_a_reason(page):
    not_json = requests.post(f"{page}/rpc", data=b"\xff{", timeout=10)
    assert not_json.status_code == 400 and not_json.json()["error"]["code"] == -32700
    huge = requests.post(f"{page}/rpc", data=b"[" + b" " * 70_000 + b"]", timeout=10)
    assert huge.status_code == 413 and "over" in huge.json()["detail"]


def test_missing_things_are_4xx_with_a_reason(page):
    for path, status, said in (("/abi/Nothing.json", 404, "no ABI called 'Nothing'"),
                               ("/oracle/sites/1", 424, "the oracle does not answer"),
                               ("/oracle/sites/1/samples?since=x", 424, "the oracle does not answer"),
                               ("/oracle/sites/x", 404, ""), ("/../../etc/passwd", 404, ""), ("/nothing.js", 404, "")):
        answer = requests.get(f"{page}{path}", timeout=10)
        assert answer.status_code == status and said in answer.json().get("detail", ""), path
    not_posted = requests.get(f"{page}/rpc", timeout=10)
    assert not_posted.status_code == 405 and "POST" in not_posted.json()["detail"]


def test_bad_urls_are_refused_before_serving(deployment_dir):
    for option in ("--oracle", "--wallet-rpc"):
        refused = subprocess.run(degen("web", option, "ftp://x", "--deployments", str(deployment_dir), "--port", "0"),
                                 capture_output=True, text=True, timeout=120)
        assert refused.returncode == 2 and f"Invalid value for {option}: 'ftp://x' is not an http(s) URL" in refused.stderr and "Traceback" not in refused.stderr
