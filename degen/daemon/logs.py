"""Structured logs: `log.info("accepted job", extra={"job_id": 3})` prints
`2026-11-22T01:02:03.456Z INFO worker accepted job job_id=3` — one line per decision, with the
fields a log search needs."""

from __future__ import annotations

import logging
import sys
import time
import warnings

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class KeyValueFormatter(logging.Formatter):
    converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{key}={_value(value)}" for key, value in vars(record).items() if key not in _STANDARD)
        stamp = f"{self.formatTime(record, '%Y-%m-%dT%H:%M:%S')}.{int(record.msecs):03d}Z"
        line = f"{stamp} {record.levelname} {record.name} {record.getMessage()}"
        if fields:
            line += " " + fields
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _value(value) -> str:
    text = str(value)
    return repr(text) if (" " in text or not text) else text


def setup(level: str = "INFO") -> None:
    warnings.simplefilter("ignore")  # third-party import-time warnings; our messages are logs
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "urllib3", "web3", "pymodbus", "diffusers", "transformers", "ape"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
