"""Upload, change and delete portraits and videos: the portal and the API both call these.

Writing files and rows safely:

1. validate everything first (``content.validators``), nothing is stored before;
2. in one transaction, reserve the bytes against the company's quota (a conditional UPDATE) and
   write a ``PendingUpload`` journal entry naming the files about to be written;
3. write the files through the company's storage, outside any transaction (slow I/O);
4. in one transaction, create the rows and delete the journal entry; processing jobs are queued
   on commit.

Any failure in 3 or 4 deletes the written files and returns the quota before re-raising. A
process killed between 2 and 4 leaves only the journal entry, which ``sweep_pending_uploads``
turns back into nothing (files deleted, quota released).
"""

from __future__ import annotations

import logging
import uuid
import zoneinfo
from contextlib import contextmanager
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _

from companies.models import Company, Folder, Project
from companies.storage import storage_for_company
from content import schedules
from content.models import PendingUpload, Portrait, Rotation, Video, VideoEvent
from content.validators import ValidatedImage, ValidatedLogo, ValidatedVideo
from lib.periodic import RowFailures
from lib.storage import delete_quietly, write_new

logger = logging.getLogger(__name__)

PENDING_UPLOAD_TTL = timedelta(hours=1)


class QuotaExceeded(ValidationError):
    pass


def _quota_error(company: Company, needed: int) -> QuotaExceeded:
    return QuotaExceeded(
        _(
            "Not enough storage left: this upload needs %(needed)s, and %(used)s of your %(quota)s are in use "
            "(%(left)s free). Delete old photos or videos, or ask us for more space."
        )
        % {
            "needed": filesizeformat(needed),
            "used": filesizeformat(company.storage_used_bytes),
            "quota": filesizeformat(company.storage_quota_bytes),
            "left": filesizeformat(company.storage_left_bytes),
        },
        code="quota",
    )


def _unique_name(directory: str, stem: str, ext: str) -> str:
    return f"{directory}/{stem}-{uuid.uuid4().hex[:12]}.{ext}"


@contextmanager
def _staged(company: Company, planned: dict[str, int]):
    """Reserve quota and journal *planned* names → sizes; undo everything if the block fails.

    Yields the journal entry; the caller deletes it inside the transaction creating the rows.
    """
    total = sum(planned.values())
    with transaction.atomic():
        if not company.reserve_storage(total):
            raise _quota_error(company, total)
        pending = PendingUpload.objects.create(company=company, names=list(planned), reserved_bytes=total)
    pending_id = pending.pk  # pending.delete() in the block clears .pk; a rollback revives the row
    storage = storage_for_company(company)
    try:
        yield pending, storage
    except BaseException:
        delete_quietly(storage, list(planned), why="after a failed upload")
        company.release_storage(total)
        PendingUpload.objects.filter(pk=pending_id).delete()
        raise


def _video_row(*, portrait: Portrait, video: ValidatedVideo, name: str, title: str, order: int, **extra) -> Video:
    return Video(
        portrait=portrait,
        file=name,
        title=title,
        original_filename=video.original_name,
        duration=video.duration,
        width=video.width,
        height=video.height,
        fps=video.fps,
        size_bytes=video.size,
        mime_type=video.mime_type,
        rotation_order=order,
        stored_bytes=video.size,
        **extra,
    )


def create_portrait(
    *,
    project: Project,
    uploaded_by,
    title: str,
    image: ValidatedImage,
    video: ValidatedVideo | None = None,
    video_title: str = "",
    folder: Folder | None = None,
    description: str = "",
    customer_name: str = "",
    customer_phone: str = "",
    customer_email: str = "",
    order_reference: str = "",
    published_at=None,
    expires_at=None,
    unique_id: uuid.UUID | None = None,
) -> Portrait:
    """*unique_id*, when given, is the new portrait's public UUID: a caller that may be retried
    (a batch row) chooses it in advance, to find the portrait its earlier attempt made."""
    company = project.company
    if folder is not None and folder.project_id != project.pk:
        raise ValidationError(_("The folder belongs to another project."), code="folder")
    portrait = Portrait(
        company=company,
        project=project,
        folder=folder,
        unique_id=unique_id or uuid.uuid4(),
        title=title.strip() or image.original_name,
        description=description,
        customer_name=customer_name,
        customer_phone=customer_phone,
        customer_email=customer_email,
        order_reference=order_reference,
        published_at=published_at,
        expires_at=expires_at,
        uploaded_by=uploaded_by,
        image_width=image.width,
        image_height=image.height,
        image_format=image.source_format,
        image_bytes=image.size,
        image_sha256=image.sha256,
        original_filename=image.original_name,
        stored_bytes=image.size,
    )
    portrait.full_clean(exclude=["image", "company", "project"])
    directory = portrait.storage_dir
    image_name = _unique_name(directory, "photo", "jpg")
    planned = {image_name: image.size}
    video_name = None
    if video is not None:
        video_name = _unique_name(directory, "video", video.extension)
        planned[video_name] = video.size

    with _staged(company, planned) as (pending, storage):
        write_new(storage, image_name, ContentFile(image.data))
        if video is not None:
            with open(video.path, "rb") as fh:
                write_new(storage, video_name, File(fh))
        with transaction.atomic():
            portrait.image = image_name
            portrait.save()
            if video is not None:
                first_video = _video_row(
                    portrait=portrait, video=video, name=video_name, title=video_title, order=0, is_active=True
                )
                first_video.save()
                record_event(portrait=portrait, video=first_video, action=VideoEvent.Action.ADDED, by=uploaded_by)
            pending.delete()
            _queue_processing(portrait)
    return portrait


def add_video(
    *,
    portrait: Portrait,
    video: ValidatedVideo,
    title: str = "",
    activate: bool = False,
    schedule_start=None,
    schedule_end=None,
    by,
) -> Video:
    company = portrait.company
    if schedule_start and schedule_end and schedule_end <= schedule_start:
        raise ValidationError(_("The video must stop playing after it starts."), code="schedule")
    name = _unique_name(portrait.storage_dir, "video", video.extension)
    with _staged(company, {name: video.size}) as (pending, storage):
        with open(video.path, "rb") as fh:
            write_new(storage, name, File(fh))
        with transaction.atomic():
            last = portrait.videos.order_by("-rotation_order").values_list("rotation_order", flat=True).first()
            # The first video of a portrait plays without anyone having to pick it.
            first = not portrait.videos.exists()
            row = _video_row(
                portrait=portrait,
                video=video,
                name=name,
                title=title,
                order=0 if last is None else last + 1,
                schedule_start=schedule_start,
                schedule_end=schedule_end,
            )
            row.save()
            record_event(portrait=portrait, video=row, action=VideoEvent.Action.ADDED, by=by)
            if activate or first:
                row.activate()
                record_event(portrait=portrait, video=row, action=VideoEvent.Action.ACTIVATED, by=by)
            pending.delete()
            _queue_video_processing(row)
    return row


def _queue_processing(portrait: Portrait) -> None:
    from markers.jobs import queue_portrait_jobs

    queue_portrait_jobs(portrait=portrait)


def _queue_video_processing(video: Video) -> None:
    from markers.jobs import queue_video_job

    queue_video_job(video=video)


def delete_video(*, video: Video, by) -> None:
    portrait = video.portrait
    company = portrait.company
    names = video.stored_names()
    freed = video.stored_bytes
    with transaction.atomic():
        record_event(portrait=portrait, video=video, action=VideoEvent.Action.DELETED, by=by)
        video.delete()
        transaction.on_commit(lambda: _after_delete(company, names, freed))
    from markers.status import refresh_portrait_status

    refresh_portrait_status(portrait=portrait)


def delete_portrait(*, portrait: Portrait) -> None:
    """Delete a portrait, its videos, jobs and every file, and give the quota back."""
    company = portrait.company
    videos = list(portrait.videos.all())
    jobs = list(portrait.jobs.all())
    names = portrait.stored_names()
    freed = portrait.stored_bytes
    for v in videos:
        names += v.stored_names()
        freed += v.stored_bytes
    for job in jobs:
        names += job.stored_names()
        freed += job.output_bytes
    with transaction.atomic():
        portrait.delete()
        transaction.on_commit(lambda: _after_delete(company, names, freed))
        _album_changed(portrait.project_id)


def _after_delete(company: Company, names: list[str], freed: int) -> None:
    # Rows are gone for good at this point, so the quota is returned even if a file lingers.
    company.release_storage(freed)
    delete_quietly(storage_for_company(company), names, why="(`recompute_storage_usage` will not count it)")


def set_company_logo(*, company: Company, logo: ValidatedLogo) -> Company:
    """Store a validated logo as the company's, through its storage and quota like any upload;
    the previous logo's file goes once the row points at the new one."""
    name = _unique_name(f"{company.path_prefix}/brand", "logo", "png")
    with _staged(company, {name: logo.size}) as (pending, storage):
        write_new(storage, name, ContentFile(logo.data))
        with transaction.atomic():
            old = Company.objects.select_for_update().only("brand_logo", "brand_logo_bytes").get(pk=company.pk)
            Company.objects.filter(pk=company.pk).update(
                brand_logo=name,
                brand_logo_width=logo.width,
                brand_logo_height=logo.height,
                brand_logo_bytes=logo.size,
                updated_at=timezone.now(),
            )
            pending.delete()
            old_name, old_bytes = old.brand_logo.name, old.brand_logo_bytes
            if old_name:
                transaction.on_commit(lambda: _after_delete(company, [old_name], old_bytes))
    company.refresh_from_db()
    return company


def remove_company_logo(*, company: Company) -> Company:
    with transaction.atomic():
        old = Company.objects.select_for_update().only("brand_logo", "brand_logo_bytes").get(pk=company.pk)
        Company.objects.filter(pk=company.pk).update(
            brand_logo="", brand_logo_width=0, brand_logo_height=0, brand_logo_bytes=0, updated_at=timezone.now()
        )
        old_name, old_bytes = old.brand_logo.name, old.brand_logo_bytes
        if old_name:
            transaction.on_commit(lambda: _after_delete(company, [old_name], old_bytes))
    company.refresh_from_db()
    return company


def update_portrait(*, portrait: Portrait, **fields) -> Portrait:
    for name, value in fields.items():
        setattr(portrait, name, value)
    portrait.full_clean(exclude=["image", "preview", "company", "project"])
    portrait.save(update_fields=[*fields, "updated_at"])
    if {"is_active", "published_at", "expires_at"} & set(fields):
        _album_changed(portrait.project_id)
    if "viewer_engine" in fields:
        _refresh_status(portrait)  # the engine decides which markers "ready" waits for
    return portrait


def _album_changed(project_id: int) -> None:
    from markers.jobs import queue_project_marker

    queue_project_marker(project_id=project_id)


def delete_project_content(*, project: Project) -> None:
    """Delete every portrait of a project (files and quota included) and its album marker."""
    for portrait in project.portraits.select_related("company", "project"):
        delete_portrait(portrait=portrait)
    marker = getattr(project, "combined_marker", None)
    if marker is not None and marker.output:
        company, names, size = project.company, marker.stored_names(), marker.output_bytes
        transaction.on_commit(lambda: _after_delete(company, names, size))


def record_event(
    *, portrait: Portrait, video: Video | None, action: str, by, changes: dict | None = None
) -> VideoEvent:
    return VideoEvent.objects.create(
        portrait=portrait,
        video=video,
        video_label=str(video)[:255] if video is not None else "",
        action=action,
        by=by if getattr(by, "is_authenticated", False) else None,
        changes=changes or {},
    )


def _refresh_status(portrait: Portrait) -> None:
    from markers.status import refresh_portrait_status

    refresh_portrait_status(portrait=portrait)


@transaction.atomic
def activate_video(*, video: Video, by) -> Video:
    video.activate()
    record_event(portrait=video.portrait, video=video, action=VideoEvent.Action.ACTIVATED, by=by)
    _refresh_status(video.portrait)
    return video


@transaction.atomic
def deactivate_video(*, video: Video, by) -> Video:
    video.deactivate()
    record_event(portrait=video.portrait, video=video, action=VideoEvent.Action.DEACTIVATED, by=by)
    _refresh_status(video.portrait)
    return video


def _audit_value(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


@transaction.atomic
def update_video(*, video: Video, by, **fields) -> Video:
    before = {name: getattr(video, name) for name in fields}
    for name, value in fields.items():
        setattr(video, name, value)
    if video.schedule_start and video.schedule_end and video.schedule_end <= video.schedule_start:
        raise ValidationError({"schedule_end": _("The video must stop playing after it starts.")}, code="schedule")
    video.full_clean(exclude=["file", "web_file", "poster", "portrait"])
    video.save(update_fields=[*fields, "updated_at"])
    changes = {
        name: [_audit_value(before[name]), _audit_value(value)]
        for name, value in fields.items()
        if before[name] != value
    }
    if changes:
        record_event(portrait=video.portrait, video=video, action=VideoEvent.Action.SCHEDULED, by=by, changes=changes)
    return video


@transaction.atomic
def reorder_videos(*, portrait: Portrait, order: list[int], by) -> None:
    """Set the rotation order to the given list of video ids (all of the portrait's videos)."""
    ids = set(portrait.videos.values_list("pk", flat=True))
    if set(order) != ids or len(order) != len(ids):
        raise ValidationError(_("The new order must list each of this photo's videos exactly once."), code="order")
    for position, pk in enumerate(order):
        Video.objects.filter(pk=pk, portrait=portrait).update(rotation_order=position)
    record_event(portrait=portrait, video=None, action=VideoEvent.Action.REORDERED, by=by, changes={"order": order})


ROTATION_FIELDS = ("kind", "every", "at", "weekday", "monthday", "cron")


@transaction.atomic
def update_rotation(*, portrait: Portrait, by, **fields) -> Rotation:
    """Change how the videos take turns; the new rule starts now, with the first video."""
    rotation, _created = Rotation.objects.select_for_update().get_or_create(portrait=portrait)
    before = {name: getattr(rotation, name) for name in fields}
    for name, value in fields.items():
        setattr(rotation, name, value)
    rotation.anchor = timezone.now()
    rotation.base_index = 0
    rotation.full_clean(exclude=["portrait"])
    rotation.save()
    changes = {
        name: [_audit_value(before[name]), _audit_value(value)]
        for name, value in fields.items()
        if before[name] != value
    }
    record_event(portrait=portrait, video=None, action=VideoEvent.Action.ROTATION, by=by, changes=changes)
    return rotation


def rebase_rotations(*, now=None) -> int:
    """Move each rotation's anchor up to now without changing what plays (see schedules.rebase).

    A rotation that cannot be rebased (its company's time zone unknown to tzdata, say) is logged
    and skipped; every other one is still rebased.
    """
    now = now or timezone.now()
    moved = 0
    rows = RowFailures("rebase_rotations")
    for rotation in Rotation.objects.exclude(kind=Rotation.Kind.NONE).select_related("portrait__company"):
        with rows.isolated(f"rotation {rotation.pk}"):
            rule = rotation.rule(zoneinfo.ZoneInfo(rotation.portrait.company.timezone))
            rebased = schedules.rebase(rule, now)
            if rebased.anchor != rule.anchor:
                # Conditional on the old anchor: a concurrent rule change wins over the rebase.
                moved += Rotation.objects.filter(pk=rotation.pk, anchor=rule.anchor).update(
                    anchor=rebased.anchor, base_index=rebased.base_index
                )
    return moved


def sweep_pending_uploads(*, older_than: timedelta = PENDING_UPLOAD_TTL) -> int:
    """Undo uploads whose process died midway: delete their files and release their quota.

    An entry that cannot be undone now (its company's storage cannot be built) is logged and kept
    for the next run; the others are still undone.
    """
    swept = 0
    rows = RowFailures("sweep_pending_uploads")
    for pending in PendingUpload.objects.filter(created_at__lt=timezone.now() - older_than).select_related("company"):
        with rows.isolated(f"pending upload {pending.pk}"):
            storage = storage_for_company(pending.company)
            delete_quietly(storage, pending.names, why="after a failed upload")
            with transaction.atomic():
                if PendingUpload.objects.filter(pk=pending.pk).delete()[0]:
                    pending.company.release_storage(pending.reserved_bytes)
                    swept += 1
    return swept
