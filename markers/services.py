"""Processing jobs: queue, claim, run, retry, recover, and the portrait status they add up to.

A job row is claimed with one conditional UPDATE (pending and due → processing, with a fresh
claim token), so two workers never run the same job. The slow part — reading the image, compiling,
writing the output — runs outside any transaction, and only the current claim holder may record
the result. Transient failures (storage unreachable) are retried with exponential back-off by the
sweeper; permanent ones (an image that cannot be decoded) fail at once with a plain message.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from arv.periodic import RowFailures
from arv.storage import StorageUnavailable, storage_for_company
from content import media, previews
from content.models import Portrait, Video
from markers.models import Job, ProjectMarker

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BACKOFF_BASE = timedelta(seconds=15)
BACKOFF_MAX = timedelta(minutes=30)


def stuck_after() -> timedelta:
    """A job processing longer than a task may live was abandoned by a dead worker."""
    return timedelta(seconds=settings.JOB_STUCK_AFTER_SECONDS)


class PermanentJobError(Exception):
    """This input will never process; retrying is pointless. The message is for the client."""


class TransientJobError(Exception):
    """Try again later (storage or network trouble)."""


@dataclass
class Outcome:
    output_name: str = ""
    output_bytes: int = 0
    input_sha256: str = ""
    compiler_version: str = ""
    report: dict = field(default_factory=dict)
    reused_from: Job | None = None
    compact_version: int = 0  # MindAR: the .arvm written next to output_name (markers/arvm.py)


# --- Queueing -------------------------------------------------------------------------------------


def enqueue(job_id: int) -> None:
    """Hand the job to the task queue; if the broker is down the sweeper will do it later."""
    from django_q.tasks import async_task

    try:
        async_task("markers.tasks.run_job", job_id, task_name=f"job-{job_id}-{uuid.uuid4().hex[:8]}")
    except Exception:
        logger.exception("could not enqueue job %s; the sweeper will retry", job_id)


def _queue(job: Job) -> None:
    transaction.on_commit(lambda: enqueue(job.pk))


def queue_job(*, portrait: Portrait, kind: str, video: Video | None = None, force: bool = False) -> Job:
    """Create or reset the job of this kind and queue it after the transaction commits."""
    lookup = {"video": video, "kind": kind} if kind == Job.Kind.VIDEO else {"portrait": portrait, "kind": kind}
    job, created = Job.objects.get_or_create(**lookup, defaults={"portrait": portrait})
    if not created:
        if job.status == Job.Status.PROCESSING and not force:
            return job
        job.status = Job.Status.PENDING
        job.error = job.error_detail = ""
        job.attempts = 0
        job.next_attempt_at = None
        job.queued_at = timezone.now()
        job.claim_token = None
        job.save(
            update_fields=[
                "status",
                "error",
                "error_detail",
                "attempts",
                "next_attempt_at",
                "queued_at",
                "claim_token",
                "updated_at",
            ]
        )
    _queue(job)
    return job


def queue_portrait_jobs(*, portrait: Portrait) -> list[Job]:
    # Queued in the order the photo needs them to become ready: the markers the viewer will load
    # and the preview, then the videos, and the other engine's marker last.
    kinds = portrait_job_kinds(portrait)
    needed = [k for k in kinds if k != Job.Kind.NFT or portrait.engine == Job.Kind.NFT]
    jobs = [queue_job(portrait=portrait, kind=kind) for kind in needed]
    jobs += [queue_job(portrait=portrait, kind=Job.Kind.VIDEO, video=v) for v in portrait.videos.all()]
    jobs += [queue_job(portrait=portrait, kind=kind) for kind in kinds if kind not in needed]
    refresh_portrait_status(portrait=portrait)
    return jobs


def portrait_job_kinds(portrait: Portrait) -> list[str]:
    # Both marker kinds for every photo, so switching a company's engine needs no reprocessing.
    return [Job.Kind.MINDAR, Job.Kind.NFT, Job.Kind.PREVIEW]


def queue_video_job(*, video: Video) -> Job:
    job = queue_job(portrait=video.portrait, kind=Job.Kind.VIDEO, video=video)
    refresh_portrait_status(portrait=video.portrait)
    return job


def regenerate_marker(*, portrait: Portrait, kind: str = Job.Kind.MINDAR) -> Job:
    """The client's "regenerate" button: re-run; an unchanged image reuses the existing marker."""
    with transaction.atomic():
        job = queue_job(portrait=portrait, kind=kind)
        refresh_portrait_status(portrait=portrait)
    return job


# --- Running ----------------------------------------------------------------------------------------


def claim(job_id: int) -> uuid.UUID | None:
    now = timezone.now()
    token = uuid.uuid4()
    claimed = (
        Job.objects.filter(pk=job_id, status=Job.Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(
            status=Job.Status.PROCESSING, started_at=now, claim_token=token, attempts=F("attempts") + 1, updated_at=now
        )
    )
    return token if claimed else None


def run_job(*, job_id: int) -> str | None:
    """Run one job if it is due and nobody else holds it; returns the final status or None."""
    token = claim(job_id)
    if token is None:
        return None
    job = Job.objects.select_related("portrait__company", "portrait__project", "video").get(pk=job_id)
    started = time.monotonic()
    try:
        outcome = HANDLERS[job.kind](job)
    except PermanentJobError as exc:
        status = _fail(job, token, message=str(exc), detail=traceback.format_exc())
    except Exception as exc:
        status = _retry_or_fail(job, token, exc)
    else:
        status = _succeed(job, token, outcome, duration_ms=int((time.monotonic() - started) * 1000))
        if status == Job.Status.READY and job.kind == Job.Kind.MINDAR:
            queue_project_marker(project_id=job.portrait.project_id)
    refresh_portrait_status(portrait=job.portrait)
    return status


def _succeed(job: Job, token, outcome: Outcome, *, duration_ms: int) -> str:
    now = timezone.now()
    old_names = job.output_names()
    updated = Job.objects.filter(pk=job.pk, claim_token=token).update(
        status=Job.Status.READY,
        output=outcome.output_name or job.output.name,
        output_bytes=outcome.output_bytes if outcome.output_name else job.output_bytes,
        input_sha256=outcome.input_sha256,
        compiler_version=outcome.compiler_version,
        report=outcome.report,
        reused_from=outcome.reused_from,
        compact_version=outcome.compact_version if outcome.output_name else job.compact_version,
        duration_ms=duration_ms,
        error="",
        error_detail="",
        finished_at=now,
        claim_token=None,
        updated_at=now,
    )
    company = job.portrait.company
    storage = storage_for_company(company)
    if not updated:
        # We lost the claim (presumed dead and re-queued): our output belongs to nobody.
        if outcome.output_name:
            _delete_quietly(storage, [outcome.output_name])
        return Job.Status.PROCESSING
    if outcome.output_name:
        company.add_storage(outcome.output_bytes)
        if old_names and old_names != [outcome.output_name]:
            company.release_storage(job.output_bytes)
            job.output.name = old_names[0]
            _delete_quietly(storage, old_names)
    return Job.Status.READY


def _fail(job: Job, token, *, message: str, detail: str) -> str:
    now = timezone.now()
    Job.objects.filter(pk=job.pk, claim_token=token).update(
        status=Job.Status.FAILED,
        error=message[:500],
        error_detail=detail,
        finished_at=now,
        claim_token=None,
        updated_at=now,
    )
    if job.kind == Job.Kind.VIDEO:
        Video.objects.filter(pk=job.video_id).update(
            status=Video.Status.FAILED, status_message=message[:300], updated_at=now
        )
    logger.warning("job %s (%s) failed: %s", job.pk, job.kind, message)
    return Job.Status.FAILED


def backoff(attempts: int) -> timedelta:
    return min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_MAX)


def _retry_or_fail(job: Job, token, exc: Exception) -> str:
    attempts = Job.objects.values_list("attempts", flat=True).get(pk=job.pk)
    detail = traceback.format_exc()
    if attempts >= MAX_ATTEMPTS:
        return _fail(job, token, message=_transient_message(exc), detail=detail)
    now = timezone.now()
    Job.objects.filter(pk=job.pk, claim_token=token).update(
        status=Job.Status.PENDING,
        next_attempt_at=now + backoff(attempts),
        error=_transient_message(exc)[:500],
        error_detail=detail,
        claim_token=None,
        updated_at=now,
    )
    logger.warning("job %s (%s) attempt %s failed, will retry: %s", job.pk, job.kind, attempts, exc)
    return Job.Status.PENDING


def _transient_message(exc: Exception) -> str:
    if isinstance(exc, StorageUnavailable | TransientJobError | OSError | ConnectionError):
        return gettext_noop("The file storage could not be reached; processing will be retried automatically.")
    return gettext_noop("Processing failed unexpectedly; our team has been notified.")


def _delete_quietly(storage, names) -> None:
    for name in names:
        try:
            storage.delete(name)
        except Exception:
            logger.exception("could not delete %s", name)


def _read(storage, name: str) -> bytes:
    try:
        with storage.open(name, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        raise PermanentJobError(gettext_noop("The uploaded file is missing from the storage.")) from None
    except Exception as exc:
        raise StorageUnavailable(f"{type(exc).__name__}: {exc}") from exc


def _write(storage, name: str, content) -> int:
    try:
        saved = storage.save(name, content)
        return storage.size(saved)
    except Exception as exc:
        raise StorageUnavailable(f"{type(exc).__name__}: {exc}") from exc


def _output_stem(job: Job) -> str:
    return f"{job.portrait.storage_dir}/{job.kind}-{uuid.uuid4().hex[:12]}"


def _output_name(job: Job, ext: str) -> str:
    return f"{_output_stem(job)}.{ext}"


# --- Handlers: one per kind ------------------------------------------------------------------------


def _reusable(job: Job, sha256: str, version: str) -> Job | None:
    """A ready marker of the same image and compiler in this company, this job's own included."""
    if job.input_sha256 == sha256 and job.compiler_version == version and job.output:
        # Regenerating without a change: our own previous output is still valid.
        return job
    return (
        Job.objects.filter(
            kind=job.kind,
            status=Job.Status.READY,
            input_sha256=sha256,
            compiler_version=version,
            portrait__company_id=job.portrait.company_id,
        )
        .exclude(pk=job.pk)
        .exclude(output="")
        .order_by("-finished_at")
        .first()
    )


def compile_mindar(job: Job) -> Outcome:
    from markers import arvm, mindar

    portrait = job.portrait
    storage = storage_for_company(portrait.company)
    sha256 = portrait.image_sha256
    version = mindar.COMPILER_VERSION
    compact = arvm.current_version()
    source = _reusable(job, sha256, version)
    if source is job and job.compact_version == compact:
        return Outcome(input_sha256=sha256, compiler_version=version, report=job.report, compact_version=compact)
    if source is not None:  # (our own .mind without its current .arvm: rewritten as a pair)
        data = _read(storage, source.output.name)
        name = _output_name(job, "mind")
        size = arvm.write_marker_files(storage, name, data)
        reused = None if source is job else source
        return Outcome(name, size, sha256, version, source.report, reused_from=reused, compact_version=compact)
    image = _read(storage, portrait.image.name)
    try:
        rgb = mindar.decode_image(image)
    except mindar.ImageDecodeError as exc:
        raise PermanentJobError(str(exc)) from exc
    result = mindar.compile_mind([mindar.to_grey(rgb)])
    name = _output_name(job, "mind")
    size = arvm.write_marker_files(storage, name, result.data)
    return Outcome(name, size, sha256, version, result.reports[0].as_dict(), compact_version=compact)


# NFT generation needs ~60 bytes per pixel and time in proportion; photos are tracked from a
# phone's camera at far below this resolution, so larger ones are scaled down first (the DPI is
# scaled with them, so the marker's size in millimetres stays the same).
NFT_MAX_PIXELS = 2_500_000


def nft_names(stem: str) -> dict[str, str]:
    return {ext: f"{stem}.{ext}" for ext in ("iset", "fset", "fset3")}


def compile_nft(job: Job) -> Outcome:
    import io

    import numpy as np
    from PIL import Image

    from markers import nft

    portrait = job.portrait
    storage = storage_for_company(portrait.company)
    sha256 = portrait.image_sha256
    version = nft.GENERATOR_VERSION
    source = _reusable(job, sha256, version)
    if source is job:
        return Outcome(input_sha256=sha256, compiler_version=version, report=job.report)
    names = nft_names(_output_stem(job))
    if source is not None:
        source_stem = source.output.name.rsplit(".", 1)[0]
        files = {ext: _read(storage, name) for ext, name in nft_names(source_stem).items()}
        report = source.report
    else:
        data = _read(storage, portrait.image.name)
        try:
            with Image.open(io.BytesIO(data)) as img:
                dpi = nft.dpi_from_image_info(img.info)
                rgb = img.convert("RGB")
        except OSError as exc:
            raise PermanentJobError(gettext_noop("The photo could not be read to make its AR.js marker.")) from exc
        pixels = rgb.width * rgb.height
        if pixels > NFT_MAX_PIXELS:
            factor = (NFT_MAX_PIXELS / pixels) ** 0.5
            rgb = rgb.resize(
                (max(1, round(rgb.width * factor)), max(1, round(rgb.height * factor))), Image.Resampling.LANCZOS
            )
            dpi = max(1.0, float(round(dpi * factor)))
        result = nft.generate_nft(np.asarray(rgb), dpi=dpi)
        files = {"iset": result.iset, "fset": result.fset, "fset3": result.fset3}
        report = {
            "width": result.width,
            "height": result.height,
            "dpi": result.dpi,
            "scales": len(result.scales),
            "fset_points": sum(scale.fset_points for scale in result.scales),
            "fset3_points": sum(scale.fset3_points for scale in result.scales),
        }
    size = 0
    written = []
    try:
        for ext, name in names.items():
            size += _write(storage, name, ContentFile(files[ext]))
            written.append(name)
    except BaseException:
        _delete_quietly(storage, written)
        raise
    return Outcome(names["iset"], size, sha256, version, report, reused_from=source)


def make_preview(job: Job) -> Outcome:
    portrait = job.portrait
    storage = storage_for_company(portrait.company)
    image = _read(storage, portrait.image.name)
    try:
        data = previews.image_preview(image)
    except OSError as exc:
        raise PermanentJobError(gettext_noop("The photo could not be read to make its preview.")) from exc
    name = _output_name(job, "webp")
    size = _write(storage, name, ContentFile(data))
    old = portrait.preview.name
    Portrait.objects.filter(pk=portrait.pk).update(preview=name, stored_bytes=F("stored_bytes") + size)
    portrait.company.add_storage(size)
    if old:
        _delete_quietly(storage, [old])
    return Outcome()


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
        poster_name = _output_name(job, "webp")
        poster_size = _write(storage, poster_name, ContentFile(poster))
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
                web_name = _output_name(job, "mp4")
                with open(target, "rb") as fh:
                    web_size = _write(storage, web_name, File(fh))
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
            from webhooks import events

            events.video_ready(video=video)
    company = video.portrait.company
    company.add_storage(added)
    if old:
        company.release_storage(max(video.stored_bytes - video.size_bytes, 0))
        _delete_quietly(storage, old)
    return Outcome()


HANDLERS = {
    Job.Kind.MINDAR: compile_mindar,
    Job.Kind.NFT: compile_nft,
    Job.Kind.PREVIEW: make_preview,
    Job.Kind.VIDEO: process_video,
}


# --- Portrait status ------------------------------------------------------------------------------


def derive_status(portrait: Portrait) -> str:
    """Ready when the MindAR marker (and the NFT one, if the photo plays with AR.js), the
    preview and at least one video are ready."""
    jobs = {j.kind: j.status for j in portrait.jobs.exclude(kind=Job.Kind.VIDEO)}
    required = [jobs.get(Job.Kind.MINDAR), jobs.get(Job.Kind.PREVIEW)]
    if portrait.engine == Job.Kind.NFT:
        required.append(jobs.get(Job.Kind.NFT))
    if Job.Status.FAILED in required:
        return Portrait.Status.FAILED
    video_states = list(portrait.videos.values_list("status", flat=True))
    if not video_states:
        return (
            Portrait.Status.NEEDS_VIDEO if all(s == Job.Status.READY for s in required) else Portrait.Status.PROCESSING
        )
    if all(s == Job.Status.READY for s in required) and Video.Status.READY in video_states:
        return Portrait.Status.READY
    if all(s == Video.Status.FAILED for s in video_states):
        return Portrait.Status.FAILED
    return Portrait.Status.PROCESSING


def refresh_portrait_status(*, portrait: Portrait) -> str:
    """Recompute the photo's status from its jobs and videos: the one place it changes.

    The photo's row is locked meanwhile, so two jobs finishing at once derive one after the
    other from what the first committed, and only the refresh that really moves the status
    announces it (``portrait.ready`` / ``portrait.failed`` webhooks, once per change).
    """
    from content.batches import portrait_settled
    from webhooks import events

    with transaction.atomic():
        current = Portrait.objects.select_for_update().filter(pk=portrait.pk).values_list("status", flat=True).first()
        if current is None:
            return portrait.status  # deleted meanwhile
        portrait.status = current
        status = derive_status(portrait)
        changed = portrait.set_status(status)
        if changed:
            events.portrait_status_changed(portrait=portrait, status=status)
    if changed and status != Portrait.Status.PROCESSING:
        # After the commit: the last portrait of a batch to finish makes the batch ready.
        portrait_settled(portrait_id=portrait.pk)
    return status


# --- Recovery ---------------------------------------------------------------------------------------


def sweep_jobs(*, now=None) -> dict[str, int]:
    """Re-queue what is due or lost, recover jobs of dead workers; the periodic safety net."""
    now = now or timezone.now()
    counts = {"requeued_stuck": 0, "failed_stuck": 0, "queued_due": 0}
    rows = RowFailures("sweep_jobs")
    for job in Job.objects.stuck(stuck_after(), now=now).only("pk", "attempts", "started_at", "portrait_id"):
        with rows.isolated(f"job {job.pk}"):
            if job.attempts >= MAX_ATTEMPTS:
                counts["failed_stuck"] += Job.objects.filter(pk=job.pk, status=Job.Status.PROCESSING).update(
                    status=Job.Status.FAILED,
                    error=gettext_noop("Processing was interrupted too many times; try “regenerate”, or contact us."),
                    finished_at=now,
                    claim_token=None,
                    updated_at=now,
                )
                refresh_portrait_status(portrait=Portrait.objects.get(pk=job.portrait_id))
            elif Job.objects.filter(pk=job.pk, status=Job.Status.PROCESSING, started_at=job.started_at).update(
                status=Job.Status.PENDING, claim_token=None, next_attempt_at=None, updated_at=now
            ):
                counts["requeued_stuck"] += 1
                enqueue(job.pk)
    due = (
        Job.objects.due(now)
        .filter(
            Q(next_attempt_at__isnull=False) | Q(queued_at__lt=now - timedelta(seconds=settings.JOB_LOST_AFTER_SECONDS))
        )
        .values_list("pk", flat=True)
    )
    for pk in due:
        counts["queued_due"] += 1
        enqueue(pk)  # never raises: a broker failure is logged and retried on the next sweep
    counts["failed_rows"] = rows.count
    return counts


# --- Combined project markers (album viewer) --------------------------------------------------------


def queue_project_marker(*, project_id: int) -> None:
    """Rebuild the project's combined marker after the current transaction commits."""

    def send():
        from django_q.tasks import async_task

        try:
            async_task(
                "markers.tasks.rebuild_project_marker",
                project_id,
                task_name=f"album-{project_id}-{uuid.uuid4().hex[:8]}",
            )
        except Exception:
            logger.exception("could not queue the album marker of project %s", project_id)

    transaction.on_commit(send)


def album_jobs(project) -> list[Job]:
    """Ready MindAR markers of the project's publicly visible photos, in album order."""
    portraits = Portrait.objects.filter(project=project).publicly_visible()
    return list(
        Job.objects.filter(kind=Job.Kind.MINDAR, status=Job.Status.READY, portrait__in=portraits)
        .exclude(output="")
        .select_related("portrait")
        .order_by("portrait__created_at", "portrait_id")
    )


def rebuild_project_marker(*, project) -> ProjectMarker:
    """Merge the photos' markers into one .mind (target i = photo i), unless nothing changed."""
    from markers import arvm, mindar

    jobs = album_jobs(project)
    key = hashlib.sha256("|".join(f"{j.portrait.unique_id}:{j.output.name}" for j in jobs).encode()).hexdigest()
    marker, _ = ProjectMarker.objects.get_or_create(project=project)
    if marker.source_key == key:
        return marker
    company = project.company
    storage = storage_for_company(company)
    name, size = "", 0
    if jobs:
        data = mindar.merge_mind([_read(storage, job.output.name) for job in jobs])
        name = f"{company.path_prefix}/{project.slug}/album-{uuid.uuid4().hex[:12]}.mind"
        size = arvm.write_marker_files(storage, name, data)
    # Conditional on the key we started from: a concurrent rebuild that finished first wins.
    updated = ProjectMarker.objects.filter(pk=marker.pk, source_key=marker.source_key).update(
        output=name,
        output_bytes=size,
        compact_version=arvm.current_version() if name else 0,
        targets=[str(j.portrait.unique_id) for j in jobs],
        source_key=key,
        updated_at=timezone.now(),
    )
    if not updated:
        if name:
            _delete_quietly(storage, [name, arvm.compact_name(name)])
        return ProjectMarker.objects.get(pk=marker.pk)
    company.add_storage(size)
    if marker.output:
        company.release_storage(marker.output_bytes)
        _delete_quietly(storage, marker.output_names())
    marker.refresh_from_db()
    return marker
