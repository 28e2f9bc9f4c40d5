"""Learning of new blocks as they come. The head is asked every `every_s` (one
`eth_blockNumber`, which every node answers and hosted ones count as their cheapest call;
filters and subscriptions get lost behind a hosted provider's load balancer), and whoever
waits reads the new blocks' logs once, when they come, instead of reading every job or
record it follows over and over."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

HEAD_POLL_S = 0.25  # how often the head is asked: four cheap calls a second, a block seen ~0.1 s after it is mined


class NewBlocks:
    """Waits for the chain's head to move past the last head this watcher reported."""

    def __init__(self, head: Callable[[], int], every_s: float = HEAD_POLL_S, seen: int | None = None):
        self.head, self.every_s, self.seen = head, every_s, seen

    def wait(self, timeout_s: float, wake: threading.Event | None = None) -> bool:
        """True as soon as a block newer than `seen` is mined (`seen` is then the new head);
        False after `timeout_s`, or at once when `wake` is set. A node that does not answer
        is asked again at the next tick: whoever waits meets the error in its own calls."""
        wake = wake or threading.Event()
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                head = self.head()
            except Exception:  # noqa: BLE001 — see the docstring
                head = None
            if head is not None and (self.seen is None or head > self.seen):
                self.seen = head
                return True
            left = deadline - time.monotonic()
            if left <= 0 or wake.wait(min(self.every_s, left)):
                return False
