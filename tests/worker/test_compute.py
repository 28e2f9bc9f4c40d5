"""The diffusers pipeline, loaded from disk through the production path, generating from
job params: deterministic per seed and per batch, with the setup that decides its bytes
published, bad jobs refused."""

import io
import threading
import time

import pytest
from PIL import Image

from degen.errors import InvalidInput
from tests.conftest import MODEL_ID
from degen.inference.pipelines import BatchQueue, Pipelines, Task

STEPS = 3


def task(job_id=1, prompt="a fox on a solar roof", seed=7, **params):
    fields = dict(width=64, height=64, steps=STEPS, guidance_x100=750, seed=seed) | params
    return Task.of(job_id, MODEL_ID, prompt, fields)


@pytest.fixture(scope="module")
def pipelines(tiny_model):
    return Pipelines({MODEL_ID: str(tiny_model)}, device="cpu")


def test_generates_a_png_of_the_asked_size_deterministically(pipelines):
    pipeline = pipelines.get(MODEL_ID)
    assert pipelines.get(MODEL_ID) is pipeline  # loaded once
    first, = pipelines.generate([task(width=64, height=96)])
    assert Image.open(io.BytesIO(first)).size == (64, 96)
    assert pipelines.generate([task(width=64, height=96)]) == [first]
    assert pipelines.generate([task(width=64, height=96, seed=8)]) != [first]


def test_a_batch_gives_the_same_bytes_every_time_and_reports_its_steps(pipelines):
    jobs = [task(1, "a fox", seed=1), task(2, "a solar panel", seed=2), task(3, "a battery", seed=3)]
    steps = []
    batched = pipelines.generate(jobs, on_step=lambda done, total: steps.append((done, total)))
    assert len(set(batched)) == 3 and pipelines.generate(jobs) == batched
    assert steps == [(i, STEPS) for i in range(1, STEPS + 1)]


def test_a_batch_is_reproduced_on_another_thread_with_the_thread_count_it_ran_with(pipelines, tiny_model):
    """The worker generates on its compute thread, the oracle on its chain loop: torch's
    thread count is per calling thread, so each sets the declared one before it runs."""
    jobs = [task(1, "a fox", seed=1), task(2, "a solar panel", seed=2)]
    single_threaded = Pipelines({MODEL_ID: str(tiny_model)}, device="cpu", threads=1)
    expected = single_threaded.generate(jobs)
    elsewhere = []
    runner = threading.Thread(target=lambda: elsewhere.append(pipelines.generate(jobs, threads=1)))
    runner.start()
    runner.join()
    assert elsewhere == [expected]
    assert single_threaded.setup() == pipelines.setup(threads=1) and single_threaded.setup().threads == 1


def test_the_setup_names_what_decides_the_bytes(pipelines):
    import torch

    setup = pipelines.setup()
    assert (setup.device, setup.dtype, setup.deterministic) == ("cpu", "float32", True)
    assert setup.threads == pipelines.threads >= 1 and setup.torch == torch.__version__ and setup.cuda is None
    assert setup.cpu_capability == torch.backends.cpu.get_cpu_capability() and setup.device_name
    assert torch.are_deterministic_algorithms_enabled()


def test_a_batch_must_share_its_shape(pipelines):
    with pytest.raises(InvalidInput, match="share one model"):
        pipelines.generate([task(1), task(2, steps=STEPS + 1)])


@pytest.mark.parametrize(
    "prompt, params, reason",
    [
        ("", {}, "prompt is empty"),
        ("fox", {"width": 65}, "width: Input should be a multiple of 8"),
        ("fox", {"steps": 0}, "steps: Input should be greater than or equal to 1"),
        ("fox", {"height": 4096}, "height: Input should be less than or equal to 2048"),
        ("fox", {"seed": None}, "seed: Input should be a valid integer"),
    ],
)
def test_invalid_jobs_are_refused_with_the_reason(prompt, params, reason):
    fields = dict(width=64, height=64, steps=3, guidance_x100=750, seed=1) | params
    with pytest.raises(InvalidInput, match=reason):
        Task.of(1, MODEL_ID, prompt, fields)


def test_an_unconfigured_model_is_refused(pipelines):
    assert not pipelines.knows(b"\x01" * 32)
    with pytest.raises(InvalidInput, match="not configured"):
        pipelines.get(b"\x01" * 32)


class _Queued:
    def __init__(self, job_id, **params):
        self.task = task(job_id, **params)
        self.batch_key = self.task.shape


def test_the_queue_batches_the_oldest_jobs_shape_first():
    queue = BatchQueue()
    jobs = [_Queued(1), _Queued(2, steps=STEPS + 1), _Queued(3), _Queued(4), _Queued(5)]
    for job in jobs:
        queue.put(job)
    assert queue.next_batch(max_batch=3, timeout_s=0) == [jobs[0], jobs[2], jobs[3]]
    assert queue.next_batch(max_batch=3, timeout_s=0) == [jobs[1]]
    assert queue.next_batch(max_batch=3, timeout_s=0) == [jobs[4]]
    assert queue.next_batch(max_batch=3, timeout_s=0.01) == [] and len(queue) == 0


def test_a_batch_waits_its_window_for_company_while_jobs_are_being_queued():
    queue = BatchQueue(window_s=5.0)
    with queue.gathering():
        queue.put(_Queued(1))
        threading.Timer(0.1, lambda: queue.put(_Queued(2))).start()
        started = time.monotonic()
        batch = queue.next_batch(max_batch=2, timeout_s=1)
    assert [item.task.job_id for item in batch] == [1, 2] and time.monotonic() - started < 4  # full: no need to wait on


def test_a_batch_goes_when_no_more_jobs_are_being_queued():
    queue = BatchQueue(window_s=30.0)
    gathering = queue.gathering()
    gathering.__enter__()
    queue.put(_Queued(1))
    threading.Timer(0.2, lambda: gathering.__exit__(None, None, None)).start()
    started = time.monotonic()
    assert [item.task.job_id for item in queue.next_batch(max_batch=2, timeout_s=1)] == [1]
    queue.put(_Queued(2))
    assert [item.task.job_id for item in queue.next_batch(max_batch=2, timeout_s=1)] == [2]  # alone: at once
    assert time.monotonic() - started < 15  # neither waited out its 30 s window
