"""A video's poster and its H.264 web rendition (ffmpeg), next to the original upload."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from django.core.files.base import ContentFile, File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from companies.storage import replace_output, storage_for_company
from content import media, signals
from content.models import Video
from lib.storage import StorageUnavailable, write_new
from markers import previews
from markers.handlers.base import Outcome, PermanentJobError, output_name
from markers.models import Job

logger = logging.getLogger(__name__)


def process_video(job: Job) -> Outcome:
    """Poster from the middle frame, then an H.264 rendition when ffmpeg is installed."""
    video = job.video
    storage = storage_for_company(video.portrait.company)
    with tempfile.TemporaryDirectory(prefix="arv-video-") as tmp:
        source = Path(tmp) / f"source{Path(video.file.name).suffix}"
        try:
            with storage.open(video.file.name, "rb") as remote, open(source, "wb") as local:
                for chunk in iter(lambda: remote.read(1024 * 1024), b""):
                    local.write(chunk)
        except FileNotFoundError:
            raise PermanentJobError(gettext_noop("The uploaded video is missing from the storage.")) from None
        except Exception as exc:
            raise StorageUnavailable(f"{type(exc).__name__}: {exc}") from exc
        try:
            poster = previews.video_poster(media.middle_frame(source, video.duration))
        except media.MediaError as exc:
            raise PermanentJobError(gettext_noop("No picture could be decoded from this video.")) from exc
        written = []
        poster_name = output_name(job, "webp")
        poster_size = write_new(storage, poster_name, ContentFile(poster))
        written.append((poster_name, poster_size))
        web_name, web_size, message = "", 0, ""
        if media.ffmpeg_available():
            target = Path(tmp) / "web.mp4"
            try:
                media.web_rendition(source, target)
            except media.MediaError:
                logger.exception("ffmpeg could not convert video %s", video.pk)
                message = gettext_noop("The video could not be converted for phones; the original file is played.")
            else:
                web_name = output_name(job, "mp4")
                with open(target, "rb") as fh:
                    web_size = write_new(storage, web_name, File(fh))
                written.append((web_name, web_size))
        else:
            message = gettext_noop(
                "ffmpeg is not installed on the server: the original file is played, which some iPhones cannot."
            )
    old = [n for n in (video.poster.name, video.web_file.name) if n]
    added = poster_size + web_size
    now = timezone.now()
    with transaction.atomic():
        # Conditional, so a video made again (or by two workers) is announced ready only once.
        became_ready = (
            Video.objects.filter(pk=video.pk).exclude(status=Video.Status.READY).update(status=Video.Status.READY)
        )
        Video.objects.filter(pk=video.pk).update(
            poster=poster_name,
            web_file=web_name,
            status_message=message,
            stored_bytes=video.size_bytes + added,
            updated_at=now,
        )
        if became_ready:
            signals.video_ready.send(sender=Video, video=video)
    replace_output(
        company=video.portrait.company,
        added_bytes=added,
        old_names=old,
        old_bytes=max(video.stored_bytes - video.size_bytes, 0),
    )
    return Outcome()
