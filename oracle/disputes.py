"""The re-run that decides a dispute over a result that is served and hashes right.

The worker publishes how it computed each delivery (`Computation`: the jobs of its pipeline
call in order, and its setup). The oracle rebuilds that batch from the prompts and params
on chain, runs it on its own pipeline with the worker's CPU thread count, and compares the
disputed job's image with the delivered one:
- identical bytes: the provider wins;
- different bytes on the setup the worker declared (same device, device model, kernels,
  dtype, versions, determinism): the requester wins, since that setup reproduces its bytes;
- on another setup: the perceptual rule (`oracle.perceptual`) decides.
A batch that cannot be rebuilt from the chain (a job that does not exist, was never taken,
belongs to another provider, or has another model or shape) loses the dispute for the
provider."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from degen.errors import DegenError, InvalidInput
from degen.models import ComputeSetup
from oracle import perceptual
from degen.inference.pipelines import Pipelines, Task


class BatchNotRebuildable(DegenError, ValueError):
    """The batch a worker declares cannot be rebuilt from the chain."""


@dataclass(frozen=True)
class Member:
    """A job a worker declares in a batch, as the chain has it."""

    provider: str  # who accepted it ("" when nobody did)
    task: Task


def rebuild(job_id: int, batch: Sequence[int], provider: str, member: Callable[[int], Member]) -> list[Task]:
    """The tasks of the declared `batch` (job ids in pipeline order) around the disputed
    `job_id`, read through `member` (which raises BatchNotRebuildable for a job the chain does
    not have); every job must have been taken by `provider` and share the disputed job's
    model and shape."""
    if list(batch).count(job_id) != 1:
        raise BatchNotRebuildable(f"the declared batch {list(batch)} does not hold job {job_id} once")
    members = {other: member(other) for other in batch}
    shape = members[job_id].task.shape
    for other, found in members.items():
        if found.provider.lower() != provider.lower():
            raise BatchNotRebuildable(f"job {other} was not taken by the provider {provider}")
        if found.task.shape != shape:
            raise BatchNotRebuildable(f"job {other} has another model, size, step count or guidance than job {job_id}")
    return [members[other].task for other in batch]


def task_of(job_id: int, model_id: bytes, prompt: str, params: dict) -> Task:
    """A batch member's task from its JobCreated prompt and params; a job the worker could not
    have run is not rebuildable."""
    try:
        return Task.of(job_id, model_id, prompt, params)
    except InvalidInput as exc:
        raise BatchNotRebuildable(f"job {job_id} cannot be generated: {exc}") from None


def rerun(pipelines: Pipelines, batch: Sequence[Task], job_id: int, threads: int | None = None) -> bytes:
    """The disputed job's image from a re-run of its whole batch, in the declared order."""
    images = pipelines.generate(batch, threads=threads)
    return images[[task.job_id for task in batch].index(job_id)]


def verdict(rerun_png: bytes, delivered_png: bytes, declared: ComputeSetup, own: ComputeSetup, batch_size: int) -> tuple[bool, str]:
    """(provider wins?, why) for a delivered image against the re-run of its batch."""
    company = "alone" if batch_size == 1 else f"in its batch of {batch_size}"
    if rerun_png == delivered_png:
        return True, f"re-run {company} gives the identical image"
    if declared == own:
        return False, f"re-run {company} on the provider's declared setup gives a different image"
    distance = perceptual.distance(rerun_png, delivered_png)
    if distance <= perceptual.MATCH_THRESHOLD:
        return True, f"re-run {company} on another setup matches perceptually (distance {distance}/{perceptual.BITS})"
    return False, f"re-run {company} on another setup differs (perceptual distance {distance}/{perceptual.BITS})"
