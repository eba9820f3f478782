"""Video work with ffmpeg and OpenCV: posters and the web-playable rendition. Paths in, bytes or
paths out; no Django models or storage here."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np


class MediaError(Exception):
    """The video could not be processed (a permanent problem with this file)."""


def ffmpeg_available() -> bool:
    return shutil.which("ffmpeg") is not None


def middle_frame(path: Path, duration: float) -> np.ndarray:
    """The frame in the middle of the video as H×W×3 RGB."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        if duration > 0:
            capture.set(cv2.CAP_PROP_POS_MSEC, duration * 500)
        ok, frame = capture.read()
        if not ok:
            # Some containers cannot seek; the first frame is better than no poster.
            capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = capture.read()
        if not ok or frame is None:
            raise MediaError("no frame could be decoded")
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()


def web_rendition(source: Path, target: Path, *, timeout: int = 900) -> None:
    """H.264/AAC MP4 with faststart, the format every phone (iPhones included) plays inline.

    Long side capped at 1920 px, even dimensions (yuv420p needs them), audio kept if present.
    """
    command = [
        "ffmpeg",
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-i",
        str(source),
        "-map",
        "0:v:0",
        "-map",
        "0:a:0?",
        "-vf",
        "scale='if(gt(iw,ih),min(1920,iw),-2)':'if(gt(iw,ih),-2,min(1920,ih))',scale=trunc(iw/2)*2:trunc(ih/2)*2",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "23",
        "-pix_fmt",
        "yuv420p",
        "-profile:v",
        "high",
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        "-movflags",
        "+faststart",
        str(target),
    ]
    try:
        result = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise MediaError(f"ffmpeg took longer than {timeout} s") from None
    if result.returncode != 0 or not target.exists() or target.stat().st_size == 0:
        raise MediaError(result.stderr.decode(errors="replace")[-500:] or f"ffmpeg exited with {result.returncode}")
