"""Child processes for end-to-end runs (tests, benchmarks, the local demo): start a
command, wait for the line that says it is ready, and always stop it (SIGTERM, then
SIGKILL) — the whole process group, so nothing it started outlives it."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from degen.errors import DegenError

ROOT = Path(__file__).resolve().parents[1]


class NotReady(DegenError, TimeoutError):
    """A child process did not print what it was awaited for."""


def free_port(preferred: int = 0) -> int:
    """A port nothing listens on at 127.0.0.1: `preferred` when it is free, else any."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
        except OSError:
            probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Process:
    """A child process whose combined output is collected line by line."""

    def __init__(self, args: list[str], env: dict | None = None, log: Path | None = None):
        self.args = args
        self.log = None if log is None else open(log, "w", buffering=1)  # a copy of the output, line by line
        self.lines: list[str] = []
        self._new_line = threading.Condition()
        self.popen = subprocess.Popen(
            args, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, bufsize=1, start_new_session=True,
        )
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        for line in self.popen.stdout:
            with self._new_line:
                self.lines.append(line.rstrip("\n"))
                self._new_line.notify_all()
            if self.log is not None:
                self.log.write(line)
        with self._new_line:
            self._new_line.notify_all()
        if self.log is not None:
            self.log.close()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 60.0) -> re.Match:
        """The first output line matching `pattern`; raises NotReady with the output so far
        if none comes in time or the process exits."""
        regex, deadline = re.compile(pattern), time.monotonic() + timeout
        with self._new_line:
            while True:
                for line in self.lines:
                    if match := regex.search(line):
                        return match
                left = deadline - time.monotonic()
                if left <= 0 or (self.popen.poll() is not None and self.popen.stdout.closed):
                    raise NotReady(f"no line matching {pattern!r} from {self.args}:\n{self.output}")
                self._new_line.wait(min(left, 0.5))

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signals the whole process group (the command and anything it started)."""
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, timeout: float = 10.0) -> int:
        self.kill(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill(signal.SIGKILL)
            return self.popen.wait(timeout)


@contextmanager
def running(args: list[str], ready: str, env: dict | None = None, timeout: float = 60.0, log: Path | None = None):
    """Starts `args` (its output copied to `log`), waits for `ready` in its output and yields
    the Process; stops it after."""
    process = Process(args, env, log)
    try:
        process.wait_for(ready, timeout)
        yield process
    finally:
        process.stop()


def degen(*args: str) -> list[str]:
    """The argv that runs the `degen` CLI with this interpreter."""
    return [sys.executable, "-m", "degen.cli", *args]
