"""Image generation: Stable Diffusion pipelines loaded once per model, and batched calls.

Jobs that share a model and a shape (size, steps, guidance) run as one pipeline call with a
generator per job. What a job's image is depends on its seed *and* on its company: numerical
kernels block their sums differently for different batch sizes, thread counts and CPUs or
GPUs, so a job run alone may differ from the same job run in a batch in the last bits. What
holds, and what disputes rely on: the same batch (the same jobs in the same order) on the
same setup (`Pipelines.setup`) gives identical bytes. The worker publishes both for every
delivery; an arbiter rebuilds that batch and re-runs it."""

from __future__ import annotations

import io
import logging
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from pydantic import ValidationError

from degen.errors import InvalidInput, describe
from degen.models import ComputeSetup, GenerationParams, check_prompt

log = logging.getLogger(__name__)

StepCallback = Callable[[int, int], None]  # (steps done, steps in the call)


@dataclass(frozen=True)
class Task:
    """One job's generation request, validated."""

    job_id: int
    model_id: bytes
    prompt: str
    params: GenerationParams

    @classmethod
    def of(cls, job_id: int, model_id: bytes, prompt: str, params: dict | GenerationParams) -> Task:
        """Validates what a JobCreated event carried; raises InvalidInput with the reason."""
        if not isinstance(params, GenerationParams):
            try:
                params = GenerationParams.model_validate(params)
            except ValidationError as exc:
                raise InvalidInput(f"invalid generation params: {describe(exc.errors(), whole='params')}") from None
        return cls(job_id, bytes(model_id), check_prompt(prompt), params)

    @property
    def shape(self) -> tuple:
        """Tasks with equal shapes (and model) can share one pipeline call."""
        p = self.params
        return (self.model_id, p.width, p.height, p.steps, p.guidance_x100)

    @property
    def work(self) -> int:
        """Relative compute cost, used to split a batch's energy: pixels × steps."""
        return self.params.width * self.params.height * self.params.steps


def quiet_hugging_face() -> None:
    """Silences diffusers' and transformers' progress bars and notices (our logs say what
    loads); call before importing them."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    for library in (diffusers_logging, transformers_logging):
        library.set_verbosity_error()
        library.disable_progress_bar()


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def set_determinism(deterministic: bool) -> None:
    """Process-wide torch switches for reproducible kernels: deterministic algorithms (where an
    op has none, torch warns and the setup's bytes may vary), cuBLAS's fixed workspace (read
    when CUDA starts, so this must run before the first CUDA call) and cuDNN without
    autotuning. Off restores torch's defaults (the benchmark measures the difference)."""
    import torch

    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = False  # timing-based kernel choice is never reproducible


def _device_name(device: str) -> str:
    import platform

    import torch

    if device == "cuda":
        return torch.cuda.get_device_name()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            names = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
    except OSError:
        names = []
    return (names[0] if names else platform.processor() or platform.machine())[:128]


class Pipelines:
    """Loads each configured model once (local directory or hub id), on first use, and runs
    batches with a fixed number of CPU threads and torch's determinism switches set."""

    def __init__(self, sources: dict[bytes, str], device: str | None = None, *, threads: int | None = None,
                 deterministic: bool = True):
        import torch

        set_determinism(deterministic)
        self._sources = dict(sources)
        self._loaded: dict[bytes, Any] = {}
        self._lock = threading.Lock()
        self.device = device or default_device()
        self.threads = threads or torch.get_num_threads()  # default: torch's, one per physical core
        self.deterministic = deterministic
        self._setup: ComputeSetup | None = None

    def knows(self, model_id: bytes) -> bool:
        return model_id in self._sources

    @property
    def dtype(self):
        import torch

        return torch.float16 if self.device == "cuda" else torch.float32

    def setup(self, threads: int | None = None) -> ComputeSetup:
        """What decides the exact bytes of an image besides its batch (with `threads` CPU
        threads instead of this instance's, when given): equal setups, identical bytes."""
        if self._setup is None:
            import torch
            from importlib.metadata import version

            self._setup = ComputeSetup(
                device=self.device, device_name=_device_name(self.device),
                cpu_capability=torch.backends.cpu.get_cpu_capability(), dtype=str(self.dtype).removeprefix("torch."),
                torch=torch.__version__, cuda=torch.version.cuda if self.device == "cuda" else None,
                diffusers=version("diffusers"), transformers=version("transformers"),
                deterministic=self.deterministic, threads=self.threads,
            )
        return self._setup if threads is None else self._setup.model_copy(update={"threads": threads})

    def get(self, model_id: bytes):
        with self._lock:
            if model_id not in self._loaded:
                if model_id not in self._sources:
                    raise InvalidInput(f"model 0x{model_id.hex()} is not configured on this worker")
                self._loaded[model_id] = self._load(self._sources[model_id])
            return self._loaded[model_id]

    def generate(self, tasks: Sequence[Task], on_step: StepCallback | None = None, *, threads: int | None = None) -> list[bytes]:
        """Runs `tasks` (one model and shape) as one pipeline call on the calling thread, with
        `threads` CPU threads (default: this instance's); one PNG per task, in order."""
        import torch

        if not tasks:
            return []
        _check_one_shape(tasks)
        wanted = threads or self.threads
        if torch.get_num_threads() != wanted:  # torch's count is per calling thread
            torch.set_num_threads(wanted)
        return _run(self.get(tasks[0].model_id), tasks, on_step)

    def warm_up(self, model_id: bytes) -> None:
        """Loads the model and runs a smallest generation (with classifier-free guidance, as
        jobs use it), so the first job does not pay for lazy initialisation."""
        self.generate([Task.of(0, model_id, "warm-up", GenerationParams(width=64, height=64, steps=2, guidance_x100=750, seed=0))])

    def _load(self, source: str):
        quiet_hugging_face()
        from diffusers import StableDiffusionPipeline

        log.info("loading model %s on %s", source, self.device)
        pipeline = StableDiffusionPipeline.from_pretrained(
            source, torch_dtype=self.dtype, safety_checker=None, requires_safety_checker=False
        )
        pipeline.set_progress_bar_config(disable=True)
        return pipeline.to(self.device)


def _check_one_shape(tasks: Sequence[Task]) -> None:
    if any(task.shape != tasks[0].shape for task in tasks):
        raise InvalidInput("a batch must share one model, size, step count and guidance")


def _run(pipeline, tasks: Sequence[Task], on_step: StepCallback | None) -> list[bytes]:
    import torch

    params = tasks[0].params
    generators = [torch.Generator(device="cpu").manual_seed(task.params.seed) for task in tasks]

    def step_end(_pipeline, step: int, _timestep, callback_kwargs):
        if on_step is not None:
            on_step(step + 1, params.steps)
        return callback_kwargs

    with torch.inference_mode():
        images = pipeline(
            [task.prompt for task in tasks],
            width=params.width,
            height=params.height,
            num_inference_steps=params.steps,
            guidance_scale=params.guidance_x100 / 100,
            generator=generators,
            output_type="pil",
            callback_on_step_end=step_end,
        ).images
    return [_png(image) for image in images]


def _png(image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


class BatchQueue:
    """Accepted jobs waiting for the GPU. `next_batch` hands out the oldest job together with
    the queued jobs of the same `batch_key` (its task's shape, and whatever else must match
    for jobs to share a pipeline call; up to `max_batch`), so a backlog is worked in as few
    pipeline calls as possible while the oldest job still goes first. While more jobs are
    being queued (`gathering`: the worker accepting what one round found), a batch may wait up
    to `window_s` after its oldest job arrived for more of its shape (dynamic batching: a
    little latency for throughput); a job that comes alone goes at once."""

    def __init__(self, window_s: float = 0.0):
        self.window_s = window_s
        self._items: list[tuple[float, object]] = []  # (arrival, item with a `batch_key`)
        self._gathering = 0
        self._changed = threading.Condition()

    @contextmanager
    def gathering(self):
        """Within it, more jobs may follow each one put: a batch waits its window for them."""
        with self._changed:
            self._gathering += 1
        try:
            yield self
        finally:
            with self._changed:
                self._gathering -= 1
                self._changed.notify_all()

    def __len__(self) -> int:
        with self._changed:
            return len(self._items)

    def put(self, item) -> None:
        with self._changed:
            self._items.append((time.monotonic(), item))
            self._changed.notify_all()

    def next_batch(self, max_batch: int, timeout_s: float) -> list:
        with self._changed:
            if not self._changed.wait_for(lambda: self._items, timeout_s):
                return []
            arrived, oldest = self._items[0]
            ready = lambda: not self._gathering or sum(item.batch_key == oldest.batch_key  # noqa: E731
                                                       for _, item in self._items) >= max_batch
            self._changed.wait_for(ready, max(0.0, arrived + self.window_s - time.monotonic()))
            batch = [item for _, item in self._items if item.batch_key == oldest.batch_key][:max_batch]
            taken = {id(item) for item in batch}
            self._items = [(at, item) for at, item in self._items if id(item) not in taken]
            return batch
