"""The worker's durable journal: what it did for each job, step by step, in SQLite.

Every job is keyed by (chain id, market address, job id) and only moves forward through
SEEN → ACCEPTED → GENERATED → DELIVERED → SETTLED, or ends SKIPPED (never accepted) or
FAILED (accepted, not finished), with a reason. Each
step is committed before the worker acts on the next, so after `kill -9` a restart reads
where every job stood and resumes it: an accepted job is finished once, a job is never
accepted twice, and a generated image or signed receipt is reused rather than redone. The
journal also keeps the last block whose events were fully processed, for backfill."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from functools import wraps
from enum import IntEnum
from pathlib import Path
from typing import NamedTuple

from degen.chain.follower import JobKey
from degen.errors import DegenError, InvalidInput


class Step(IntEnum):
    SEEN = 1
    ACCEPTED = 2
    GENERATED = 3
    DELIVERED = 4
    SETTLED = 5
    FAILED = 8   # accepted, but could not be finished (deadline passed, job expired, ...)
    SKIPPED = 9


class Entry(NamedTuple):
    key: JobKey
    step: Step
    block: int
    data: dict
    reason: str | None


class StepOutOfOrder(DegenError, RuntimeError):
    """A step was recorded that does not follow the job's current one."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    chain_id INTEGER NOT NULL,
    market TEXT NOT NULL,
    job_id INTEGER NOT NULL,
    step INTEGER NOT NULL,
    block INTEGER NOT NULL,
    data TEXT NOT NULL DEFAULT '{}',
    reason TEXT,
    updated_at REAL NOT NULL,
    PRIMARY KEY (chain_id, market, job_id)
);
CREATE INDEX IF NOT EXISTS jobs_by_step ON jobs (chain_id, market, step);
CREATE TABLE IF NOT EXISTS processed_blocks (
    chain_id INTEGER NOT NULL,
    market TEXT NOT NULL,
    number INTEGER NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (chain_id, market, number)
);
"""
KEPT_BLOCKS = 128  # processed block hashes kept per market, to find a reorg's fork point
MAX_JOB_ID = 2**63 - 1  # SQLite's INTEGER


def _locked(method):
    @wraps(method)
    def locked(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


class Journal:
    """One SQLite file (created if missing); safe to open again after any crash, and to
    share between the worker's threads."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a committed step survives power loss
        self._db.executescript(_SCHEMA)

    @_locked
    def close(self) -> None:
        self._db.close()

    @_locked
    def seen(self, key: JobKey, block: int, **data) -> bool:
        """Records a JobCreated event with what it carried; False if the job was already known."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO jobs (chain_id, market, job_id, step, block, data, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (key.chain_id, key.market.lower(), key.job_id, Step.SEEN, block, json.dumps(data, sort_keys=True), time.time()),
        )
        return cursor.rowcount == 1

    @_locked
    def advance(self, key: JobKey, step: Step, **data) -> bool:
        """Moves a job to `step`, merging `data` into what is kept for it. Returns False when
        the job is already at or past `step` (a replay after restart); raises
        StepOutOfOrder when `step` would skip one or the job is unknown or skipped."""
        if step in (Step.SEEN, Step.SKIPPED, Step.FAILED):
            raise InvalidInput("use seen(), skip() and fail() for those steps")
        entry = self.get(key)
        if entry is None or entry.step in (Step.SKIPPED, Step.FAILED):
            raise StepOutOfOrder(f"job {key} cannot move to {step.name}: it is {entry.step.name if entry else 'unknown'}")
        if entry.step >= step:
            return False
        if step != entry.step + 1:
            raise StepOutOfOrder(f"job {key} cannot move from {entry.step.name} to {step.name}")
        self._write(key, step, {**entry.data, **data}, None)
        return True

    @_locked
    def note(self, key: JobKey, **data) -> None:
        """Merges `data` into what is kept for a job without moving its step (what the worker
        is about to do, so a restart knows to look for it on chain)."""
        entry = self.get(key)
        if entry is None:
            raise StepOutOfOrder(f"job {key} is unknown")
        self._write(key, entry.step, {**entry.data, **data}, None)

    @_locked
    def skip(self, key: JobKey, reason: str) -> None:
        """Ends a job the worker will not work on (bad params, policy, price), with why.
        Only a job that was not accepted can be skipped."""
        entry = self.get(key)
        if entry is None or entry.step > Step.SEEN:
            raise StepOutOfOrder(f"only a seen job can be skipped, {key} is {entry.step.name if entry else 'unknown'}")
        self._write(key, Step.SKIPPED, entry.data, reason)

    @_locked
    def fail(self, key: JobKey, reason: str) -> None:
        """Ends an accepted job the worker cannot finish, with why."""
        entry = self.get(key)
        if entry is None or not Step.ACCEPTED <= entry.step <= Step.DELIVERED:
            raise StepOutOfOrder(f"only an accepted, unsettled job can fail, {key} is {entry.step.name if entry else 'unknown'}")
        self._write(key, Step.FAILED, entry.data, reason)

    @_locked
    def counts(self, chain_id: int, market: str) -> dict[str, int]:
        """How many jobs of a market stand at each step."""
        rows = self._db.execute(
            "SELECT step, COUNT(*) FROM jobs WHERE chain_id = ? AND market = ? GROUP BY step", (chain_id, market.lower())
        ).fetchall()
        return {Step(step).name.lower(): count for step, count in rows}

    @_locked
    def get(self, key: JobKey) -> Entry | None:
        if not 0 <= key.job_id <= MAX_JOB_ID:
            return None  # the market numbers jobs from 1: no id this large was ever journaled
        row = self._db.execute(
            "SELECT step, block, data, reason FROM jobs WHERE chain_id = ? AND market = ? AND job_id = ?",
            (key.chain_id, key.market.lower(), key.job_id),
        ).fetchone()
        return None if row is None else Entry(key, Step(row[0]), row[1], json.loads(row[2]), row[3])

    @_locked
    def at_step(self, chain_id: int, market: str, step: Step) -> list[Entry]:
        """Every job of a market at `step`, oldest block first (what a restart resumes)."""
        rows = self._db.execute(
            "SELECT job_id, block, data, reason FROM jobs WHERE chain_id = ? AND market = ? AND step = ? "
            "ORDER BY block, job_id",
            (chain_id, market.lower(), step),
        ).fetchall()
        return [Entry(JobKey(chain_id, market, r[0]), step, r[1], json.loads(r[2]), r[3]) for r in rows]

    @_locked
    def last_block(self, chain_id: int, market: str, default: int) -> int:
        """The last block whose events were fully processed (`default` before the first)."""
        row = self._db.execute(
            "SELECT MAX(number) FROM processed_blocks WHERE chain_id = ? AND market = ?", (chain_id, market.lower())
        ).fetchone()
        return default if row[0] is None else row[0]

    @_locked
    def processed(self, chain_id: int, market: str) -> list[tuple[int, str]]:
        """(number, hash) of the recently processed blocks, newest first."""
        return self._db.execute(
            "SELECT number, hash FROM processed_blocks WHERE chain_id = ? AND market = ? ORDER BY number DESC",
            (chain_id, market.lower()),
        ).fetchall()

    @_locked
    def set_last_block(self, chain_id: int, market: str, number: int, block_hash: str) -> None:
        """Records that every event up to block `number` (whose hash was `block_hash`) was processed."""
        market = market.lower()
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("INSERT OR REPLACE INTO processed_blocks VALUES (?, ?, ?, ?)", (chain_id, market, number, block_hash))
            self._db.execute(
                "DELETE FROM processed_blocks WHERE chain_id = ? AND market = ? AND number <= ?",
                (chain_id, market, number - KEPT_BLOCKS),
            )

    @_locked
    def rewind(self, chain_id: int, market: str, to_block: int) -> list[JobKey]:
        """Undoes processing above `to_block` after a reorg: drops those blocks and forgets
        the jobs first seen in them that were not worked on (they are seen again if their
        JobCreated is still on the new chain). Returns the forgotten jobs."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "DELETE FROM processed_blocks WHERE chain_id = ? AND market = ? AND number > ?",
                (chain_id, market.lower(), to_block),
            )
            rows = self._db.execute(
                "DELETE FROM jobs WHERE chain_id = ? AND market = ? AND block > ? AND step IN (?, ?) RETURNING job_id",
                (chain_id, market.lower(), to_block, Step.SEEN, Step.SKIPPED),
            ).fetchall()
        return sorted(JobKey(chain_id, market, row[0]) for row in rows)

    def _write(self, key: JobKey, step: Step, data: dict, reason: str | None) -> None:
        self._db.execute(
            "UPDATE jobs SET step = ?, data = ?, reason = ?, updated_at = ? WHERE chain_id = ? AND market = ? AND job_id = ?",
            (step, json.dumps(data, sort_keys=True), reason, time.time(), key.chain_id, key.market.lower(), key.job_id),
        )
