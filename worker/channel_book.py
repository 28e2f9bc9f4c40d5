"""The worker's durable record of its channels, in SQLite: every order it served (the
requester's signed order, the meter-signed receipt, the price) and the latest voucher each
requester signed, with how far the chain has redeemed it.

A served job is committed before its image leaves the worker, and a voucher before the worker
says it took it, so after `kill -9` a restart still knows what each requester owes and holds
the signature that makes the chain pay it."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import NamedTuple

from degen import channels
from degen.channels import ServedJob, Tab
from degen.models import Voucher

_SCHEMA = """
CREATE TABLE IF NOT EXISTS channel_jobs (
    chain_id INTEGER NOT NULL,
    contract TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    nonce INTEGER NOT NULL,
    job_id TEXT NOT NULL,
    served TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    leaf TEXT NOT NULL,
    metadata TEXT NOT NULL,
    served_at REAL NOT NULL,
    PRIMARY KEY (chain_id, contract, channel_id, nonce)
);
CREATE UNIQUE INDEX IF NOT EXISTS channel_jobs_by_id ON channel_jobs (job_id);
CREATE TABLE IF NOT EXISTS channel_vouchers (
    chain_id INTEGER NOT NULL,
    contract TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    voucher TEXT NOT NULL,
    signature TEXT NOT NULL,
    redeemed_jobs INTEGER NOT NULL DEFAULT 0,
    redeemed_amount TEXT NOT NULL DEFAULT '0',
    redeemed_green_mwh INTEGER NOT NULL DEFAULT 0,
    held_since REAL NOT NULL,
    PRIMARY KEY (chain_id, contract, channel_id)
);
"""


class BookedJob(NamedTuple):
    """A served channel job as the book keeps it."""

    channel_id: int
    served: ServedJob
    sha256: bytes
    leaf: bytes
    metadata: dict  # how it was computed: meter, estimate, batch, setup


class HeldVoucher(NamedTuple):
    voucher: Voucher
    signature: bytes
    redeemed_jobs: int  # as of the last voucher the chain paid: its jobs, amount and green energy
    redeemed_amount: int
    redeemed_green_mwh: int
    held_since: float  # unix seconds: when the first voucher not yet redeemed came


class ChannelBook:
    """One SQLite file (created if missing), shared by the worker's threads, for the channels
    of one JobChannels contract."""

    def __init__(self, path: Path, chain_id: int, contract: str):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a served job or voucher survives power loss
        self._db.executescript(_SCHEMA)
        self._where = (chain_id, contract.lower())

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def serve(self, job: BookedJob) -> None:
        """Records a served job; its nonce must be the channel's next (raises
        sqlite3.IntegrityError when that nonce was served already)."""
        served = job.served
        with self._lock:
            self._db.execute(
                "INSERT INTO channel_jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*self._where, str(job.channel_id), served.order.nonce, _job_key(served.receipt.job_id),
                 json.dumps(served.wire()), job.sha256.hex(), job.leaf.hex(), json.dumps(job.metadata), time.time()))

    def job_at(self, channel_id: int, nonce: int) -> BookedJob | None:
        """The channel's served job of order `nonce`."""
        with self._lock:
            row = self._db.execute(
                "SELECT served, sha256, leaf, metadata FROM channel_jobs WHERE chain_id = ? AND contract = ? AND channel_id = ? "
                "AND nonce = ?", (*self._where, str(channel_id), nonce)).fetchone()
        return None if row is None else _booked(channel_id, *row)

    def job(self, job_id: int) -> BookedJob | None:
        """A served job by its receipt's job id (the order's digest)."""
        with self._lock:
            row = self._db.execute(
                "SELECT channel_id, served, sha256, leaf, metadata FROM channel_jobs WHERE job_id = ?", (_job_key(job_id),)
            ).fetchone()
        return None if row is None else _booked(int(row[0]), *row[1:])

    def tab(self, channel_id: int) -> Tab:
        """What the channel's requester owes for every job served (read from the columns a tab
        needs, not the whole served jobs: an order reads it)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT json_extract(served, '$.price'), json_extract(served, '$.receipt.energy_mwh'), "
                "json_extract(served, '$.order.green'), leaf FROM channel_jobs WHERE chain_id = ? AND contract = ? "
                "AND channel_id = ? ORDER BY nonce", (*self._where, str(channel_id))).fetchall()
        tab = Tab(channel_id)
        for price, energy_mwh, green, leaf in rows:
            tab = tab.served(int(price), int(energy_mwh), bool(green), bytes.fromhex(leaf))
        return tab

    def held(self, channel_id: int) -> HeldVoucher | None:
        """The latest voucher the channel's requester signed."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_HELD} FROM channel_vouchers "
                "WHERE chain_id = ? AND contract = ? AND channel_id = ?", (*self._where, str(channel_id))).fetchone()
        return None if row is None else _held(*row)

    def hold(self, voucher: Voucher, signature: bytes) -> None:
        """Keeps a newer voucher (it replaces the one before; `held_since` stays while the
        earlier one is not redeemed)."""
        wire = json.dumps(channels.voucher_wire(voucher))
        with self._lock:
            self._db.execute(
                "INSERT INTO channel_vouchers VALUES (?, ?, ?, ?, ?, 0, '0', 0, ?) ON CONFLICT DO UPDATE SET voucher = excluded.voucher, "
                "signature = excluded.signature, held_since = CASE WHEN redeemed_jobs >= "
                "json_extract(channel_vouchers.voucher, '$.jobs') THEN excluded.held_since ELSE held_since END",
                (*self._where, str(voucher.channel_id), wire, signature.hex(), time.time()))

    def redeemed(self, channel_id: int, voucher: Voucher) -> None:
        """Records that the chain has paid the channel's vouchers up to `voucher`."""
        with self._lock:
            self._db.execute(
                "UPDATE channel_vouchers SET redeemed_jobs = ?, redeemed_amount = ?, redeemed_green_mwh = ? "
                "WHERE chain_id = ? AND contract = ? AND channel_id = ? AND redeemed_jobs < ?",
                (voucher.jobs, str(voucher.amount), voucher.green_mwh, *self._where, str(channel_id), voucher.jobs))

    def unredeemed(self) -> dict[int, HeldVoucher]:
        """Every channel whose latest voucher covers jobs the chain has not paid, by id."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT channel_id, {_HELD} FROM channel_vouchers "
                "WHERE chain_id = ? AND contract = ? AND json_extract(voucher, '$.jobs') > redeemed_jobs",
                self._where).fetchall()
        return {int(row[0]): _held(*row[1:]) for row in rows}

    def counts(self) -> dict[str, int]:
        """Channels served, jobs served and jobs whose voucher the chain has not paid yet."""
        with self._lock:
            channels_, jobs = self._db.execute(
                "SELECT COUNT(DISTINCT channel_id), COUNT(*) FROM channel_jobs WHERE chain_id = ? AND contract = ?",
                self._where).fetchone()
            unpaid = self._db.execute(
                "SELECT COALESCE(SUM(json_extract(voucher, '$.jobs') - redeemed_jobs), 0) FROM channel_vouchers "
                "WHERE chain_id = ? AND contract = ?", self._where).fetchone()[0]
        return {"channels": channels_, "jobs": jobs, "unredeemed_jobs": unpaid}


def _job_key(job_id: int) -> str:
    return f"{job_id:064x}"


def _booked(channel_id: int, served: str, sha256: str, leaf: str, metadata: str) -> BookedJob:
    return BookedJob(channel_id, ServedJob.from_wire(json.loads(served)), bytes.fromhex(sha256), bytes.fromhex(leaf),
                     json.loads(metadata))


_HELD = "voucher, signature, redeemed_jobs, redeemed_amount, redeemed_green_mwh, held_since"


def _held(voucher: str, signature: str, redeemed_jobs: int, redeemed_amount: str, redeemed_green_mwh: int,
          held_since: float) -> HeldVoucher:
    return HeldVoucher(channels.voucher_from_wire(json.loads(voucher)), bytes.fromhex(signature), redeemed_jobs,
                       int(redeemed_amount), redeemed_green_mwh, held_since)
