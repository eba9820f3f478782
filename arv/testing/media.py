"""Real media files for tests, made at test time (no binary fixtures needed)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from arv.testing.factories import jpeg_bytes


def png_bytes(width=800, height=600, mode="RGB", **save) -> bytes:
    rng = np.random.default_rng(3)
    if mode in ("RGBA", "LA"):
        channels = 4 if mode == "RGBA" else 2
        arr = rng.integers(0, 255, (height, width, channels), dtype=np.uint8)
        img = Image.fromarray(arr, mode)
    elif mode == "I;16":
        arr = rng.integers(0, 65535, (height, width)).astype(np.uint16)
        img = Image.frombytes("I;16", (width, height), arr.tobytes())
    else:
        img = Image.frombytes("RGB", (width, height), jpeg_to_rgb(jpeg_bytes(width, height)))
        if mode != "RGB":
            img = img.convert(mode)
    out = io.BytesIO()
    img.save(out, "PNG", **save)
    return out.getvalue()


def jpeg_to_rgb(data: bytes) -> bytes:
    return Image.open(io.BytesIO(data)).convert("RGB").tobytes()


def cmyk_jpeg(width=800, height=600) -> bytes:
    img = Image.open(io.BytesIO(jpeg_bytes(width, height))).convert("CMYK")
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


def exif_rotated_jpeg(width=800, height=600) -> bytes:
    """Pixels stored landscape with an EXIF tag saying 'rotate 90° clockwise to display'."""
    img = Image.open(io.BytesIO(jpeg_bytes(width, height)))
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("P", (600, 600), i * 40) for i in range(3)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims the given size (a decompression bomb's calling card)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )


def mp4_file(path: Path, *, seconds: float = 2.0, size=(320, 240), fps: int = 15) -> Path:
    """A real MP4 (MPEG-4 Part 2, which OpenCV writes) of moving colour bars."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    w, h = size
    for i in range(int(seconds * fps)):
        frame = np.zeros((h, w, 3), np.uint8)
        frame[:, :, 0] = (np.arange(w) + i * 5) % 255
        frame[:, :, 1] = 120
        frame[:, :, 2] = (np.arange(h)[:, None] * 2) % 255
        writer.write(frame)
    writer.release()
    return path


def mp4_bytes(tmp_path: Path, **kwargs) -> bytes:
    return mp4_file(tmp_path / "clip.mp4", **kwargs).read_bytes()
