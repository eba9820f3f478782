"""Video work with ffmpeg and OpenCV: probing, posters and the web-playable rendition. Paths in,
bytes or paths out; no Django models or storage here.

Every read of an uploaded video — ffprobe, ffmpeg, and OpenCV's bundled FFmpeg — names the demuxer
(``-f``) the server chose from the file's own header and allows only the ``file`` protocol. Left
to itself FFmpeg picks a demuxer by probing the content (and the name): a file that passes as MOV
for the upload check could then be read as AVI, HLS or an image sequence by the next tool, and a
playlist format could make it open URLs or other local files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

# Our name for a container (the stored file's extension, chosen by the server) -> the FFmpeg
# demuxer that reads it. MP4 and MOV are one family; WebM is read as Matroska.
DEMUXERS = {"mp4": "mov", "mov": "mov", "webm": "matroska"}
# ffprobe's format_name of those demuxers: nothing else is a video we accept.
FORMAT_NAMES = frozenset({"mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm"})
# Time for the rest of a video job (download, poster, upload) within the task's time limit.
TASK_MARGIN_SECONDS = 60

# OpenCV takes FFmpeg input options only from this environment variable, read when a capture
# opens. It is set once here so that later changes replace the value in place, and every open
# goes through `capture()` under the lock.
_CV_OPTIONS = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
os.environ[_CV_OPTIONS] = "protocol_whitelist;file"
_cv_lock = threading.Lock()


class MediaError(Exception):
    """The video could not be processed (a permanent problem with this file)."""


def ffmpeg_available() -> bool:
    return shutil.which("ffmpeg") is not None


def demuxer_for(path: Path) -> str:
    """The demuxer for a file named by the server (``video.mp4``, ``source.webm``)."""
    try:
        return DEMUXERS[path.suffix.lstrip(".").lower()]
    except KeyError:
        raise MediaError(f"{path.suffix!r} is not a video container ARV reads") from None


def input_args(path: Path) -> list[str]:
    """The ffmpeg/ffprobe input options for *path*: its demuxer, and the local file only."""
    return ["-f", demuxer_for(path), "-protocol_whitelist", "file", "-i", f"file:{path}"]


def ffmpeg_timeout(task_timeout: int | None = None) -> int:
    """Seconds an ffmpeg conversion may take: under the django-q2 task's own limit, so ffmpeg is
    stopped (and the job fails with a message) before the worker kills the whole task."""
    if task_timeout is None:
        from django.conf import settings

        task_timeout = settings.Q_CLUSTER["timeout"]
    return max(task_timeout - TASK_MARGIN_SECONDS, task_timeout * 3 // 4)


@contextmanager
def capture(path: Path) -> Iterator[object]:
    """An OpenCV capture of *path* through FFmpeg, with its demuxer forced and files only."""
    import cv2

    with _cv_lock:
        os.environ[_CV_OPTIONS] = f"input_format;{demuxer_for(path)}|protocol_whitelist;file"
        # Only the FFmpeg backend: OpenCV's others would read an image sequence or a device.
        handle = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        yield handle
    finally:
        handle.release()


def middle_frame(path: Path, duration: float) -> np.ndarray:
    """The frame in the middle of the video as H×W×3 RGB."""
    import cv2

    with capture(path) as video:
        if duration > 0:
            video.set(cv2.CAP_PROP_POS_MSEC, duration * 500)
        ok, frame = video.read()
        if not ok:
            # Some containers cannot seek; the first frame is better than no poster.
            video.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = video.read()
        if not ok or frame is None:
            raise MediaError("no frame could be decoded")
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def web_rendition(source: Path, target: Path, *, timeout: int | None = None) -> None:
    """H.264/AAC MP4 with faststart, the format every phone (iPhones included) plays inline.

    Long side capped at 1920 px, even dimensions (yuv420p needs them), audio kept if present.
    """
    timeout = timeout or ffmpeg_timeout()
    command = [
        "ffmpeg",
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        *input_args(source),
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
        "-f",
        "mp4",
        f"file:{target}",
    ]
    try:
        result = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise MediaError(f"ffmpeg took longer than {timeout} s") from None
    if result.returncode != 0 or not target.exists() or target.stat().st_size == 0:
        raise MediaError(result.stderr.decode(errors="replace")[-500:] or f"ffmpeg exited with {result.returncode}")
