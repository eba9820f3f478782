"""Image primitives every upload check shares (photos in ``content.validators``, the studio logo
in ``companies.logos``): what a file's first bytes say it is, and the sRGB profile images are
converted to. Pure: no Django models."""

from __future__ import annotations

from django.core.files.uploadedfile import UploadedFile
from PIL import ImageCms

SRGB = ImageCms.createProfile("sRGB")


def read_head(upload: UploadedFile, n: int = 64) -> bytes:
    upload.seek(0)
    head = upload.read(n)
    upload.seek(0)
    return head


def sniff_image(head: bytes) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp" and head[8:12] in {b"heic", b"heix", b"heim", b"heis", b"hevc", b"mif1", b"msf1", b"avif"}:
        return "HEIF"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    return None
