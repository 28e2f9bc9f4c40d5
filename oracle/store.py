"""The oracle's sample store: SQLite by default, PostgreSQL when given its URL — one schema
and one code path through SQLAlchemy Core.

Samples are keyed by (site, timestamp); storing the same signed sample twice stores it once,
so a site agent may retry freely. Columns are 64-bit signed integers: a read for an id or time
beyond them finds nothing rather than failing. Writes from the ingest API go through
`GroupCommit`, which makes concurrent samples share one commit (one fsync)."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future

from sqlalchemy import BigInteger, event, Column, Integer, LargeBinary, MetaData, String, Table, create_engine, select
from sqlalchemy.engine import Engine

from degen.telemetry import MeterSample

log = logging.getLogger(__name__)

metadata = MetaData()
MAX_INTEGER = 2**63 - 1  # BIGINT (PostgreSQL) and INTEGER (SQLite)

samples = Table(
    "meter_samples", metadata,
    Column("site_id", BigInteger, primary_key=True),
    Column("timestamp", BigInteger, primary_key=True),
    Column("pv_watts", BigInteger, nullable=False),
    Column("register_wh", BigInteger, nullable=False),
    Column("battery_soc_permille", Integer, nullable=False),
    Column("signature", LargeBinary(65), nullable=False),
    Column("signer", String(42), nullable=False),
)

def engine_for(url: str, **options) -> Engine:
    """`sqlite:///path/oracle.sqlite` or `postgresql+psycopg://user@host/db` (`options` go to
    SQLAlchemy's create_engine); tables created if missing."""
    engine = create_engine(url, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    metadata.create_all(engine)
    return engine


def _sqlite_pragmas(connection, _record) -> None:
    """Write-ahead log: one fsync per stored sample instead of three, readers never blocked;
    synchronous=FULL keeps every answered 201 on disk through a power cut."""
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")


class SampleStore:
    def __init__(self, engine: Engine):
        self.engine = engine
        insert = samples.insert().compile(dialect=engine.dialect)  # this database's SQL and parameter style
        self._insert_sql, self._insert_order = str(insert), insert.positiontup if insert.positional else None

    def add(self, sample: MeterSample, signature: bytes, signer: str) -> bool:
        """Stores a checked sample; False when the site already has a sample at its timestamp
        (a retry: the ingest API compares the two first)."""
        return self.add_many([_row(sample, signature, signer)]) == [True]

    def add_many(self, rows: list[dict]) -> list[bool]:
        """Stores checked samples (`_row`s) in one transaction; for each, False when its site
        already had a sample at its timestamp. Should one collide, the rest are stored one by
        one. The insert SQLAlchemy compiled for this database runs on a pooled driver
        connection: the hot path of ingest, where Core's per-statement work cost about a
        third of the write."""
        params = rows if self._insert_order is None else [tuple(row[key] for key in self._insert_order) for row in rows]
        connection = self.engine.raw_connection()
        try:
            connection.cursor().executemany(self._insert_sql, params)
            connection.commit()
            return [True] * len(rows)
        except self.engine.dialect.dbapi.IntegrityError:
            connection.rollback()
            if len(rows) == 1:
                return [False]
        finally:
            connection.close()  # back to the pool
        return [self.add_many([row])[0] for row in rows]

    def get(self, site_id: int, timestamp: int) -> tuple[MeterSample, bytes] | None:
        if not (_storable(site_id) and _storable(timestamp)):
            return None
        with self.engine.connect() as db:
            row = db.execute(
                select(samples).where(samples.c.site_id == site_id, samples.c.timestamp == timestamp)
            ).first()
        return None if row is None else (_sample(row), row.signature)

    def latest(self, site_id: int) -> tuple[MeterSample, bytes] | None:
        """A site's newest sample and its signature."""
        if not _storable(site_id):
            return None
        with self.engine.connect() as db:
            row = db.execute(
                select(samples).where(samples.c.site_id == site_id).order_by(samples.c.timestamp.desc()).limit(1)
            ).first()
        return None if row is None else (_sample(row), row.signature)

    def site_ids(self) -> list[int]:
        """Every site that has posted a sample."""
        with self.engine.connect() as db:
            return [row[0] for row in db.execute(select(samples.c.site_id).distinct().order_by(samples.c.site_id))]

    def between(self, site_id: int, start: int, end: int) -> list[tuple[MeterSample, bytes]]:
        """A site's samples with start <= timestamp <= end, oldest first."""
        if not _storable(site_id):
            return []
        with self.engine.connect() as db:
            rows = db.execute(
                select(samples).where(samples.c.site_id == site_id, samples.c.timestamp >= max(start, 0),
                                      samples.c.timestamp <= min(end, MAX_INTEGER))
                .order_by(samples.c.timestamp)
            ).all()
        return [(_sample(row), row.signature) for row in rows]


class GroupCommit:
    """Durable writes shared by concurrent requests. One writer thread takes every sample
    submitted while the previous commit was in flight and stores them in one transaction —
    one fsync for all — and only then completes each sample's future: nobody hears that a
    sample is stored before it would survive a power cut, and twenty concurrent site agents
    cost a few fsyncs, not twenty. When it finds more than one sample waiting, it waits
    `gather_s` more for the others to join the commit. A failed commit fails the futures of
    its samples."""

    def __init__(self, store: SampleStore, max_rows: int = 1_000, gather_s: float = 0.001):
        self.store, self.max_rows, self.gather_s = store, max_rows, gather_s
        self._pending: list[tuple[dict, Future]] = []
        self._changed = threading.Condition()
        self._closing = False
        self.commits = 0  # transactions written (the benchmark reports samples per commit)
        self._thread = threading.Thread(target=self._write_forever, name="sample-writer", daemon=True)
        self._thread.start()

    def submit(self, sample: MeterSample, signature: bytes, signer: str) -> Future:
        """A future that completes with True once the sample is committed (False if the site
        already had a sample at its timestamp), or with the store's error."""
        durable: Future = Future()
        with self._changed:
            if self._closing:
                raise RuntimeError("the sample writer is closed")
            self._pending.append((_row(sample, signature, signer), durable))
            self._changed.notify()
        return durable

    def close(self) -> None:
        """Commits what was submitted, then stops the writer."""
        with self._changed:
            self._closing = True
            self._changed.notify()
        self._thread.join(timeout=30)

    def _write_forever(self) -> None:
        while taken := self._take(self.max_rows, wait=True):
            if 1 < len(taken) < self.max_rows and self.gather_s:
                # Samples are arriving together: give the others a moment to join this commit
                # (PostgreSQL's commit_delay). A lone sample is committed at once.
                time.sleep(self.gather_s)
                taken += self._take(self.max_rows - len(taken), wait=False)
            self._commit(taken)

    def _take(self, limit: int, wait: bool) -> list[tuple[dict, Future]]:
        """Up to `limit` pending samples; waiting for one if `wait` (none once closed)."""
        with self._changed:
            if wait:
                self._changed.wait_for(lambda: self._pending or self._closing)
            taken, self._pending = self._pending[:limit], self._pending[limit:]
        return taken

    def _commit(self, taken: list[tuple[dict, Future]]) -> None:
        try:
            results = self.store.add_many([row for row, _ in taken])
        except Exception as exc:  # noqa: BLE001 - any store failure is handed to the waiting requests
            log.error("storing samples failed", extra={"samples": len(taken), "error": str(exc)})
            for _, durable in taken:
                durable.set_exception(exc)
            return
        self.commits += 1
        for (_, durable), stored in zip(taken, results):
            durable.set_result(stored)


def _storable(value: int) -> bool:
    return 0 <= value <= MAX_INTEGER


def _row(sample: MeterSample, signature: bytes, signer: str) -> dict:
    return {**sample.model_dump(), "signature": signature, "signer": signer}


def _sample(row) -> MeterSample:
    return MeterSample(
        site_id=row.site_id, timestamp=row.timestamp, pv_watts=row.pv_watts, register_wh=row.register_wh,
        battery_soc_permille=row.battery_soc_permille,
    )
