"""Content-addressed storage of generated images in the worker's data dir.

A result is stored under its sha256 (the hash delivered on chain) and named for display by
its CIDv1 (raw codec, sha2-256, base32), the same identifier IPFS would give the bytes.
Writes are atomic: a crash leaves either the whole file or none."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import NamedTuple

from degen.errors import InvalidInput

_RAW_CODEC = 0x55
_SHA2_256 = 0x12


class StoredResult(NamedTuple):
    sha256: bytes
    cid: str
    path: Path


def cid_v1(data: bytes) -> str:
    """CIDv1 of `data` as raw bytes: multibase 'b' (base32, lower case, unpadded) of
    <version 1><raw codec><sha2-256 multihash>."""
    digest = hashlib.sha256(data).digest()
    binary = bytes([0x01, _RAW_CODEC, _SHA2_256, len(digest)]) + digest
    return "b" + base64.b32encode(binary).decode().lower().rstrip("=")


class ResultStore:
    """PNG results under `<data_dir>/results/<sha256 hex>.png`."""

    def __init__(self, data_dir: Path):
        self.directory = data_dir / "results"
        self.directory.mkdir(parents=True, exist_ok=True)

    def put(self, png: bytes) -> StoredResult:
        """Stores `png` (idempotent: the same bytes land on the same file)."""
        if not png.startswith(b"\x89PNG\r\n\x1a\n"):
            raise InvalidInput("a result must be a PNG image")
        digest = hashlib.sha256(png).digest()
        path = self.path_of(digest)
        if not path.exists():
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            with open(tmp, "wb") as out:
                out.write(png)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        return StoredResult(digest, cid_v1(png), path)

    def path_of(self, sha256: bytes) -> Path:
        if len(sha256) != 32:
            raise InvalidInput("a result is named by its 32-byte sha256")
        return self.directory / f"{sha256.hex()}.png"

    def get(self, sha256: bytes) -> bytes | None:
        """The stored bytes, checked against their name; None when absent."""
        path = self.path_of(sha256)
        if not path.exists():
            return None
        data = path.read_bytes()
        if hashlib.sha256(data).digest() != sha256:
            raise InvalidInput(f"{path} does not match its sha256: the store is corrupt")
        return data
