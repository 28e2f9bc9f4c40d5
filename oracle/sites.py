"""The registry's sites as the oracle needs them: cached, bounded, and cheap to ask about a
site that does not exist.

SiteRegistry numbers sites 1, 2, 3, … (`site_count` is the newest), so an id above the count
is unknown without a per-id read: a flood of made-up site ids costs at most one `site_count`
read per `count_ttl_s` and no memory. A known site's record is reused for `ttl_s`, in an LRU
of at most `max_entries` records. Reads of the chain block: a caller on an event loop asks
`cached` first and runs `lookup` in a thread only when that says it must."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable

from oracle.rules import SiteRecord


class SiteDirectory:
    def __init__(
        self, read_count: Callable[[], int], read_site: Callable[[int], SiteRecord | None], *, ttl_s: float = 30.0,
        count_ttl_s: float = 1.0, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic,
    ):
        self._read_count, self._read_site = read_count, read_site
        self.ttl_s, self.count_ttl_s, self.max_entries, self._clock = ttl_s, count_ttl_s, max_entries, clock
        self._count, self._count_at = 0, float("-inf")
        self._records: OrderedDict[int, tuple[SiteRecord | None, float]] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def of(cls, records: dict[int, SiteRecord]) -> SiteDirectory:
        """A directory of fixed records, numbered like the registry's (tests, benchmarks)."""
        return cls(lambda: max(records, default=0), records.get)

    def __len__(self) -> int:
        return len(self._records)

    def cached(self, site_id: int) -> tuple[bool, SiteRecord | None]:
        """(known without reading the chain?, the record or None for an unknown site)."""
        now = self._clock()
        with self._lock:
            if site_id > self._count and now - self._count_at < self.count_ttl_s:
                return True, None
            found = self._records.get(site_id)
            if found is not None and now - found[1] < self.ttl_s:
                self._records.move_to_end(site_id)
                return True, found[0]
        return False, None

    def lookup(self, site_id: int) -> SiteRecord | None:
        """The registry's record of a site, None if it does not exist (may read the chain)."""
        hit, record = self.cached(site_id)
        if hit:
            return record
        if site_id > self._count and self._refresh_count() < site_id:
            return None
        record = self._read_site(site_id)
        with self._lock:
            self._records[site_id] = (record, self._clock())
            self._records.move_to_end(site_id)
            while len(self._records) > self.max_entries:
                self._records.popitem(last=False)
        return record

    def _refresh_count(self) -> int:
        count = self._read_count()
        with self._lock:
            self._count, self._count_at = count, self._clock()
        return count
