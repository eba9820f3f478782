"""Archives for the batch tests, made at test time: real photos and videos, hostile ZIPs."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile

from arv.testing import media
from arv.testing.factories import jpeg_bytes


def clip(tmp_path: Path, seconds: float = 1.0) -> bytes:
    """A short real MP4 (cached per test directory)."""
    path = tmp_path / f"clip-{seconds}.mp4"
    if not path.exists():
        media.mp4_file(path, seconds=seconds)
    return path.read_bytes()


def zip_bytes(files: dict[str, bytes | str], *, compression=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data.encode() if isinstance(data, str) else data)
    return out.getvalue()


def pairs(tmp_path: Path, n: int = 2, *, prefix: str = "") -> dict[str, bytes]:
    files = {}
    for i in range(n):
        files[f"{prefix}guest{i}.jpg"] = jpeg_bytes(640, 480, seed=10 + i)
        files[f"{prefix}guest{i}.mp4"] = clip(tmp_path)
    return files


def upload(data: bytes, name: str = "batch.zip") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/zip")


def raw_zip(entries: list[tuple[str, bytes]], *, symlink: str | None = None, encrypted: str | None = None) -> bytes:
    """A ZIP with names zipfile itself would never write (absolute, ../), a symlink entry, or
    an entry flagged as encrypted."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo("placeholder")
            info.filename = name  # bypass ZipInfo's own clean-up of the name
            info.orig_filename = name
            if name == symlink:
                info.create_system = 3
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, data)
    data = out.getvalue()
    if encrypted:
        data = _set_flag(data, encrypted.encode(), 0x1)
    return data


def _set_flag(data: bytes, name: bytes, bit: int) -> bytes:
    """Set a general-purpose flag bit on both headers of the entry called *name*."""
    buf = bytearray(data)
    for signature, flag_at, name_len_at, name_at in ((b"PK\x03\x04", 6, 26, 30), (b"PK\x01\x02", 8, 28, 46)):
        start = 0
        while (at := buf.find(signature, start)) >= 0:
            length = int.from_bytes(buf[at + name_len_at : at + name_len_at + 2], "little")
            if bytes(buf[at + name_at : at + name_at + length]) == name:
                flags = int.from_bytes(buf[at + flag_at : at + flag_at + 2], "little") | bit
                buf[at + flag_at : at + flag_at + 2] = flags.to_bytes(2, "little")
            start = at + 4
    return bytes(buf)
