"""A perceptual hash for comparing a disputed image with the oracle's own re-run when the two
were not made on the same deterministic setup (another GPU, another library version): small
numeric drift changes bytes but not what the picture looks like.

dHash: the image in greyscale, shrunk to 9×8, one bit per pixel saying whether it is brighter
than its right-hand neighbour — 64 bits. Two images match when their hashes differ in at most
MATCH_THRESHOLD bits (10 of 64, the usual cut-off between "same picture, re-encoded or
slightly perturbed" and "different picture")."""

from __future__ import annotations

import io

from degen.errors import InvalidInput

MATCH_THRESHOLD = 10
BITS = 64


def dhash(png: bytes) -> int:
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(png))
        image.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise InvalidInput(f"not a readable image: {exc}") from None
    pixels = list(image.convert("L").resize((9, 8), Image.Resampling.LANCZOS).getdata())
    bits = 0
    for row in range(8):
        for column in range(8):
            left, right = pixels[row * 9 + column], pixels[row * 9 + column + 1]
            bits = bits << 1 | (left > right)
    return bits


def distance(a: bytes, b: bytes) -> int:
    """Hamming distance between two images' dHashes (0..64)."""
    return (dhash(a) ^ dhash(b)).bit_count()


def same_picture(a: bytes, b: bytes) -> bool:
    return distance(a, b) <= MATCH_THRESHOLD
