"""Deterministic hostile inputs for the upload validators: seeds and mutations of them."""

from __future__ import annotations

import io
import random
import struct
import zlib

from PIL import Image

from arv.testing.factories import jpeg_bytes


def seeds(tmp_dir) -> dict[str, bytes]:
    from arv.testing.media import mp4_bytes, png_bytes

    webp = io.BytesIO()
    Image.open(io.BytesIO(jpeg_bytes(640, 480))).save(webp, "WEBP", quality=60)
    return {
        "jpeg": jpeg_bytes(640, 480, quality=70),
        "png": png_bytes(600, 500),
        "webp": webp.getvalue(),
        "mp4": mp4_bytes(tmp_dir, seconds=1, size=(160, 120), fps=10),
    }


def png_with_header(width: int, height: int, bit_depth: int = 8, colour: int = 2) -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    body = zlib.compress(b"\x00" * min(width * 3 + 1, 1 << 16) * 4)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One random corruption: truncation, bit flips, a spliced-in chunk, a deleted chunk, or a
    duplicated region (the kinds of damage real files suffer and attackers craft)."""
    data = bytearray(data)
    choice = rng.randrange(5)
    if choice == 0 and data:
        return bytes(data[: rng.randrange(len(data))])
    if choice == 1:
        for _ in range(rng.randint(1, 40)):
            if data:
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        return bytes(data)
    if choice == 2:
        at = rng.randrange(len(data) + 1)
        return bytes(data[:at] + rng.randbytes(rng.randint(1, 512)) + data[at:])
    if choice == 3 and len(data) > 2:
        a = rng.randrange(len(data))
        b = min(len(data), a + rng.randint(1, 4096))
        return bytes(data[:a] + data[b:])
    a = rng.randrange(max(len(data), 1))
    return bytes(data[:a] + data[a : a + rng.randint(1, 2048)] * rng.randint(2, 20) + data[a:])
