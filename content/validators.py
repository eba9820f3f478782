"""Upload validation shared by the portal forms and the API.

Every rejection is a ``ValidationError`` with a message a photo studio can act on. Nothing is
written anywhere while validating: the services store files only after these pass.

Images are decoded for real (a file that merely *says* it is a JPEG is not trusted), turned
upright from EXIF, converted to 8-bit sRGB, flattened on white, stripped of metadata (EXIF can
hold the customer's GPS position) and re-encoded as a high-quality JPEG: that normalised file is
what is stored, printed and compiled into markers.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image, ImageOps

from content import media
from lib.images import DECODE_ERRORS, damaged_image, icc_to_srgb, read_head, sniff_image

try:  # HEIC/HEIF from iPhones, through the well-kept pillow-heif plug-in.
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - the plug-in is in requirements.txt
    HEIF_SUPPORTED = False

logger = logging.getLogger(__name__)

MIN_SHORT_SIDE = 480
MAX_LONG_SIDE = 8192
MAX_PIXELS = 50_000_000
JPEG_QUALITY = 95

# Pillow's own bomb guard would only warn below 2x its limit; ours refuses from the header.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

@dataclass(frozen=True)
class ValidatedImage:
    data: bytes
    width: int
    height: int
    source_format: str
    sha256: str
    original_name: str

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class ValidatedVideo:
    path: Path
    size: int
    duration: float
    width: int
    height: int
    fps: float
    mime_type: str
    extension: str
    original_name: str
    _owned_dir: Path | None = None

    def cleanup(self) -> None:
        if self._owned_dir is not None:
            shutil.rmtree(self._owned_dir, ignore_errors=True)
            self._owned_dir = None


def _mb(limit_mb: int) -> str:
    return filesizeformat(limit_mb * 1024 * 1024)


def _check_size(upload: UploadedFile, limit_mb: int) -> None:
    if not upload.size:
        raise ValidationError(_("The file is empty."), code="empty")
    if upload.size > limit_mb * 1024 * 1024:
        raise ValidationError(
            _("The file is %(size)s; the limit is %(limit)s.")
            % {"size": filesizeformat(upload.size), "limit": _mb(limit_mb)},
            code="too_large",
        )


def _to_8bit_srgb(img: Image.Image) -> Image.Image:
    """Any decoded mode to RGB in sRGB, transparent parts flattened on white paper."""
    icc = img.info.get("icc_profile")
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        # Pillow's convert("L") clips 16-bit values at 255; scale them instead.
        arr = np.asarray(img, dtype=np.uint32)
        peak = 65535 if arr.max(initial=0) > 255 else 255
        img = Image.fromarray((arr * 255 // peak).astype(np.uint8), "L")
    elif img.mode == "F":
        arr = np.clip(np.asarray(img), 0, 255)
        img = Image.fromarray(arr.astype(np.uint8), "L")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("LA", "La", "PA", "RGBa"):
        img = img.convert("RGBA")
    if img.mode in ("RGB", "RGBA", "CMYK", "L"):
        img = icc_to_srgb(img, icc, "RGBA" if img.mode == "RGBA" else "RGB")
    if img.mode == "RGBA":
        paper = Image.new("RGB", img.size, (255, 255, 255))
        paper.paste(img, mask=img.getchannel("A"))
        img = paper
    if img.mode != "RGB":
        img = img.convert("RGB")
    return img


def validate_image(upload: UploadedFile, *, max_mb: int | None = None) -> ValidatedImage:
    max_mb = max_mb or settings.UPLOAD_MAX_MB
    _check_size(upload, max_mb)
    kind = sniff_image(read_head(upload))
    if kind == "GIF":
        raise ValidationError(_("GIF images are not supported: upload the photo as JPEG, PNG or WebP."), code="gif")
    if kind is None or (kind == "HEIF" and not HEIF_SUPPORTED):
        raise ValidationError(
            _("This file is not a photo we can use. Upload a JPEG, PNG, WebP or HEIC image."), code="not_image"
        )
    upload.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(upload)
            width, height = img.size
            if width * height > MAX_PIXELS:
                raise ValidationError(
                    _("The image is %(mp).0f megapixels; the limit is %(limit)d megapixels.")
                    % {"mp": width * height / 1e6, "limit": MAX_PIXELS // 1_000_000},
                    code="too_many_pixels",
                )
            if max(width, height) > MAX_LONG_SIDE:
                raise ValidationError(
                    _("The image is %(w)d×%(h)d px; the long side may be at most %(max)d px.")
                    % {"w": width, "h": height, "max": MAX_LONG_SIDE},
                    code="too_big",
                )
            if min(width, height) < MIN_SHORT_SIDE:
                raise ValidationError(
                    _(
                        "The image is %(w)d×%(h)d px; the short side must be at least %(min)d px "
                        "for the camera to recognise the print."
                    )
                    % {"w": width, "h": height, "min": MIN_SHORT_SIDE},
                    code="too_small",
                )
            if getattr(img, "n_frames", 1) > 1:
                raise ValidationError(_("Animated images are not supported: upload a still photo."), code="animated")
            img.load()
            img = ImageOps.exif_transpose(img)
            img = _to_8bit_srgb(img)
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationError(
            _("The image has far too many pixels; the limit is %(limit)d megapixels.")
            % {"limit": MAX_PIXELS // 1_000_000},
            code="too_many_pixels",
        ) from None
    except DECODE_ERRORS:
        raise damaged_image() from None
    out = io.BytesIO()
    img.save(out, "JPEG", quality=JPEG_QUALITY, subsampling=0, optimize=True)
    data = out.getvalue()
    return ValidatedImage(
        data=data,
        width=img.width,
        height=img.height,
        source_format=kind,
        sha256=hashlib.sha256(data).hexdigest(),
        original_name=Path(upload.name or "photo").name[:255],
    )


# --- Video ----------------------------------------------------------------------------------------

VIDEO_TYPES = {"mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm"}
_QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


def sniff_video(head: bytes) -> str | None:
    if head[4:8] == b"ftyp":
        return "mov" if head[8:10] == b"qt" else "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm"
    if head[4:8] in _QUICKTIME_ATOMS:
        return "mov"
    return None


@dataclass(frozen=True)
class VideoFacts:
    duration: float
    width: int
    height: int
    fps: float


NO_FACTS = VideoFacts(0, 0, 0, 0)
# Web requests wait for this probe; a real video answers in well under a second.
FFPROBE_TIMEOUT_SECONDS = 30


def _unplayable() -> ValidationError:
    # Read with the demuxer its header names, a damaged file and a disguised one fail alike.
    return ValidationError(
        _(
            "The video cannot be played: it is damaged, incomplete, or not really an MP4, MOV or WebM "
            "video (whatever its name or first bytes say). Export it again as MP4 (H.264) and re-upload."
        ),
        code="damaged",
    )


def _ffprobe(path: Path) -> VideoFacts | None:
    """Facts from ffprobe reading *path* with the demuxer its server-chosen name implies; None when
    ffprobe is not installed. Raises ValidationError when that demuxer cannot read the file, or
    reads it as a format outside the allow-list."""
    exe = shutil.which("ffprobe")
    if not exe:
        return None
    command = [
        exe,
        "-v",
        "error",
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
        "-select_streams",
        "v:0",
        *media.input_args(path),
    ]
    try:
        result = subprocess.run(command, capture_output=True, timeout=FFPROBE_TIMEOUT_SECONDS, check=False)
        info = json.loads(result.stdout or b"{}")
    except (subprocess.TimeoutExpired, ValueError):
        raise _unplayable() from None
    if result.returncode != 0 or not isinstance(info, dict):
        raise _unplayable()
    if info.get("format", {}).get("format_name") not in media.FORMAT_NAMES:
        raise _unplayable()
    streams = info.get("streams") or []
    if not streams:
        return NO_FACTS
    stream = streams[0]
    try:
        num, _sep, den = (stream.get("avg_frame_rate") or stream.get("r_frame_rate") or "0/1").partition("/")
        fps = float(num) / float(den or 1) if float(den or 1) else 0.0
        duration = float(info.get("format", {}).get("duration") or stream.get("duration") or 0)
        return VideoFacts(duration, int(stream.get("width") or 0), int(stream.get("height") or 0), round(fps, 3))
    except (TypeError, ValueError, ZeroDivisionError):
        return NO_FACTS


def _decodes_a_frame(path: Path) -> tuple[bool, VideoFacts]:
    import cv2

    with media.capture(path) as capture:
        if not capture.isOpened():
            return False, NO_FACTS
        ok, frame = capture.read()
        fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
        frames = capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0
        facts = VideoFacts(
            duration=frames / fps if fps > 0 else 0.0,
            width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            fps=round(fps, 3),
        )
        return bool(ok and frame is not None and frame.size), facts


def probe_video(path: Path) -> VideoFacts:
    """Facts about a video file whose name's extension is the container the server sniffed.

    Raises ValidationError when the file is not that container (ffprobe, when installed, with
    the demuxer forced and the format checked against the allow-list) or no frame decodes.
    """
    probed = _ffprobe(path)
    decodes, cv_facts = _decodes_a_frame(path)
    if not decodes:
        raise _unplayable()
    facts = probed or cv_facts
    if facts.duration <= 0 and cv_facts.duration > 0:
        facts = cv_facts
    return facts


def _server_named_copy(upload: UploadedFile, ext: str) -> tuple[Path, Path]:
    """(path, private folder) of the upload under a name the server chose, ``video.<ext>``.

    A temporary upload keeps the client's extension (Django names it ``*.upload.avi``), which
    tools may take as a hint; it is hard-linked (copied if it cannot be) to our own name instead.
    """
    folder = Path(tempfile.mkdtemp(prefix="arv-video-"))
    path = folder / f"video.{ext}"
    try:
        source = Path(upload.temporary_file_path()) if hasattr(upload, "temporary_file_path") else None
        if source is not None:
            try:
                os.link(source, path)
            except OSError:  # another filesystem: copy instead
                shutil.copyfile(source, path)
        else:
            with open(path, "wb") as out:
                upload.seek(0)
                for chunk in upload.chunks():
                    out.write(chunk)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return path, folder


def validate_video(
    upload: UploadedFile, *, max_mb: int | None = None, max_seconds: int | None = None
) -> ValidatedVideo:
    """Check a video upload. The caller must call ``cleanup()`` on the result when done."""
    max_mb = max_mb or settings.VIDEO_MAX_MB
    max_seconds = max_seconds or settings.VIDEO_MAX_SECONDS
    _check_size(upload, max_mb)
    ext = sniff_video(read_head(upload))
    if ext is None:
        raise ValidationError(
            _("This file is not a video we can use. Upload an MP4, MOV or WebM video."), code="not_video"
        )
    path, folder = _server_named_copy(upload, ext)
    try:
        facts = probe_video(path)
        if facts.duration <= 0:
            raise ValidationError(_("The video has no length: it is probably damaged."), code="damaged")
        if facts.duration > max_seconds:
            raise ValidationError(
                _("The video is %(len)s long; the limit is %(limit)s.")
                % {"len": _duration(facts.duration), "limit": _duration(max_seconds)},
                code="too_long",
            )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return ValidatedVideo(
        path=path,
        size=upload.size,
        duration=round(facts.duration, 3),
        width=facts.width,
        height=facts.height,
        fps=facts.fps,
        mime_type=VIDEO_TYPES[ext],
        extension=ext,
        original_name=Path(upload.name or "video").name[:255],
        _owned_dir=folder,
    )


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"
