"""The dispute re-run (`oracle.disputes`): a declared batch is rebuilt and checked, re-run in
its order with the declared thread count, and judged against the delivered image. What the
worker computed and what the oracle's path re-computes are compared byte for byte on this
machine, whatever its CPU: only an equality that holds on every machine is asserted."""

from __future__ import annotations

import pytest

from degen.models import Computation
from oracle import disputes
from tests.conftest import MODEL_ID
from degen.inference.pipelines import Pipelines, Task

BOB, CAROL = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
PROMPTS = ["a fox on a solar roof", "a lighthouse at dusk", "a battery in the sun", "wind over a wheat field"]


def task(job_id: int, seed: int | None = None, **params) -> Task:
    fields = dict(width=64, height=64, steps=3, guidance_x100=750, seed=job_id if seed is None else seed) | params
    return Task.of(job_id, MODEL_ID, PROMPTS[(job_id - 1) % len(PROMPTS)], fields)


@pytest.fixture(scope="module")
def worker_pipelines(tiny_model):
    return Pipelines({MODEL_ID: str(tiny_model)}, device="cpu")


@pytest.fixture(scope="module")
def oracle_pipelines(tiny_model):
    """The oracle's own pipeline: loaded separately from the same model files."""
    return Pipelines({MODEL_ID: str(tiny_model)}, device="cpu")


def members(tasks: dict[int, Task], provider: str = BOB, **providers):
    def member(job_id: int) -> disputes.Member:
        if job_id not in tasks:
            raise disputes.BatchNotRebuildable(f"job {job_id}'s JobCreated event is not on chain")
        return disputes.Member(providers.get(f"job{job_id}", provider), tasks[job_id])

    return member


@pytest.mark.parametrize("size", [2, 3, 4])
def test_the_oracle_rebuilds_a_batch_and_reproduces_every_job_in_it_byte_for_byte(size, worker_pipelines, oracle_pipelines):
    batch = [task(job_id) for job_id in range(1, size + 1)]
    delivered = worker_pipelines.generate(batch)  # what the worker's compute thread makes
    declared = Computation(batch=[t.job_id for t in batch], setup=worker_pipelines.setup())
    for t, png in zip(batch, delivered):
        rebuilt = disputes.rebuild(t.job_id, declared.batch, BOB, members({x.job_id: x for x in batch}))
        assert rebuilt == batch
        rerun = disputes.rerun(oracle_pipelines, rebuilt, t.job_id, declared.setup.threads)
        assert rerun == png
        assert disputes.verdict(rerun, png, declared.setup, oracle_pipelines.setup(declared.setup.threads), size) == (
            True, f"re-run in its batch of {size} gives the identical image")


def test_a_batched_job_is_judged_with_its_batch_not_alone(worker_pipelines, oracle_pipelines):
    batch = [task(1), task(2), task(3)]
    delivered = worker_pipelines.generate(batch)[1]
    setup = worker_pipelines.setup()
    rebuilt = disputes.rebuild(2, [1, 2, 3], BOB, members({t.job_id: t for t in batch}))
    provider_wins, why = disputes.verdict(disputes.rerun(oracle_pipelines, rebuilt, 2), delivered, setup, oracle_pipelines.setup(), 3)
    assert provider_wins and "in its batch of 3" in why
    # Whether job 2 alone gives other bytes than in its batch depends on this CPU's kernels (on
    # the 2-core EPYC of CI it does). Where it does, judging it alone would wrongly rule against
    # the honest provider: that is what rebuilding the batch prevents.
    alone = disputes.rerun(oracle_pipelines, [task(2)], 2)
    if alone != delivered:
        assert disputes.verdict(alone, delivered, setup, oracle_pipelines.setup(), 1)[0] is False


def test_a_rerun_adopts_the_declared_thread_count(worker_pipelines, oracle_pipelines, tiny_model):
    one_thread = Pipelines({MODEL_ID: str(tiny_model)}, device="cpu", threads=1)
    batch = [task(1), task(2)]
    delivered = one_thread.generate(batch)[1]
    declared = one_thread.setup()
    assert disputes.rerun(oracle_pipelines, batch, 2, threads=declared.threads) == delivered
    assert oracle_pipelines.setup(threads=declared.threads) == declared


def test_the_declared_order_is_kept():
    tasks = {t.job_id: t for t in (task(1), task(2), task(3))}
    assert [t.job_id for t in disputes.rebuild(1, [3, 1, 2], BOB, members(tasks))] == [3, 1, 2]


@pytest.mark.parametrize("batch, providers, tasks, reason", [
    ([1, 3], {}, [task(1), task(3)], "does not hold job 2 once"),
    ([2, 1, 2], {}, [task(1), task(2)], "does not hold job 2 once"),
    ([1, 2], {"job1": CAROL}, [task(1), task(2)], f"job 1 was not taken by the provider {BOB}"),
    ([1, 2], {}, [task(1, steps=4), task(2)], "job 1 has another model, size, step count or guidance"),
    ([1, 2], {}, [task(1, width=128), task(2)], "job 1 has another model"),
    ([9, 2], {}, [task(2)], "job 9's JobCreated event is not on chain"),
])
def test_a_batch_that_the_chain_does_not_back_is_not_rebuildable(batch, providers, tasks, reason):
    with pytest.raises(disputes.BatchNotRebuildable, match=reason):
        disputes.rebuild(2, batch, BOB, members({t.job_id: t for t in tasks}, **providers))


def test_a_member_that_could_not_have_been_generated_is_not_rebuildable():
    with pytest.raises(disputes.BatchNotRebuildable, match="job 4 cannot be generated: .*width"):
        disputes.task_of(4, MODEL_ID, "a fox", {"width": 65, "height": 64, "steps": 3, "guidance_x100": 750, "seed": 1})


def test_on_another_setup_the_perceptual_rule_decides(worker_pipelines):
    png, other_seed = worker_pipelines.generate([task(1)])[0], worker_pipelines.generate([task(1, seed=99)])[0]
    own = worker_pipelines.setup()
    elsewhere = own.model_copy(update={"device_name": own.device_name + ", another one"})  # whatever this machine is
    assert disputes.verdict(png, png, elsewhere, own, 1)[0] is True
    provider_wins, why = disputes.verdict(other_seed, png, elsewhere, own, 1)
    assert not provider_wins and "re-run alone on another setup differs (perceptual distance" in why
    provider_wins, why = disputes.verdict(other_seed, png, own, own, 1)
    assert not provider_wins and "declared setup gives a different image" in why


@pytest.mark.parametrize("change, problem", [
    (lambda record: record | {"batch": []}, "batch"),
    (lambda record: record | {"batch": [1, 1]}, "distinct positive job ids"),
    (lambda record: record | {"batch": [0]}, "distinct positive job ids"),
    (lambda record: record | {"batch": [2**256]}, "distinct positive job ids"),
    (lambda record: record | {"batch": list(range(1, 66))}, "batch"),
    (lambda record: record | {"setup": None}, "setup"),
    (lambda record: record | {"setup": record["setup"] | {"threads": 0}}, "threads"),
    (lambda record: record | {"setup": record["setup"] | {"device_name": "x" * 129}}, "device_name"),
])
def test_a_malformed_computation_record_is_refused(worker_pipelines, change, problem):
    from degen.errors import InvalidInput

    record = Computation(batch=[1], setup=worker_pipelines.setup()).model_dump()
    assert Computation(**record).setup == worker_pipelines.setup()
    with pytest.raises(InvalidInput, match=problem):
        Computation(**change(record))
