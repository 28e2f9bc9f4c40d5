"""`degen site` as a new DER owner meets it, each command in its own process against the test
chain: keys, then every refusal in one sentence before anything is sent (no gas money, a
country that is not a code, a pending site's offer, a stake above the balance, an image size
the market does not take, a config naming none of the offers' models or overwriting a file,
another owner's offer), and what each command did when it goes through."""

import os
import re
import subprocess
import sys

import pytest
from eth_account import Account

from degen.deploy import AKRE
from degen.processes import ROOT
from worker.config import load

REGISTER = ("register", "--pv-kw", "5", "--battery-kwh", "0", "--gpu-watts", "300", "--country", "KE")


@pytest.fixture
def site_cli(tmp_path, deployment_dir, chain):
    """Runs `degen site ...` from a DER owner's folder holding the operator's deployment file."""
    (tmp_path / "deployments").symlink_to(deployment_dir)
    env = {**os.environ, "APE_FOUNDRY_HOST": chain.provider.uri}

    def run(*args):
        return subprocess.run([sys.executable, "-m", "degen.cli", "site", *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120)

    return run


def refused(answer, sentence: str) -> None:
    assert answer.returncode in (1, 2) and sentence in answer.stderr and "Traceback" not in answer.stderr, answer.stderr


def test_a_new_der_owner_from_keys_to_a_worker_config(site_cli, tmp_path, deployer, token, registry, market, offer_id):
    keys = site_cli("keys")
    assert keys.returncode == 0 and "Next: send" in keys.stdout
    dana = Account.from_key((tmp_path / "keys" / "provider.key").read_text().strip()).address
    assert site_cli("address").stdout.strip() == dana
    refused(site_cli(*REGISTER), f"the account {dana} holds no native token on chain")
    refused(site_cli(*REGISTER[:-1], "Kenya"), "'Kenya' is not a country code")
    deployer.transfer(dana, 10**18)
    token.transfer(dana, 50 * AKRE, sender=deployer)

    registered = site_cli(*REGISTER)
    assert registered.returncode == 0, registered.stderr
    site = int(re.search(r"site (\d+) registered \(pending\): 5,000 W of PV, no battery", registered.stdout).group(1))
    assert registry.site(site).owner == dana and registry.site(site).battery_wh == 0
    refused(site_cli(*REGISTER), f"your site {site} is registered with this meter key already")
    offer = ("offer", "create", str(site), "--model", "tiny-sd", "--base-price", "1", "--per-kwh", "20", "--collateral", "5")
    refused(site_cli(*offer), f"site {site} is pending: offers open on active sites only")
    refused(site_cli("stake", "100"), "the account holds 50 AKRE, less than the 100 AKRE to stake")
    refused(site_cli("stake", "-3"), "the amount must be more than 0")
    registry.activate(site, sender=deployer)

    staked = site_cli("stake", "20")
    assert staked.returncode == 0 and "approved the market for 20 AKRE" in staked.stdout, staked.stderr
    assert market.stake_of(dana) == (20 * AKRE, 0) and token.allowance(dana, market) == 0  # approved exactly what it deposited
    refused(site_cli(*offer, "--max-size", "100"), "a max width of 100 px: a side is a multiple of 8 from 64 to 2048")
    created = site_cli(*offer)
    assert created.returncode == 0, created.stderr
    new_offer = int(re.search(r"opened offer (\d+)", created.stdout).group(1))
    assert market.offer(new_offer).site_id == site and market.offer(new_offer).provider == dana
    refused(site_cli("offer", "close", str(offer_id)), f"offer {offer_id} is ")  # Bob's

    config = ("config", str(site), "--modbus", "127.0.0.1:5020", "--unit-ids", "1,2", "--oracle", "http://127.0.0.1:8800")
    refused(site_cli(*config, "--model", "other-sd=models/other"), f"offer {new_offer} serves model 0x")
    written = site_cli(*config, "--model", "tiny-sd=models/tiny-sd")
    assert written.returncode == 0 and "Next: degen worker run --config worker.toml" in written.stdout, written.stderr
    worker = load(tmp_path / "worker.toml")
    assert worker.offers == [new_offer] and worker.site.site_id == site and worker.site.modbus_unit_ids == [1, 2]
    assert worker.policy.gpu_watts == 300 and worker.telemetry.oracle_url == "http://127.0.0.1:8800"
    assert worker.chain.deployments == (tmp_path / "deployments").resolve() and worker.chain.confirmations == 0
    assert worker.provider_account().address == dana and worker.models == {"tiny-sd": "models/tiny-sd"}
    refused(site_cli(*config, "--model", "tiny-sd=models/tiny-sd"), "worker.toml exists: a config is never overwritten")

    status = site_cli("status", str(site))
    assert status.returncode == 0, status.stderr
    assert f"site {site}: active, 5,000 W PV, no battery, GPU up to 300 W, KE" in status.stdout
    assert f"offer {new_offer}: open" in status.stdout and "an endpoint where buyers download results" in status.stdout
    closed = site_cli("offer", "close", str(new_offer))
    assert closed.returncode == 0 and not market.offer(new_offer).active


def test_the_site_commands_need_their_key_file(site_cli):
    refused(site_cli("status"), "cannot read the provider key file keys/provider.key")
    refused(site_cli("address", "--key-file", "nowhere.key"), "cannot read the provider key file nowhere.key")
