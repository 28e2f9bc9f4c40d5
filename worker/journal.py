"""The worker's durable journal: what it did for each job, step by step, in SQLite.

Every job is keyed by (chain id, market address, job id) and only moves forward through
SEEN → ACCEPTED → GENERATED → DELIVERED → SETTLED (or ends SKIPPED with a reason). Each
step is committed before the worker acts on the next, so after `kill -9` a restart reads
where every job stood and resumes it: an accepted job is finished once, a job is never
accepted twice, and a generated image or signed receipt is reused rather than redone. The
journal also keeps the last block whose events were fully processed, for backfill."""

from __future__ import annotations

import json
import sqlite3
import time
from enum import IntEnum
from pathlib import Path
from typing import NamedTuple

from degen.errors import DegenError, InvalidInput


class Step(IntEnum):
    SEEN = 1
    ACCEPTED = 2
    GENERATED = 3
    DELIVERED = 4
    SETTLED = 5
    SKIPPED = 9


class JobKey(NamedTuple):
    chain_id: int
    market: str
    job_id: int

    def __str__(self) -> str:
        return f"{self.chain_id}:{self.market.lower()}:{self.job_id}"


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
CREATE TABLE IF NOT EXISTS cursor (
    chain_id INTEGER NOT NULL,
    market TEXT NOT NULL,
    last_block INTEGER NOT NULL,
    PRIMARY KEY (chain_id, market)
);
"""


class Journal:
    """One SQLite file (created if missing); safe to open again after any crash."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a committed step survives power loss
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def seen(self, key: JobKey, block: int) -> bool:
        """Records a JobCreated event; False if the job was already known."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO jobs (chain_id, market, job_id, step, block, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            (key.chain_id, key.market.lower(), key.job_id, Step.SEEN, block, time.time()),
        )
        return cursor.rowcount == 1

    def advance(self, key: JobKey, step: Step, **data) -> bool:
        """Moves a job to `step`, merging `data` into what is kept for it. Returns False when
        the job is already at or past `step` (a replay after restart); raises
        StepOutOfOrder when `step` would skip one or the job is unknown or skipped."""
        if step in (Step.SEEN, Step.SKIPPED):
            raise InvalidInput("use seen() and skip() for those steps")
        entry = self.get(key)
        if entry is None or entry.step == Step.SKIPPED:
            raise StepOutOfOrder(f"job {key} cannot move to {step.name}: it is {entry.step.name if entry else 'unknown'}")
        if entry.step >= step:
            return False
        if step != entry.step + 1:
            raise StepOutOfOrder(f"job {key} cannot move from {entry.step.name} to {step.name}")
        self._write(key, step, {**entry.data, **data}, None)
        return True

    def skip(self, key: JobKey, reason: str) -> None:
        """Ends a job the worker will not work on (bad params, policy, price), with why.
        Only a job that was not accepted can be skipped."""
        entry = self.get(key)
        if entry is None or entry.step > Step.SEEN:
            raise StepOutOfOrder(f"only a seen job can be skipped, {key} is {entry.step.name if entry else 'unknown'}")
        self._write(key, Step.SKIPPED, entry.data, reason)

    def forget(self, key: JobKey) -> bool:
        """Drops a job whose JobCreated log was removed by a reorg, if nothing was done for
        it yet. Returns whether it was dropped."""
        cursor = self._db.execute(
            "DELETE FROM jobs WHERE chain_id = ? AND market = ? AND job_id = ? AND step IN (?, ?)",
            (key.chain_id, key.market.lower(), key.job_id, Step.SEEN, Step.SKIPPED),
        )
        return cursor.rowcount == 1

    def get(self, key: JobKey) -> Entry | None:
        row = self._db.execute(
            "SELECT step, block, data, reason FROM jobs WHERE chain_id = ? AND market = ? AND job_id = ?",
            (key.chain_id, key.market.lower(), key.job_id),
        ).fetchone()
        return None if row is None else Entry(key, Step(row[0]), row[1], json.loads(row[2]), row[3])

    def at_step(self, chain_id: int, market: str, step: Step) -> list[Entry]:
        """Every job of a market at `step`, oldest block first (what a restart resumes)."""
        rows = self._db.execute(
            "SELECT job_id, block, data, reason FROM jobs WHERE chain_id = ? AND market = ? AND step = ? "
            "ORDER BY block, job_id",
            (chain_id, market.lower(), step),
        ).fetchall()
        return [Entry(JobKey(chain_id, market.lower(), r[0]), step, r[1], json.loads(r[2]), r[3]) for r in rows]

    def last_block(self, chain_id: int, market: str, default: int) -> int:
        """The last block whose events were fully processed (`default` before the first)."""
        row = self._db.execute(
            "SELECT last_block FROM cursor WHERE chain_id = ? AND market = ?", (chain_id, market.lower())
        ).fetchone()
        return default if row is None else row[0]

    def set_last_block(self, chain_id: int, market: str, block: int) -> None:
        """Records progress; it may move back when a reorg removes processed blocks."""
        self._db.execute(
            "INSERT INTO cursor VALUES (?, ?, ?) ON CONFLICT (chain_id, market) DO UPDATE SET last_block = excluded.last_block",
            (chain_id, market.lower(), block),
        )

    def _write(self, key: JobKey, step: Step, data: dict, reason: str | None) -> None:
        self._db.execute(
            "UPDATE jobs SET step = ?, data = ?, reason = ?, updated_at = ? WHERE chain_id = ? AND market = ? AND job_id = ?",
            (step, json.dumps(data, sort_keys=True), reason, time.time(), key.chain_id, key.market.lower(), key.job_id),
        )
