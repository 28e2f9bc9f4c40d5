"""Follows the market's events: backfills from the journal's last processed block, stays
`confirmations` blocks behind the head, and detects reorgs. The worker follows JobCreated;
the oracle subclasses `fetch` and `record` for the events it watches. Each keeps its own
journal (a `BlockJournal`).

eth_getLogs polling never reports removed logs, so the follower does what a node's removed
flag would tell: it keeps the hash of each block it processed and, before every poll,
checks the newest against the chain. On a mismatch it walks back to the last block both
agree on, rewinds the journal there (jobs seen only on the dropped branch and not worked on
are forgotten) and scans forward again."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from degen.chain.market import CreatedJob, MarketClient

log = logging.getLogger(__name__)


class JobKey(NamedTuple):
    """A job, wherever it was seen: the same id on another chain or market is another job."""

    chain_id: int
    market: str
    job_id: int

    def __str__(self) -> str:
        return f"{self.chain_id}:{self.market.lower()}:{self.job_id}"


class BlockJournal(Protocol):
    """What the follower needs of a daemon's journal: the processed-block cursor, with each
    block's hash for reorg detection (the default `record` also calls the worker journal's
    `seen`; a subclass that records other events brings its own `record`)."""

    def last_block(self, chain_id: int, market: str, default: int) -> int: ...
    def set_last_block(self, chain_id: int, market: str, number: int, block_hash: str) -> None: ...
    def processed(self, chain_id: int, market: str) -> list[tuple[int, str]]: ...
    def rewind(self, chain_id: int, market: str, to_block: int) -> list[JobKey]: ...


@dataclass
class Poll:
    head: int
    processed_to: int
    new: list = field(default_factory=list)  # events recorded for the first time
    forgotten: list[JobKey] = field(default_factory=list)


class Follower:
    def __init__(self, client: MarketClient, journal: BlockJournal, *, confirmations: int, start_block: int, max_range: int = 2_000):
        self.client, self.journal = client, journal
        self.confirmations, self.start_block, self.max_range = confirmations, start_block, max_range

    def key(self, job_id: int) -> JobKey:
        return JobKey(self.client.chain_id, self.client.address, job_id)

    @property
    def last_processed(self) -> int:
        return self.journal.last_block(self.client.chain_id, self.client.address, default=self.start_block - 1)

    def poll(self) -> Poll:
        """Processes the next range of confirmed blocks: records each new event in the journal
        and returns what changed."""
        forgotten = self._rewind_if_reorged()
        head = self.client.head()
        last = self.last_processed
        safe = head - self.confirmations
        result = Poll(head=head, processed_to=last, forgotten=forgotten)
        if safe <= last:
            return result
        to_block = min(safe, last + self.max_range)
        for event in self.fetch(last + 1, to_block):
            if self.record(event):
                result.new.append(event)
        block_hash = self.client.block_hash(to_block)
        self.journal.set_last_block(self.client.chain_id, self.client.address, to_block, block_hash)
        result.processed_to = to_block
        return result

    def fetch(self, from_block: int, to_block: int) -> list:
        """The events of a block range, in chain order."""
        return self.client.created_jobs(from_block, to_block)

    def record(self, job: CreatedJob) -> bool:
        """Writes one event to the journal; False when it was known (a replay)."""
        fields = {
            "requester": job.requester, "offer_id": job.offer_id, "model_id": job.model_id.hex(),
            "max_price": str(job.max_price), "min_collateral": str(job.min_collateral), "deadline": job.deadline,
            "challenge_window": job.challenge_window, "green": job.green, "prompt": job.prompt,
            "params": job.params,
        }
        return self.journal.seen(self.key(job.job_id), job.block_number, **fields)

    def _rewind_if_reorged(self) -> list[JobKey]:
        processed = self.journal.processed(self.client.chain_id, self.client.address)
        if not processed or self.client.block_hash(processed[0][0]) == processed[0][1]:
            return []
        fork = self.start_block - 1
        for number, block_hash in processed[1:]:
            if self.client.block_hash(number) == block_hash:
                fork = number
                break
        forgotten = self.journal.rewind(self.client.chain_id, self.client.address, fork)
        log.warning(
            "reorg: block %d changed; rescanning from block %d, forgot jobs %s",
            processed[0][0], fork + 1, [key.job_id for key in forgotten] or "none",
        )
        return forgotten
