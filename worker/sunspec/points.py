"""SunSpec points: how each point type sits in 16-bit registers (big-endian, high word first)
and the value that says the device does not implement it. A point that is not implemented
decodes to None, never to 0.

Accumulators (`acc16`, `acc32`: lifetime energy) are the one exception: SunSpec's "not
implemented" value for them is 0, which is also what a new installation reports. We read 0
as 0 Wh. A pad register holds nothing: SunSpec's specification fills it with 0x8000, and
pysunspec2 takes any value, so it reads as what it holds."""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

# type -> (registers, the raw "not implemented" value or None when every raw value is a value)
TYPES: dict[str, tuple[int, int | None]] = {
    "uint16": (1, 0xFFFF), "int16": (1, 0x8000), "sunssf": (1, 0x8000), "enum16": (1, 0xFFFF),
    "bitfield16": (1, 0xFFFF), "pad": (1, None), "acc16": (1, None), "count": (1, 0xFFFF),
    "uint32": (2, 0xFFFFFFFF), "int32": (2, 0x80000000), "enum32": (2, 0xFFFFFFFF), "bitfield32": (2, 0xFFFFFFFF),
    "acc32": (2, None), "float32": (2, 0x7FC00000), "string": (1, None),
    "uint64": (4, 0xFFFFFFFFFFFFFFFF), "int64": (4, 0x8000000000000000), "acc64": (4, None),
}
SIGNED = {"int16": 16, "sunssf": 16, "int32": 32, "int64": 64}
SF_RANGE = range(-10, 11)  # the scale factors SunSpec allows


@dataclass(frozen=True)
class Point:
    """One point of a model: its register offset from the model's ID register, its type and
    size, the scale-factor point it is multiplied by (10^sf), and whether it may be written."""

    name: str
    type: str
    offset: int
    size: int
    sf: str | None = None
    writable: bool = False
    mandatory: bool = False

    def decode(self, registers: list[int]) -> int | float | str | None:
        """The point's raw value from the model's registers (ID first); None: not implemented."""
        words = registers[self.offset:self.offset + self.size]
        if len(words) < self.size:
            raise ValueError(f"{self.name} lies beyond the {len(registers)} registers read")
        if self.type == "string":
            text = b"".join(word.to_bytes(2, "big") for word in words).split(b"\x00", 1)[0]
            return text.decode("ascii", "replace").strip() or None
        raw = 0
        for word in words:
            raw = (raw << 16) | word
        if raw == TYPES[self.type][1]:
            return None
        if self.type == "float32":
            value = struct.unpack(">f", raw.to_bytes(4, "big"))[0]
            return None if math.isnan(value) else value
        bits = SIGNED.get(self.type)
        return raw - (1 << bits) if bits and raw >> (bits - 1) else raw

    def encode(self, value: int | float | str | None) -> list[int]:
        """The point's registers for `value` (None: the "not implemented" value); ValueError
        when the value does not fit the type."""
        if self.type == "string":
            raw = (value or "").encode("ascii")
            if len(raw) > 2 * self.size:
                raise ValueError(f"{self.name}: {value!r} is longer than {2 * self.size} characters")
            raw = raw.ljust(2 * self.size, b"\x00")
            return [int.from_bytes(raw[i:i + 2], "big") for i in range(0, len(raw), 2)]
        unimplemented = TYPES[self.type][1]
        if value is None:
            return self._words(0 if unimplemented is None else unimplemented)
        if self.type == "float32":
            return self._words(int.from_bytes(struct.pack(">f", float(value)), "big"))
        bits, limit = SIGNED.get(self.type), 1 << (16 * self.size)
        low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if bits else (0, limit - 1)
        if not isinstance(value, int) or not low <= value <= high or (value % limit) == unimplemented:
            raise ValueError(f"{self.name}: {value!r} does not fit {self.type}")
        return self._words(value % limit)

    def _words(self, raw: int) -> list[int]:
        return [(raw >> (16 * (self.size - 1 - i))) & 0xFFFF for i in range(self.size)]


def scaled(value: int | float | None, sf: int | None) -> float | None:
    """value × 10^sf; None when either is not implemented or the scale factor is out of range."""
    if value is None or sf is None or sf not in SF_RANGE:
        return None
    return round(value * 10.0**sf, max(0, -sf))
