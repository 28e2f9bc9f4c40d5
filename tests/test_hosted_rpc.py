"""The CLI's history reads through a hosted provider (tests/rpc_proxy.py in front of anvil: a
20-block `eth_getLogs` cap, a 5-result cap, a rate limit answering 429 and a gateway timeout
every few log queries) answer exactly what they answer against anvil itself, from the
deployment's block on."""

from __future__ import annotations

import os
import subprocess

import pytest

from degen.processes import degen
from tests.rpc_proxy import HostedRpc


@pytest.fixture
def hosted(chain):
    proxy = HostedRpc(chain.provider.uri, max_range=20, max_results=5, requests_per_s=40, timeout_every=7)
    yield proxy
    proxy.close()


def run(deployment_dir, node: str, *args: str) -> subprocess.CompletedProcess:
    argv = degen(*args, "--network", "ethereum:local:foundry", "--deployments", str(deployment_dir))
    return subprocess.run(argv, capture_output=True, text=True, timeout=180, env={**os.environ, "APE_FOUNDRY_HOST": node})


def test_job_rec_and_committee_reads_through_a_capped_throttled_provider(hosted, deployment_dir, chain, delivered_job,
                                                                         issue_recs, site_id):
    job_id = delivered_job()
    for _ in range(8):  # more issuances than one answer may hold
        issue_recs(site_id, 1_000)
    chain.mine(300)  # a history longer than one query may span
    for command in (("job", "show", str(job_id)), ("rec", "issuance", "8"), ("oracle", "committee")):
        direct, through = run(deployment_dir, chain.provider.uri, *command), run(deployment_dir, hosted.url, *command)
        assert direct.returncode == 0, direct.stderr
        assert through.returncode == 0, through.stderr
        assert through.stdout == direct.stdout
    assert hosted.refused["range"] > 0 and hosted.refused["timeout"] > 0  # the result cap: tests/sdk/test_logs.py
