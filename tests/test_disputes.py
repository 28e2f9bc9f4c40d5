"""Disputes over batched deliveries, end to end: a real `degen worker run` batching three jobs
in one pipeline call, a real `degen oracle run` arbitrating, anvil as the chain. The oracle
rebuilds the batch the worker published and re-runs it: an honest provider wins on any CPU,
however a job alone would have come out; a provider running other weights than the model it
offers loses."""

from __future__ import annotations

import httpx
import pytest

from degen.models import Computation, GenerationParams, JobState
from tests.conftest import MODEL_NAME
from tests.daemons import server_url

BATCH = 3


@pytest.mark.parametrize("weights, winner, why", [
    ("the offer's", "provider", f"re-run in its batch of {BATCH} gives the identical image"),
    ("other", "requester", f"re-run in its batch of {BATCH} on the provider's declared setup gives a different image"),
])
def test_a_dispute_over_a_batched_delivery_is_decided_by_re_running_its_batch(
    weights, winner, why, worker_config, start_worker, oracle_config, start_oracle, create_job, market, token, requester,
    site_id, tmp_path,
):
    models = {}
    if weights == "other":  # same model name, other weights: the images are not the offer's model's
        from degen.inference.tiny_model import write_tiny_pipeline

        models = {"models": {MODEL_NAME: str(write_tiny_pipeline(tmp_path / "other-weights", seed=1))}}
    job_ids = [create_job(params=GenerationParams(width=64, height=64, steps=3, guidance_x100=750, seed=n),
                          prompt=f"a solar farm at noon, view {n}", challenge_window=3600) for n in range(BATCH)]
    worker = start_worker(worker_config(compute={"max_batch": BATCH, "batch_window_s": 5}, **models))
    for job_id in job_ids:
        worker.wait_for(rf"job delivered job_id={job_id}\b", timeout=180)
    published = httpx.get(f"{server_url(worker)}/receipts/{job_ids[-1]}", timeout=10).json()
    computation = Computation(**published["metadata"])
    assert list(computation.batch) == job_ids  # one pipeline call, in the order the jobs were taken

    disputed = job_ids[-1]  # not the first of its batch
    token.approve(market, market.dispute_bond(), sender=requester)
    market.dispute(disputed, sender=requester)
    oracle = start_oracle(oracle_config(endpoints={str(site_id): server_url(worker)}))
    line = oracle.wait_for(rf"dispute resolved job_id={disputed} winner=(\w+) why=(.*)", timeout=180)
    assert line.group(1) == winner and why in line.group(2)
    assert f"re-running a disputed job job_id={disputed} batch={','.join(map(str, job_ids))} " in oracle.output
    assert market.job(disputed).state == (JobState.SETTLED if winner == "provider" else JobState.REFUNDED)
