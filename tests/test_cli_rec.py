"""`degen rec` end to end: a green job runs on the test chain, then the real CLI, in its own
process, connects to that chain and prints the certificate, the issuance and balances."""

import os
import subprocess
import sys
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[1]
NETWORK = "ethereum:local:foundry"


@pytest.fixture
def degen_cli(deployment_dir, chain):
    """Runs `degen ...` against the test chain and this session's deployment."""
    env = {**os.environ, "APE_FOUNDRY_HOST": chain.provider.uri}

    def run(*args):
        command = [sys.executable, "-m", "degen.cli", *args, "--network", NETWORK, "--deployments", str(deployment_dir)]
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    return run


def test_rec_show_prints_a_green_job_certificate(degen_cli, green_offer, market, rec, provider, requester, site_id, create_job, make_receipt, sign, chain):
    offer = green_offer
    job_id = create_job(offer_id=offer, green=True)
    market.accept(job_id, offer, sender=provider)
    chain.pending_timestamp += 60
    receipt = make_receipt(job_id, energy_mwh=1_500)
    tx = market.deliver(job_id, receipt.as_tuple(), sign(receipt), sender=provider)
    market.settle(job_id, sender=requester)
    cert_id = tx.decode_logs(rec.Retired)[0].certificate_id

    shown = degen_cli("rec", "show", str(cert_id))
    assert shown.returncode == 0, shown.stderr
    print(shown.stdout)
    assert f"Retirement certificate #{cert_id} (soulbound)" in shown.stdout
    assert f"beneficiary  {requester.address}" in shown.stdout
    assert "energy       1,500 mWh (0.0015 REC = 0.0015 kWh)" in shown.stdout
    assert f"retired by   {provider.address}" in shown.stdout
    assert f"offsets      job #{job_id}: settled, requester {requester.address}, 1,500 mWh metered, green" in shown.stdout

    issued = degen_cli("rec", "issuance", "1")
    assert issued.returncode == 0, issued.stderr
    assert f"Issuance #1 for site {site_id}" in issued.stdout and "1,000,000 mWh (1 REC = 1 kWh)" in issued.stdout

    balance = degen_cli("rec", "balance", provider.address)
    assert balance.returncode == 0, balance.stderr
    assert "998,500 mWh" in balance.stdout and "retired 1,500 mWh" in balance.stdout


def test_rec_show_unknown_certificate_fails_clearly(degen_cli):
    missing = degen_cli("rec", "show", "999")
    assert missing.returncode == 1
    assert "Error: there is no certificate 999" in missing.stderr
