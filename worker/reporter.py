"""The site agent's telemetry: every `interval_s` it reads the inverter and battery, signs a
MeterSample with the site's meter key and posts it to the oracle.

Samples go through an outbox in SQLite first, so none is lost while the oracle is down or
the worker restarts: each round posts the outbox oldest first (`POST /samples/batch`, up to
100 per request) and stops at the first failure (retrying next round). The oracle answers
each sample 201 when stored and 200 when it already had it (a retry after a lost answer); a
sample it refuses for good (4xx) is dropped with its reason in the log, since sending it
again would be refused again."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Callable

import requests

from degen import telemetry
from degen.errors import DegenError
from degen.telemetry import MeterSample
from worker.policy import SiteState

log = logging.getLogger("worker.telemetry")
BATCH = 100  # samples per request when the outbox holds a backlog


class MissingPoints(DegenError, ValueError):
    """The site does not report what a meter sample holds."""


def sample_of(state: SiteState, site_id: int, timestamp: int) -> MeterSample:
    """The signed sample's content; MissingPoints when the site lacks one of its points (a
    sample never says 0 for what was not measured). A PV-only site's sample says NO_BATTERY."""
    soc = state.battery_soc_pct if state.has_battery else telemetry.NO_BATTERY
    lacking = [name for name, value in (("AC power", state.pv_watts), ("lifetime energy", state.lifetime_wh),
                                        ("state of charge", soc)) if value is None]
    if lacking:
        raise MissingPoints(f"the site does not report its {' or '.join(lacking)}")
    return MeterSample(
        site_id=site_id, timestamp=timestamp, pv_watts=max(0, round(state.pv_watts)), register_wh=state.lifetime_wh,
        battery_soc_permille=soc if not state.has_battery else min(1000, max(0, round(soc * 10))),
    )


class TelemetryReporter:
    """Signs the site's samples and posts each to every destination: the oracle committee's
    members (each issues RECs only on what it holds itself) and any oracle the config names.
    One outbox row per (destination, sample): a member that is down gets its samples later,
    the others meanwhile."""

    def __init__(self, destinations: str | list[str] | Callable[[], list[str]], outbox: Path, *, site_id: int, meter_key,
                 chain_id: int, registry: str, timeout_s: float = 10.0):
        self._destinations = destinations if callable(destinations) else (
            lambda fixed=[destinations] if isinstance(destinations, str) else list(destinations): fixed)
        self.site_id, self.meter_key, self.chain_id, self.registry = site_id, meter_key, chain_id, registry
        self.timeout_s = timeout_s
        outbox.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(outbox, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS samples_outbox (url TEXT NOT NULL, timestamp INTEGER NOT NULL, "
                         "body TEXT NOT NULL, PRIMARY KEY (url, timestamp))")
        self._lock = threading.Lock()
        self._adopt_single_destination_outbox()

    def destinations(self) -> list[str]:
        return sorted({url.rstrip("/") for url in self._destinations() if url})

    def _adopt_single_destination_outbox(self) -> None:
        """Samples an earlier worker left in its one-destination outbox go to every destination now."""
        if not self._db.execute("SELECT name FROM sqlite_master WHERE name = 'outbox'").fetchone():
            return
        rows = self._db.execute("SELECT timestamp, body FROM outbox").fetchall()
        with self._lock:
            self._db.executemany("INSERT OR IGNORE INTO samples_outbox VALUES (?, ?, ?)",
                                 [(url, timestamp, body) for url in self.destinations() for timestamp, body in rows])
            self._db.execute("DROP TABLE outbox")

    def record(self, state: SiteState, timestamp: int) -> None:
        """Signs the site's state as the sample at `timestamp` and puts it in the outbox of
        every destination."""
        sample = sample_of(state, self.site_id, timestamp)
        signature = telemetry.sign(sample, self.meter_key, self.chain_id, self.registry)
        body = json.dumps(telemetry.body(sample, signature))
        with self._lock:
            self._db.executemany("INSERT OR IGNORE INTO samples_outbox VALUES (?, ?, ?)",
                                 [(url, timestamp, body) for url in self.destinations()])

    def pending(self) -> int:
        """Samples some destination has not taken yet."""
        with self._lock:
            return self._db.execute("SELECT COUNT(DISTINCT timestamp) FROM samples_outbox").fetchone()[0]

    def flush(self) -> int:
        """Posts each destination's outbox oldest first, in batches; returns how many rows
        left the outboxes. A destination no longer among them (a member that left the
        committee) is dropped with its rows."""
        current = set(self.destinations())
        with self._lock:
            urls = [url for (url,) in self._db.execute("SELECT DISTINCT url FROM samples_outbox").fetchall()]
            for gone in set(urls) - current:
                dropped = self._db.execute("DELETE FROM samples_outbox WHERE url = ?", (gone,)).rowcount
                log.info("an oracle is no longer a destination; its pending samples are dropped",
                         extra={"url": gone, "dropped": dropped})
        return sum(self._flush_to(url) for url in sorted(set(urls) & current))

    def _flush_to(self, base: str) -> int:
        url = base + "/samples/batch"
        with self._lock:
            rows = self._db.execute("SELECT timestamp, body FROM samples_outbox WHERE url = ? ORDER BY timestamp", (base,)).fetchall()
        sent = 0
        for first in range(0, len(rows), BATCH):
            batch = rows[first:first + BATCH]
            body = '{"samples": [' + ", ".join(row[1] for row in batch) + "]}"
            try:
                response = requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=self.timeout_s)
            except requests.RequestException as exc:
                log.warning("oracle unreachable; samples kept for later", extra={"url": base, "pending": len(rows) - sent,
                                                                                 "error": unreachable(exc, base)})
                break
            if response.status_code != 200:
                log.warning("oracle failed; samples kept for later", extra={"url": base, "status": response.status_code,
                                                                           "pending": len(rows) - sent,
                                                                           "reason": _detail(response)})
                break
            answered = []
            for (timestamp, _), result in zip(batch, response.json()["results"]):
                if result["status"] >= 500:  # the oracle could not store it: this one and the rest wait
                    log.warning("oracle failed to store a sample; kept for later", extra={"timestamp": timestamp,
                                                                                          "reason": result["detail"]})
                    break
                if result["status"] >= 400:  # refused for good: sending it again would be refused again
                    log.error("sample refused by the oracle", extra={"timestamp": timestamp, "status": result["status"],
                                                                      "reason": result["detail"]})
                answered.append(timestamp)
            with self._lock:
                self._db.executemany("DELETE FROM samples_outbox WHERE url = ? AND timestamp = ?",
                                     [(base, timestamp) for timestamp in answered])
            sent += len(answered)
            if len(answered) < len(batch):
                break
        return sent

    def close(self) -> None:
        with self._lock:
            self._db.close()


def oracle_problem(oracle_url: str, timeout_s: float = 5.0) -> str | None:
    """Why the oracle at `oracle_url` is not taking samples (its /health does not answer 200),
    in a few words; None when it is."""
    try:
        response = requests.get(oracle_url.rstrip("/") + "/health", timeout=timeout_s)
    except requests.RequestException as exc:
        return unreachable(exc, oracle_url)
    return None if response.status_code == 200 else f"/health answered {response.status_code}"


def unreachable(exc: requests.RequestException, url: str) -> str:
    """A failed request in a few words (requests' own message is a page of urllib3's)."""
    kind = "timed out" if isinstance(exc, requests.Timeout) else "refused or unreachable" if isinstance(
        exc, requests.ConnectionError) else type(exc).__name__
    return f"{url}: {kind}"


def _detail(response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return response.text[:200]
