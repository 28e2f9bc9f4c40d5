"""`ape run deploy` as an operator scripts it (README "Deploying elsewhere"): against a node
that is already running, given by its RPC URL, from a keyfile account, with no prompt."""

import json
import os
import shutil
import subprocess
import sys

import httpx
import pytest
from eth_account import Account

from degen.processes import ROOT, free_port, running

KEY = b"\x42" * 32
PASSPHRASE = "a passphrase for tests only 7!"


@pytest.fixture
def node():
    """An anvil of its own (not the test session's), running before the deploy starts."""
    port = free_port()
    with running([shutil.which("anvil"), "--port", str(port)], ready="Listening on"):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def keyfile_account(tmp_path, node):
    """An Ape keyfile account `deployer` in a data folder of its own, funded on the node."""
    env = {"APE_DATA_FOLDER": str(tmp_path / "ape")}
    subprocess.run([sys.executable, "-c", "import sys; from ape_accounts import import_account_from_private_key as i; "
                    "i('deployer', sys.argv[1], sys.argv[2])", PASSPHRASE, "0x" + KEY.hex()],
                   env={**os.environ, **env}, cwd=ROOT, check=True, capture_output=True, timeout=120)
    address = Account.from_key(KEY).address
    httpx.post(node, json={"jsonrpc": "2.0", "id": 1, "method": "anvil_setBalance", "params": [address, hex(10**20)]})
    return env, address


def deploy(node, env, out, *extra):
    return subprocess.run(
        [shutil.which("ape"), "run", "deploy", "--network", node, "--account", "deployer", "--deployments", str(out), *extra],
        env={**os.environ, **env}, cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=300,
    )


ORACLES = [Account.from_key(bytes([n]) * 32).address for n in (7, 8, 9)]


def test_a_scripted_deploy_to_a_running_node_signs_without_asking(node, keyfile_account, tmp_path):
    env, address = keyfile_account
    members = [arg for n, oracle in enumerate(ORACLES, start=1) for arg in ("--oracle", f"{oracle}=https://oracle-{n}.example.org")]
    done = deploy(node, env | {"APE_ACCOUNTS_deployer_PASSPHRASE": PASSPHRASE}, tmp_path / "out", "--yes", *members,
                  "--threshold", "2", "--admin-delay", "3600")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"2 of 3: {', '.join(ORACLES)}; bonds of 1,000 AKRE each" in done.stdout and "delay 3,600 s" in done.stdout
    assert "issuer, registrar and arbiter: the committee; every admin role: the timelock" in done.stdout
    assert "stops now" not in done.stdout  # a node it did not start keeps running, and says nothing of stopping
    record = json.loads((tmp_path / "out" / "ethereum-custom.json").read_text())
    assert (record["network"], record["chain_id"], record["deployer"]) == ("ethereum:custom", 31337, address)
    code = httpx.post(node, json={"jsonrpc": "2.0", "id": 1, "method": "eth_getCode", "params": [record["market"], "latest"]})
    assert len(code.json()["result"]) > 2  # the market is there, on the node that was already running


def test_without_yes_a_keyfile_account_asks_before_signing(node, keyfile_account, tmp_path):
    env, _ = keyfile_account
    refused = deploy(node, env | {"APE_ACCOUNTS_deployer_PASSPHRASE": PASSPHRASE}, tmp_path / "out")
    assert refused.returncode != 0 and "Sign" in refused.stdout + refused.stderr
    assert not (tmp_path / "out").exists()


def test_a_committee_threshold_that_is_no_majority_is_refused_before_deploying(node, keyfile_account, tmp_path):
    env, _ = keyfile_account
    members = [arg for oracle in ORACLES for arg in ("--oracle", oracle)]
    refused = deploy(node, env | {"APE_ACCOUNTS_deployer_PASSPHRASE": PASSPHRASE}, tmp_path / "out", "--yes", *members,
                     "--threshold", "1")
    assert refused.returncode != 0 and "1 of 3 members is not a majority" in refused.stdout + refused.stderr
    assert not (tmp_path / "out").exists()


def test_a_deployment_on_chain_is_never_overwritten_unless_replace_says_so(node, keyfile_account, tmp_path):
    env = keyfile_account[0] | {"APE_ACCOUNTS_deployer_PASSPHRASE": PASSPHRASE}
    file = tmp_path / "out" / "ethereum-custom.json"
    assert deploy(node, env, tmp_path / "out", "--yes").returncode == 0
    first = file.read_text()
    again = deploy(node, env, tmp_path / "out", "--yes")
    assert again.returncode != 0 and "names a deployment whose contracts are on this chain" in again.stdout + again.stderr
    assert "--replace" in again.stdout + again.stderr and file.read_text() == first
    replaced = deploy(node, env, tmp_path / "out", "--yes", "--replace")
    assert replaced.returncode == 0, replaced.stdout + replaced.stderr
    assert f"replacing {file}" in replaced.stdout
    assert json.loads(file.read_text())["market"] != json.loads(first)["market"]


def test_a_node_that_does_not_answer_is_one_sentence(tmp_path):
    refused = subprocess.run(
        [shutil.which("ape"), "run", "deploy", "--network", f"http://127.0.0.1:{free_port()}", "--account", "TEST::0",
         "--deployments", str(tmp_path / "out")], cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0 and "Traceback" not in refused.stdout + refused.stderr
    assert "start the node first, or check --network" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) <= 3, refused.stderr
