"""Upload, change and delete portraits and videos: the portal and the API both call these.

Writing files and rows safely:

1. validate everything first (``content.validators``), nothing is stored before;
2. in one transaction, reserve the bytes against the company's quota (a conditional UPDATE) and
   write a ``PendingUpload`` journal entry naming the files about to be written (``companies.quota``);
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

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from companies.models import Project
from companies.quota import release_files, staged, unique_name
from content import schedules, signals
from content.models import Portrait, Rotation, Video, VideoEvent
from content.validators import ValidatedImage, ValidatedVideo
from lib.periodic import RowFailures
from lib.storage import write_new

logger = logging.getLogger(__name__)

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
    portrait = Portrait(
        company=company,
        project=project,
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
    image_name = unique_name(directory, "photo", "jpg")
    planned = {image_name: image.size}
    video_name = None
    if video is not None:
        video_name = unique_name(directory, "video", video.extension)
        planned[video_name] = video.size

    with staged(company, planned) as (pending, storage):
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
    name = unique_name(portrait.storage_dir, "video", video.extension)
    with staged(company, {name: video.size}) as (pending, storage):
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
    signals.portrait_uploaded.send(sender=Portrait, portrait=portrait)


def _queue_video_processing(video: Video) -> None:
    signals.video_uploaded.send(sender=Video, video=video)


def delete_video(*, video: Video, by) -> None:
    portrait = video.portrait
    company = portrait.company
    names = video.stored_names()
    freed = video.stored_bytes
    with transaction.atomic():
        record_event(portrait=portrait, video=video, action=VideoEvent.Action.DELETED, by=by)
        video.delete()
        transaction.on_commit(lambda: release_files(company, names, freed))
    _refresh_status(portrait)


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
        transaction.on_commit(lambda: release_files(company, names, freed))
        _album_changed(portrait.project_id)


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
    signals.album_changed.send(sender=Portrait, project_id=project_id)


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
    signals.portrait_inputs_changed.send(sender=Portrait, portrait=portrait)


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
