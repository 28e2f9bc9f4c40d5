"""The daemons through a hosted provider (tests/rpc_proxy.py in front of anvil: a 20-block
`eth_getLogs` cap, a result cap, 429s beyond a request rate and a gateway timeout every few
log queries), following a history longer than one query may span: the worker takes and
delivers a job, and an oracle (the committee's only member) issues a solar day."""

from __future__ import annotations

import time

import httpx
import pytest

from degen import telemetry
from degen.models import JobState
from tests.daemons import api_url
from tests.oracle.test_issuance import simulated_day
from tests.rpc_proxy import HostedRpc
from tests.worker.test_daemon import SMALL


@pytest.fixture
def hosted(chain):
    chain.mine(300)  # the daemons start following well before the head
    proxy = HostedRpc(chain.provider.uri, max_range=20, max_results=3, requests_per_s=150, timeout_every=11)
    yield proxy
    proxy.close()


def test_a_worker_takes_and_delivers_a_job_through_a_capped_throttled_provider(hosted, worker_config, start_worker, create_job,
                                                                               market, chain):
    worker = start_worker(worker_config(chain={"rpc_url": hosted.url, "start_block": max(1, chain.blocks.height - 290)}))
    job_id = create_job(params=SMALL)
    worker.wait_for(rf"job delivered job_id={job_id}\b", timeout=120)
    assert market.job(job_id).state == JobState.DELIVERED
    assert hosted.refused["range"] > 0 and hosted.refused["timeout"] > 0


def test_an_oracle_issues_a_day_through_a_capped_throttled_provider(hosted, oracle_config, start_oracle, rec, registry, site_id,
                                                                     meter, chain):
    oracle = start_oracle(oracle_config(chain={"rpc_url": hosted.url, "start_block": max(1, chain.blocks.height - 290)}))
    day = (int(time.time()) // 86_400 - 2) * 86_400
    bodies = [telemetry.body(*signed) for signed in simulated_day(site_id, day, meter, chain.chain_id, registry.address)]
    with httpx.Client(base_url=api_url(oracle), timeout=30) as api:
        for first in range(0, len(bodies), 100):
            assert api.post("/samples/batch", json={"samples": bodies[first:first + 100]}).status_code == 200
    deadline = time.monotonic() + 120
    while rec.high_water_mark(site_id) < day + 18 * 3600:
        assert time.monotonic() < deadline, oracle.output[-3000:]
        time.sleep(0.3)
    issued = [log.period_start for log in rec.Issued.range(0, chain.blocks.height + 1) if log.site_id == site_id]
    assert sorted(issued) == [day + h * 3600 for h in range(6, 18)]
    assert hosted.refused["range"] > 0
