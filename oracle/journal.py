"""The oracle's journal, in the same database as the samples (SQLite or PostgreSQL): the jobs
it watches and the blocks whose events it processed.

A job moves forward only — CREATED → ACCEPTED → DELIVERED → DISPUTED → DONE — as the
market's events say; replaying an event is a no-op. The oracle never acts on the journal
alone: before each keeper or arbiter transaction it reads the job on chain and simulates the
call, so a crash between sending and recording, or an event from a block later reorged away,
only makes it look again. That is also why a reorg just moves the block cursor back."""

from __future__ import annotations

import json
import time
from enum import IntEnum
from typing import NamedTuple

from sqlalchemy import BigInteger, Column, Float, Integer, String, Table, Text, delete, func, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from oracle.store import metadata
from degen.chain.follower import JobKey

KEPT_BLOCKS = 128


class Phase(IntEnum):
    CREATED = 1
    ACCEPTED = 2
    DELIVERED = 3
    DISPUTED = 4
    DONE = 9


class Watched(NamedTuple):
    job_id: int
    phase: Phase
    data: dict
    outcome: str | None


jobs = Table(
    "oracle_jobs", metadata,
    Column("chain_id", BigInteger, primary_key=True),
    Column("market", String(42), primary_key=True),
    Column("job_id", BigInteger, primary_key=True),
    Column("phase", Integer, nullable=False),
    Column("data", Text, nullable=False),
    Column("outcome", Text),
    Column("updated_at", Float, nullable=False),
)

blocks = Table(
    "oracle_blocks", metadata,
    Column("chain_id", BigInteger, primary_key=True),
    Column("market", String(42), primary_key=True),
    Column("number", BigInteger, primary_key=True),
    Column("hash", String(66), nullable=False),
)


class OracleJournal:
    def __init__(self, engine: Engine, chain_id: int, market: str):
        metadata.create_all(engine)
        self.engine, self.chain_id, self.market = engine, chain_id, market.lower()

    def _key(self, table):
        return (table.c.chain_id == self.chain_id) & (table.c.market == self.market)

    def record(self, job_id: int, phase: Phase, **data) -> bool:
        """Moves a job forward to `phase`, merging `data`; False when it already was there or past."""
        with self.engine.begin() as db:
            row = db.execute(select(jobs.c.phase, jobs.c.data).where(self._key(jobs), jobs.c.job_id == job_id)).first()
            if row is None:
                try:
                    db.execute(insert(jobs).values(chain_id=self.chain_id, market=self.market, job_id=job_id, phase=phase,
                                                   data=json.dumps(data, sort_keys=True), updated_at=time.time()))
                except IntegrityError:  # another writer recorded it first
                    return False
                return True
            if row.phase >= phase:
                return False
            merged = {**json.loads(row.data), **data}
            db.execute(update(jobs).where(self._key(jobs), jobs.c.job_id == job_id)
                       .values(phase=phase, data=json.dumps(merged, sort_keys=True), updated_at=time.time()))
            return True

    def finish(self, job_id: int, outcome: str) -> None:
        with self.engine.begin() as db:
            db.execute(update(jobs).where(self._key(jobs), jobs.c.job_id == job_id)
                       .values(phase=Phase.DONE, outcome=outcome, updated_at=time.time()))

    def note(self, job_id: int, **data) -> None:
        """Merges `data` into a job's record without moving it (verification results)."""
        with self.engine.begin() as db:
            row = db.execute(select(jobs.c.data).where(self._key(jobs), jobs.c.job_id == job_id)).first()
            if row is not None:
                db.execute(update(jobs).where(self._key(jobs), jobs.c.job_id == job_id)
                           .values(data=json.dumps({**json.loads(row.data), **data}, sort_keys=True), updated_at=time.time()))

    def get(self, job_id: int) -> Watched | None:
        with self.engine.connect() as db:
            row = db.execute(select(jobs).where(self._key(jobs), jobs.c.job_id == job_id)).first()
        return None if row is None else Watched(row.job_id, Phase(row.phase), json.loads(row.data), row.outcome)

    def at_phase(self, phase: Phase) -> list[Watched]:
        with self.engine.connect() as db:
            rows = db.execute(select(jobs).where(self._key(jobs), jobs.c.phase == phase).order_by(jobs.c.job_id)).all()
        return [Watched(row.job_id, phase, json.loads(row.data), row.outcome) for row in rows]

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as db:
            rows = db.execute(select(jobs.c.phase, func.count()).where(self._key(jobs)).group_by(jobs.c.phase)).all()
        return {Phase(phase).name.lower(): count for phase, count in rows}

    # ---- the block cursor (the interface degen.chain.follower.Follower reads and writes) --------

    def last_block(self, chain_id: int, market: str, default: int) -> int:
        with self.engine.connect() as db:
            number = db.execute(select(func.max(blocks.c.number)).where(self._key(blocks))).scalar()
        return default if number is None else number

    def processed(self, chain_id: int, market: str) -> list[tuple[int, str]]:
        with self.engine.connect() as db:
            rows = db.execute(select(blocks.c.number, blocks.c.hash).where(self._key(blocks)).order_by(blocks.c.number.desc())).all()
        return [tuple(row) for row in rows]

    def set_last_block(self, chain_id: int, market: str, number: int, block_hash: str) -> None:
        with self.engine.begin() as db:
            db.execute(delete(blocks).where(self._key(blocks), (blocks.c.number == number) | (blocks.c.number <= number - KEPT_BLOCKS)))
            db.execute(insert(blocks).values(chain_id=self.chain_id, market=self.market, number=number, hash=block_hash))

    def rewind(self, chain_id: int, market: str, to_block: int) -> list[JobKey]:
        """Drops the processed blocks above `to_block`; no job is forgotten (see the module docstring)."""
        with self.engine.begin() as db:
            db.execute(delete(blocks).where(self._key(blocks), blocks.c.number > to_block))
        return []
