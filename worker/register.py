"""The site's cumulative meter register, persisted in SQLite.

Like a utility meter's kWh register it only moves forward: each job's energy is a reading
`[meter_start, meter_end)` taken from it, and the market refuses a receipt whose
`meter_start` is below the last `meter_end` it saw for the site. Readings are keyed by job,
so asking again for a job that already has one (after a crash and restart) returns the same
reading instead of taking a new one."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import NamedTuple

from degen.errors import InvalidInput

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meter_register (
    site_id INTEGER PRIMARY KEY,
    value_mwh INTEGER NOT NULL CHECK (value_mwh >= 0)
);
CREATE TABLE IF NOT EXISTS meter_readings (
    job_key TEXT PRIMARY KEY,
    site_id INTEGER NOT NULL,
    meter_start INTEGER NOT NULL,
    meter_end INTEGER NOT NULL CHECK (meter_end >= meter_start)
);
"""


class Reading(NamedTuple):
    meter_start: int
    meter_end: int

    @property
    def energy_mwh(self) -> int:
        return self.meter_end - self.meter_start


class MeterRegister:
    """One site's register in the worker's SQLite file (created if missing), shared by the
    worker's chain loop (market jobs) and its result server (channel jobs)."""

    def __init__(self, path: Path, site_id: int):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)  # explicit transactions below
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._site = site_id
        self._db.execute("INSERT OR IGNORE INTO meter_register VALUES (?, 0)", (site_id,))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @property
    def value(self) -> int:
        """The register now, in mWh."""
        with self._lock:
            return self._db.execute("SELECT value_mwh FROM meter_register WHERE site_id = ?", (self._site,)).fetchone()[0]

    def catch_up(self, on_chain_mwh: int) -> int:
        """Moves the register up to the market's last delivered reading for the site, if it
        is behind (a lost state file, or another machine that delivered for the site)."""
        with self._lock:
            self._db.execute(
                "UPDATE meter_register SET value_mwh = MAX(value_mwh, ?) WHERE site_id = ?", (on_chain_mwh, self._site)
            )
            return self.value

    def discard(self, job_key: str) -> None:
        """Forgets a job's reading that never reached the chain (its delivery was refused).
        The register does not move back: the range stays unused, as receipts only need to
        start at or above the last delivered end."""
        with self._lock:
            self._db.execute("DELETE FROM meter_readings WHERE job_key = ?", (job_key,))

    def read(self, job_key: str, energy_mwh: int) -> Reading:
        """The reading for `job_key`: the one taken before if there is one, else a new one
        of `energy_mwh` starting at the register, which moves to its end."""
        if energy_mwh < 0:
            raise InvalidInput(f"energy must not be negative, got {energy_mwh}")
        with self._lock:
            return self._read(job_key, energy_mwh)

    def _read(self, job_key: str, energy_mwh: int) -> Reading:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            row = self._db.execute(
                "SELECT meter_start, meter_end FROM meter_readings WHERE job_key = ?", (job_key,)
            ).fetchone()
            if row is None:
                start = self.value
                row = (start, start + energy_mwh)
                self._db.execute("INSERT INTO meter_readings VALUES (?, ?, ?, ?)", (job_key, self._site, *row))
                self._db.execute("UPDATE meter_register SET value_mwh = ? WHERE site_id = ?", (row[1], self._site))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return Reading(*row)
