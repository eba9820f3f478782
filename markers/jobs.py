"""Processing jobs: queue, claim, run, retry, recover, and the portrait status they add up to.

A job row is claimed with one conditional UPDATE (pending and due → processing, with a fresh
claim token), so two workers never run the same job. The slow part — reading the image, compiling,
writing the output — runs outside any transaction, and only the current claim holder may record
the result. Transient failures (storage unreachable) are retried with exponential back-off by the
sweeper; permanent ones (an image that cannot be decoded) fail at once with a plain message.
"""

from __future__ import annotations

import logging
import time
import traceback
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from companies.storage import replace_output, storage_for_company
from content.models import Portrait, Video
from lib.periodic import RowFailures
from lib.storage import StorageUnavailable, delete_quietly
from lib.tasks import send_task, send_task_on_commit
from markers.handlers.base import Outcome, PermanentJobError, TransientJobError
from markers.models import Job
from markers.status import refresh_portrait_status

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BACKOFF_BASE = timedelta(seconds=15)
BACKOFF_MAX = timedelta(minutes=30)


def stuck_after() -> timedelta:
    """A job processing longer than a task may live was abandoned by a dead worker."""
    return timedelta(seconds=settings.JOB_STUCK_AFTER_SECONDS)


# --- Queueing -------------------------------------------------------------------------------------


def enqueue(job_id: int) -> None:
    """Hand the job to the task queue; if the broker is down the sweeper will do it later."""
    send_task("markers.tasks.run_job", job_id, label="job", otherwise="the sweeper will retry")


def _queue(job: Job) -> None:
    transaction.on_commit(lambda: enqueue(job.pk))


def queue_project_marker(*, project_id: int) -> None:
    """Rebuild the project's combined marker (``markers.album``) after the current transaction commits."""
    send_task_on_commit(
        "markers.tasks.rebuild_project_marker",
        project_id,
        label="album",
        otherwise="it is rebuilt when the next photo of the album is ready",
    )


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
    # Both marker kinds for every photo, so switching a company's engine needs no reprocessing.
    kinds = [Job.Kind.MINDAR, Job.Kind.NFT, Job.Kind.PREVIEW]
    needed = [k for k in kinds if k != Job.Kind.NFT or portrait.engine == Job.Kind.NFT]
    jobs = [queue_job(portrait=portrait, kind=kind) for kind in needed]
    jobs += [queue_job(portrait=portrait, kind=Job.Kind.VIDEO, video=v) for v in portrait.videos.all()]
    jobs += [queue_job(portrait=portrait, kind=kind) for kind in kinds if kind not in needed]
    refresh_portrait_status(portrait=portrait)
    return jobs


def queue_video_job(*, video: Video) -> Job:
    job = queue_job(portrait=video.portrait, kind=Job.Kind.VIDEO, video=video)
    refresh_portrait_status(portrait=video.portrait)
    return job


def retry_failed_jobs(*, portrait: Portrait) -> list[Job]:
    """The client's "try again" on a photo that failed: each of its failed jobs (a video's too)
    is queued again from scratch, and a failed video shows as processing again."""
    with transaction.atomic():
        failed = list(portrait.jobs.filter(status=Job.Status.FAILED).select_related("video"))
        videos = [job.video_id for job in failed if job.video_id]
        if videos:
            Video.objects.filter(pk__in=videos, status=Video.Status.FAILED).update(
                status=Video.Status.PROCESSING, status_message="", updated_at=timezone.now()
            )
        jobs = [queue_job(portrait=portrait, kind=job.kind, video=job.video) for job in failed]
        refresh_portrait_status(portrait=portrait)
    return jobs


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
    # The compilers (numpy work, ~160 ms to import) load in the workers that run jobs, not in
    # every web process that queues them.
    from markers.handlers import HANDLERS

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
    old_names = job.stored_names()
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
    if not updated:
        # We lost the claim (presumed dead and re-queued): our output belongs to nobody.
        if outcome.output_name:
            delete_quietly(storage_for_company(company), [outcome.output_name])
        return Job.Status.PROCESSING
    if outcome.output_name:
        replaced = old_names if old_names != [outcome.output_name] else []
        replace_output(
            company=company, added_bytes=outcome.output_bytes, old_names=replaced, old_bytes=job.output_bytes
        )
    logger.info("job %s (%s) ready in %s ms", job.pk, job.kind, duration_ms)
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
        .values_list("pk", "queued_at", "next_attempt_at")
    )
    for pk, queued_at, next_attempt_at in due:
        # Marked as queued now, conditionally: a job waiting its turn behind a backlog is sent
        # again once per JOB_LOST_AFTER_SECONDS at most, not on every sweep (each copy in the
        # broker costs a worker a claim attempt), and two sweepers never both send it.
        if Job.objects.filter(
            pk=pk, status=Job.Status.PENDING, queued_at=queued_at, next_attempt_at=next_attempt_at
        ).update(queued_at=now, next_attempt_at=None):
            counts["queued_due"] += 1
            enqueue(pk)  # never raises: a broker failure is logged, and the job sent again once lost
    counts["failed_rows"] = rows.count
    return counts
