"""Image primitives every upload check shares (photos in ``content.validators``, the studio logo
in ``companies.logos``): what a file's first bytes say it is, and the sRGB profile images are
converted to. Pure: no Django models."""

from __future__ import annotations

import io
import logging
import struct

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from PIL import Image, ImageCms

logger = logging.getLogger(__name__)

SRGB = ImageCms.createProfile("sRGB")
# What Pillow raises on a broken or hostile file (its bomb guard aside): each means "damaged".
DECODE_ERRORS = (OSError, SyntaxError, ValueError, TypeError, EOFError, MemoryError, IndexError, KeyError, struct.error)


def damaged_image() -> ValidationError:
    return ValidationError(_("The image is damaged or incomplete: export it again and re-upload."), code="damaged")


def icc_to_srgb(img: Image.Image, icc: bytes | None, mode: str) -> Image.Image:
    """*img* converted from the colour profile it came with to sRGB, in *mode*; a profile that
    cannot be used is ignored (the pixels are taken as sRGB already)."""
    if not icc:
        return img
    try:
        return ImageCms.profileToProfile(img, ImageCms.ImageCmsProfile(io.BytesIO(icc)), SRGB, outputMode=mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        logger.info("ignoring an unusable ICC profile")
        return img


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
