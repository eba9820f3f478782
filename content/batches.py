"""Batches: many orders in one upload, checked in full, then made into portraits row by row.

The life of a batch (``Batch.status``):

1. **uploading → queued.** The web request only streams the upload (a ZIP, or separate files one
   request at a time) into the private staging storage (:mod:`lib.staging`) and records it.
2. **checking → review.** A worker unpacks the ZIP file by file under hard limits
   (:mod:`content.batch_archive`), pairs files into orders (:mod:`content.batch_orders`), runs
   every photo and video through the same validators as single uploads and keeps the results in
   staging. Rows are written in one transaction at the end, with plain-language errors; orders
   already made in this project (same order reference, or same file names) are marked as such.
   Nothing is created and no quota is used.
3. **running.** Confirming queues one job per chosen row. A row job claims its row with a
   conditional UPDATE and calls ``content.services.create_portrait`` / ``add_video`` with the
   portrait's UUID chosen in advance, so a worker killed at any point is resumed by the sweeper
   without making anything twice (files written before a death are undone by the upload journal).
4. **ready** once every row is made and every portrait has finished processing
   (:func:`finish_if_done`, the one place a batch becomes ready: see :func:`batch_ready`). The
   staging files are deleted; the print PDF is made in the background and kept for a while.

Jobs are thin (``content.tasks``) and idempotent; :func:`sweep_batches` re-queues lost and stuck
work, expires abandoned batches and deletes staging files nobody needs.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import shutil
import tempfile
import time
import uuid
import zoneinfo
from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from companies.models import Project
from content import printsheet, services, signals
from content.batch_archive import (
    ArchiveRefused,
    Budget,
    Entry,
    EntryError,
    kind_of,
    looks_like_archive,
    open_archive,
    safe_path,
    unpack,
)
from content.batch_messages import message, names_list
from content.batch_orders import CSV_MAX_BYTES, ORDERS_NAME, neutralise, plans_from_csv, plans_from_names
from content.models import Batch, BatchPrintFile, BatchRow, Portrait
from content.pdfjoin import PdfJoiner
from content.validators import (
    ValidatedImage,
    ValidatedVideo,
    sniff_image,
    sniff_video,
    validate_image,
    validate_video,
)
from lib import staging
from lib.periodic import RowFailures
from lib.storage import StorageUnavailable, storage_error_message
from lib.tasks import send_task

logger = logging.getLogger(__name__)

MB = 1024 * 1024
MAX_CHECK_ATTEMPTS = 3
MAX_ROW_ATTEMPTS = 5
ROW_BACKOFF = timedelta(seconds=15)
DRAFT_TTL = timedelta(hours=24)
REVIEW_TTL = timedelta(days=7)
WORKDIR_PREFIX = "arv-batch-"
ALLOWED_UPLOAD_KINDS = ("photo", "video", "csv")


class LostClaim(Exception):
    """Another worker took this job over (we were presumed dead): stop without writing."""


def stuck_after() -> timedelta:
    return timedelta(seconds=settings.JOB_STUCK_AFTER_SECONDS)


def lost_after() -> timedelta:
    return timedelta(seconds=settings.JOB_LOST_AFTER_SECONDS)


# --- Queueing --------------------------------------------------------------------------------------


def _enqueue(func: str, arg: int, label: str) -> None:
    send_task(func, arg, label=label, otherwise="the sweeper will retry")


def _queue_check(batch_id: int) -> None:
    transaction.on_commit(lambda: _enqueue("content.tasks.check_batch", batch_id, "batch-check"))


def _queue_row(row_id: int) -> None:
    transaction.on_commit(lambda: _enqueue("content.tasks.make_batch_row", row_id, "batch-row"))


def _queue_print_file(print_file_id: int) -> None:
    transaction.on_commit(lambda: _enqueue("content.tasks.make_batch_print_file", print_file_id, "batch-pdf"))


# --- Intake (web requests) ----------------------------------------------------------------------------


def _extension(name: str) -> str:
    ext = PurePosixPath(name).suffix.lower().lstrip(".")
    return ext if ext.isalnum() and len(ext) <= 5 else "bin"


def _stage_upload(batch: Batch, upload: UploadedFile, number: int) -> dict:
    name = f"{staging.batch_prefix(batch.uuid)}/upload/{number:05d}.{_extension(upload.name or '')}"
    staging.save(name, upload)
    return {
        "name": name,
        "original": PurePosixPath((upload.name or "file").replace("\\", "/")).name[:255],
        "size": upload.size,
    }


def upload_kind(name: str) -> str:
    return kind_of(PurePosixPath((name or "").replace("\\", "/")).name)


def check_upload_size(total: int) -> None:
    if total > settings.BATCH_MAX_MB * MB:
        raise ValidationError(
            _("The upload is %(size)s; a batch may be at most %(limit)s.")
            % {"size": _size(total), "limit": _size(settings.BATCH_MAX_MB * MB)},
            code="too_large",
        )


def _size(n: int) -> str:
    from django.template.defaultfilters import filesizeformat

    return filesizeformat(n)


def validate_archive_upload(upload: UploadedFile) -> None:
    """A quick look before anything is stored: the real check runs in the worker."""
    if not upload.size:
        raise ValidationError(_("The file is empty."), code="empty")
    check_upload_size(upload.size)
    upload.seek(0)
    head = upload.read(4)
    upload.seek(0)
    if head not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise ValidationError(
            _("This is not a ZIP archive. Upload a .zip file, or the photos and videos themselves."), code="not_zip"
        )


def validate_file_uploads(uploads: list[UploadedFile]) -> None:
    if not uploads:
        raise ValidationError(_("Choose the files to upload."), code="required")
    if len(uploads) > settings.BATCH_MAX_FILES:
        raise ValidationError(
            _("%(count)s files were sent; a batch may have at most %(limit)s.")
            % {"count": len(uploads), "limit": settings.BATCH_MAX_FILES},
            code="too_many_files",
        )
    check_upload_size(sum(u.size for u in uploads))
    for upload in uploads:
        if upload_kind(upload.name) not in ALLOWED_UPLOAD_KINDS:
            raise ValidationError(
                _("“%(name)s” is not a photo, a video or orders.csv.") % {"name": upload.name}, code="file_type"
            )
        if not upload.size:
            raise ValidationError(_("“%(name)s” is empty.") % {"name": upload.name}, code="empty")


def _new_batch(*, project: Project, by, source: str, sheet_format: str, language: str, name: str) -> Batch:
    # Committed before any file is staged: the sweeper deletes staging folders that have no
    # batch row, and must never see one that is still being written.
    return Batch.objects.create(
        company=project.company,
        project=project,
        created_by=by if getattr(by, "is_authenticated", False) else None,
        status=Batch.Status.UPLOADING,
        source=source,
        sheet_format=sheet_format,
        language=language or settings.LANGUAGE_CODE,
        original_name=name[:255],
    )


def start_batch(
    *,
    project: Project,
    by,
    archive: UploadedFile | None = None,
    files: Iterable[UploadedFile] = (),
    sheet_format: str = Batch.SheetFormat.A4,
    language: str = "",
) -> Batch:
    """Stage an uploaded ZIP (or files) and queue its check. Nothing is unpacked here."""
    files = list(files)
    if (archive is None) == (not files):
        raise ValidationError(_("Upload either one ZIP archive or the files themselves."), code="source")
    if archive is not None:
        validate_archive_upload(archive)
        name, source, uploads = archive.name or "batch.zip", Batch.Source.ZIP, [archive]
    else:
        validate_file_uploads(files)
        name, source, uploads = _("%(count)s files") % {"count": len(files)}, Batch.Source.FILES, files
    batch = _new_batch(project=project, by=by, source=source, sheet_format=sheet_format, language=language, name=name)
    try:
        staged = [_stage_upload(batch, upload, n) for n, upload in enumerate(uploads)]
    except BaseException:
        staging.delete_tree(staging.batch_prefix(batch.uuid))
        batch.delete()
        raise
    with transaction.atomic():
        Batch.objects.filter(pk=batch.pk).update(
            status=Batch.Status.QUEUED,
            uploads=staged,
            upload_files=len(staged),
            upload_bytes=sum(s["size"] for s in staged),
            updated_at=timezone.now(),
        )
        _queue_check(batch.pk)
    batch.refresh_from_db()
    return batch


def open_draft(*, project: Project, by, sheet_format: str = Batch.SheetFormat.A4, language: str = "") -> Batch:
    """A batch whose files come one request at a time (the portal's drag and drop)."""
    return _new_batch(
        project=project,
        by=by,
        source=Batch.Source.FILES,
        sheet_format=sheet_format,
        language=language,
        name=_("Separate files"),
    )


def add_file(*, batch: Batch, upload: UploadedFile) -> Batch:
    validate_file_uploads([upload])
    with transaction.atomic():
        locked = Batch.objects.select_for_update().get(pk=batch.pk)
        if locked.status != Batch.Status.UPLOADING:
            raise ValidationError(_("This batch is no longer taking files."), code="state")
        if locked.upload_files >= settings.BATCH_MAX_FILES:
            raise ValidationError(
                _("A batch may have at most %(limit)s files.") % {"limit": settings.BATCH_MAX_FILES},
                code="too_many_files",
            )
        check_upload_size(locked.upload_bytes + upload.size)
        number = locked.upload_files
        # Counted before the (slow) write, so a concurrent request gets the next number.
        Batch.objects.filter(pk=batch.pk).update(
            upload_files=F("upload_files") + 1, upload_bytes=F("upload_bytes") + upload.size, updated_at=timezone.now()
        )
    staged = _stage_upload(batch, upload, number)
    with transaction.atomic():
        locked = Batch.objects.select_for_update().get(pk=batch.pk)
        locked.uploads = [*locked.uploads, staged]
        locked.save(update_fields=["uploads", "updated_at"])
    return locked


def submit_draft(*, batch: Batch) -> Batch:
    with transaction.atomic():
        locked = Batch.objects.select_for_update().get(pk=batch.pk)
        if locked.status != Batch.Status.UPLOADING:
            raise ValidationError(_("This batch was already sent for checking."), code="state")
        if not locked.uploads:
            raise ValidationError(_("Add the files first."), code="required")
        count = len(locked.uploads)
        locked.status = Batch.Status.QUEUED
        locked.original_name = _("%(count)s files") % {"count": count}
        locked.upload_files = count
        locked.save(update_fields=["status", "original_name", "upload_files", "updated_at"])
        _queue_check(locked.pk)
    return locked


# --- The check (worker) ----------------------------------------------------------------------------------


class StagedUpload(UploadedFile):
    """A file unpacked to local disk, as the validators take uploads (with a path for videos)."""

    def __init__(self, path: Path, name: str, size: int):
        super().__init__(open(path, "rb"), name=name, size=size)  # noqa: SIM115 - closed by close()
        self._path = path

    def temporary_file_path(self) -> str:
        return str(self._path)


class LocalFile(File):
    """A local file FileSystemStorage may move into place instead of copying."""

    def __init__(self, path: Path):
        super().__init__(open(path, "rb"), name=path.name)  # noqa: SIM115 - closed by the caller
        self._path = path

    def temporary_file_path(self) -> str:
        return str(self._path)


def _claim_check(batch_id: int) -> uuid.UUID | None:
    token = uuid.uuid4()
    now = timezone.now()
    claimed = Batch.objects.filter(pk=batch_id, status=Batch.Status.QUEUED).update(
        status=Batch.Status.CHECKING,
        claim_token=token,
        attempts=F("attempts") + 1,
        heartbeat_at=now,
        progress_done=0,
        progress_total=0,
        updated_at=now,
    )
    return token if claimed else None


def _beat(batch: Batch, token, **fields) -> None:
    now = timezone.now()
    if not Batch.objects.filter(pk=batch.pk, claim_token=token, status=Batch.Status.CHECKING).update(
        heartbeat_at=now, updated_at=now, **fields
    ):
        raise LostClaim


def check_batch(*, batch_id: int) -> str | None:
    """The worker's check of a queued batch; returns the new status, or None if not ours."""
    token = _claim_check(batch_id)
    if token is None:
        return None
    batch = Batch.objects.select_related("company", "project").get(pk=batch_id)
    with translation.override(batch.language):
        try:
            with tempfile.TemporaryDirectory(prefix=f"{WORKDIR_PREFIX}{batch.uuid}-") as tmp:
                return _check(batch, token, Path(tmp))
        except LostClaim:
            return None
        except ArchiveRefused as exc:
            return _refuse(batch, token, message(exc.code, **_listed(exc.params)))
        except (StorageUnavailable, OSError) as exc:
            logger.warning("batch %s: check attempt failed: %s", batch.uuid, exc)
            if batch.attempts >= MAX_CHECK_ATTEMPTS:
                return _refuse(batch, token, message("storage"))
            Batch.objects.filter(pk=batch.pk, claim_token=token).update(
                status=Batch.Status.QUEUED, claim_token=None, updated_at=timezone.now()
            )
            return Batch.Status.QUEUED
        except Exception:
            # A bug, not the upload's fault: say so at once rather than after three time-outs.
            logger.exception("batch %s: the check failed", batch.uuid)
            return _refuse(batch, token, message("unexpected"))


def _listed(params: dict) -> dict:
    return {k: names_list(v) if isinstance(v, list) else v for k, v in params.items()}


def _refuse(batch: Batch, token, error: dict) -> str:
    now = timezone.now()
    if Batch.objects.filter(pk=batch.pk, claim_token=token).update(
        status=Batch.Status.FAILED, error=error, claim_token=None, finished_at=now, updated_at=now
    ):
        transaction.on_commit(lambda: clean_staging(batch_id=batch.pk))
    return Batch.Status.FAILED


def _entries(batch: Batch, work: Path):
    """(open archive or None, entries, junk names) of the batch's upload."""
    if batch.source == Batch.Source.ZIP:
        path = staging.open_local(batch.uploads[0]["name"], work)
        return open_archive(path, max_files=settings.BATCH_MAX_FILES)
    entries, junk, seen = [], [], set()
    for index, upload in enumerate(batch.uploads):
        name = safe_path(upload["original"]) or f"file-{index}"
        if name.casefold() in seen:
            raise ArchiveRefused("duplicate_name", name=name)
        seen.add(name.casefold())
        local = staging.open_local(upload["name"], work)
        entries.append(Entry(index=index, path=name, kind=kind_of(name), declared_size=upload["size"], local=local))
    return None, entries, junk


def _check(batch: Batch, token, work: Path) -> str:
    archive, entries, _junk = _entries(batch, work)
    try:
        warnings = []
        media = [e for e in entries if e.kind in ("photo", "video")]
        csvs = [e for e in entries if e.kind == "csv"]
        orders_files = [e for e in csvs if e.name.casefold() == ORDERS_NAME]
        if len(orders_files) > 1:
            raise ArchiveRefused("several_csv", names=[e.path for e in orders_files])
        if others := [e.path for e in csvs if e not in orders_files]:
            warnings.append(message("csv_ignored", names=names_list(others)))
        if nested := [e.path for e in entries if e.kind == "archive"]:
            warnings.append(message("nested_archive", names=names_list(nested)))
        if ignored := [e.path for e in entries if e.kind == "other"]:
            warnings.append(message("ignored_files", names=names_list(ignored)))
        if not any(e.kind == "photo" for e in media):
            raise ArchiveRefused("no_files")
        budget = Budget(limit=settings.BATCH_MAX_UNPACKED_MB * MB)
        tz = zoneinfo.ZoneInfo(batch.company.timezone)
        if orders_files:
            data = _unpack_orders(archive, orders_files[0], work, budget)
            orders = plans_from_csv(
                data, csv_path=orders_files[0].path, entries=media, max_rows=settings.BATCH_MAX_ROWS, tz=tz
            )
        else:
            orders = plans_from_names(media)
            if len(orders.plans) > settings.BATCH_MAX_ROWS:
                raise ArchiveRefused("csv_too_many_rows", count=len(orders.plans), max=settings.BATCH_MAX_ROWS)
        warnings += [message(code, **_listed(params)) for code, params in orders.warnings]
        needed: dict[int, Entry] = {}
        for plan in orders.plans:
            for entry in ([plan.photo] if plan.photo else []) + plan.videos:
                needed.setdefault(entry.index, entry)
        files = sorted(needed.values(), key=lambda e: e.index)  # archive order: one pass over the ZIP
        _beat(batch, token, progress_total=len(files))
        results: dict[int, dict] = {}
        last_beat = time.monotonic()
        for done, entry in enumerate(files, start=1):
            results[entry.index] = _check_file(batch, archive, entry, work, budget)
            if time.monotonic() - last_beat > 0.5 or done == len(files):
                _beat(batch, token, progress_done=done)
                last_beat = time.monotonic()
        rows = _rows(batch, orders.plans, results)
    finally:
        if archive is not None:
            archive.close()
    now = timezone.now()
    with transaction.atomic():
        # A retried check replaces what an interrupted one may have written.
        BatchRow.objects.filter(batch=batch).delete()
        BatchRow.objects.bulk_create(rows)
        if not Batch.objects.filter(pk=batch.pk, claim_token=token, status=Batch.Status.CHECKING).update(
            status=Batch.Status.REVIEW,
            warnings=warnings,
            needed_bytes=sum(r.needed_bytes for r in rows if r.status == BatchRow.Status.VALID),
            claim_token=None,
            checked_at=now,
            updated_at=now,
        ):
            raise LostClaim
    return Batch.Status.REVIEW


def _unpack_orders(archive, entry: Entry, work: Path, budget: Budget) -> bytes:
    target = work / "orders.csv"
    try:
        unpack(archive, entry, target, max_bytes=CSV_MAX_BYTES, budget=budget, check_ratio=False)
    except EntryError as exc:
        if exc.code == "file_too_big":
            raise ArchiveRefused("csv_too_big", limit=CSV_MAX_BYTES) from None
        if exc.code == "empty_file":
            raise ArchiveRefused("csv_empty") from None
        raise ArchiveRefused("damaged") from None
    try:
        return target.read_bytes()
    finally:
        target.unlink(missing_ok=True)


def _head_check(entry: Entry):
    def check(chunk: bytes) -> None:
        if looks_like_archive(chunk[:512]):
            raise EntryError("nested_archive_file", name=entry.path)
        sniff = sniff_image if entry.kind == "photo" else sniff_video
        if sniff(chunk[:64]) is None:
            code = "not_a_photo_name" if entry.kind == "photo" else "not_a_video_name"
            raise EntryError(code, name=entry.path)

    return check


def _check_file(batch: Batch, archive, entry: Entry, work: Path, budget: Budget) -> dict:
    """Unpack and validate one file; {"facts": …} kept in staging, or {"error": message}."""
    limit = (settings.UPLOAD_MAX_MB if entry.kind == "photo" else settings.VIDEO_MAX_MB) * MB
    target = work / f"{entry.index}.{entry.extension or 'bin'}"
    try:
        size = unpack(archive, entry, target, max_bytes=limit, budget=budget, head_check=_head_check(entry))
    except EntryError as exc:
        return {"error": message(exc.code, **exc.params)}
    prefix = f"{staging.batch_prefix(batch.uuid)}/files/{entry.index}"
    upload = StagedUpload(target, entry.name, size)
    try:
        if entry.kind == "photo":
            image = validate_image(upload)
            name = f"{prefix}.jpg"
            staging.save(name, ContentFile(image.data))
            return {
                "facts": {
                    "name": name,
                    "width": image.width,
                    "height": image.height,
                    "format": image.source_format,
                    "sha256": image.sha256,
                    "size": image.size,
                    "original": image.original_name,
                }
            }
        video = validate_video(upload)
        name = f"{prefix}.{video.extension}"
        with LocalFile(target) as local:
            staging.save(name, local)
        return {
            "facts": {
                "name": name,
                "size": video.size,
                "duration": video.duration,
                "width": video.width,
                "height": video.height,
                "fps": video.fps,
                "mime_type": video.mime_type,
                "extension": video.extension,
                "original": video.original_name,
            }
        }
    except ValidationError as exc:
        return {"error": message("invalid_file", name=entry.path, problem=" ".join(exc.messages))}
    finally:
        upload.close()
        target.unlink(missing_ok=True)


def _rows(batch: Batch, plans, results: dict[int, dict]) -> list[BatchRow]:
    taken = existing_orders(project=batch.project, plans=plans, exclude_batch=batch)
    rows = []
    for plan in plans:
        errors = [message(code, **_listed(params)) for code, params in plan.errors]
        warnings = [message(code, **_listed(params)) for code, params in plan.warnings]
        staged = {"photo": None, "videos": []}
        for entry in ([plan.photo] if plan.photo else []) + plan.videos:
            result = results.get(entry.index, {})
            if "error" in result:
                errors.append(result["error"])
            elif entry is plan.photo:
                staged["photo"] = result["facts"]
            else:
                staged["videos"].append(result["facts"])
        values = plan.values
        row = BatchRow(
            batch=batch,
            number=plan.number,
            key=plan.key,
            photo_name=plan.photo.path if plan.photo else plan.photo_ref[:500],
            video_names=[v.path for v in plan.videos] or plan.video_refs,
            staged=staged,
            title=values.get("title") or (plan.photo.stem if plan.photo else "")[:200],
            customer_name=values.get("customer_name", ""),
            customer_phone=values.get("customer_phone", ""),
            customer_email=values.get("customer_email", ""),
            order_reference=values.get("order_reference", ""),
            published_at=values.get("published_at"),
            expires_at=values.get("expires_at"),
            errors=errors,
            warnings=warnings,
        )
        if errors:
            row.status = BatchRow.Status.INVALID
        else:
            row.needed_bytes = staged["photo"]["size"] + sum(v["size"] for v in staged["videos"])
            if plan.key in taken:
                _already_made(row, taken[plan.key])
        rows.append(row)
    return rows


def _already_made(row: BatchRow, earlier: Portrait | bool) -> None:
    """Mark *row* as an order the project already has (or another batch is making: False)."""
    row.status = BatchRow.Status.EXISTS
    row.portrait = earlier or None
    title = earlier.title if earlier else _("being made by another batch")
    row.warnings = [*row.warnings, message("already_uploaded", title=title)]


def existing_orders(*, project: Project, plans, exclude_batch: Batch | None) -> dict[str, Portrait | bool]:
    """Keys of *plans* already made (or being made) in *project* → the portrait (False while
    another batch is still making it)."""
    keys = {p.key for p in plans if p.key}
    found: dict[str, Portrait | bool] = {}
    rows = (
        BatchRow.objects.filter(batch__project=project, key__in=keys)
        .filter(Q(status__in=[BatchRow.Status.QUEUED, BatchRow.Status.PROCESSING]) | Q(portrait__isnull=False))
        .exclude(status__in=[BatchRow.Status.INVALID, BatchRow.Status.SKIPPED, BatchRow.Status.VALID])
        .select_related("portrait")
    )
    if exclude_batch is not None:
        rows = rows.exclude(batch=exclude_batch)
    for row in rows:
        if row.portrait is not None or row.key not in found:
            found[row.key] = row.portrait or False
    references = {p.values.get("order_reference"): p.key for p in plans if p.key.startswith("ref:")}
    if references:
        for portrait in Portrait.objects.filter(project=project, order_reference__in=list(references)):
            found.setdefault(references[portrait.order_reference], portrait)
    return found


# --- Review and confirmation (web requests) ----------------------------------------------------------


def quota(batch: Batch, rows: Iterable[BatchRow] | None = None) -> dict:
    """Bytes the batch's makeable rows need against what the company has left."""
    company = batch.company
    if rows is None:
        needed = batch.needed_bytes
    else:
        needed = sum(r.needed_bytes for r in rows if r.status == BatchRow.Status.VALID)
    return {"needed": needed, "left": company.storage_left_bytes, "fits": needed <= company.storage_left_bytes}


def row_stats(batch_ids: Iterable[int]) -> dict[int, dict]:
    """Per batch, in one query: rows per status, and progress once confirmed (rows finished,
    made or failed, out of the rows chosen)."""
    stats = {pk: {"counts": dict.fromkeys(BatchRow.Status.values, 0), "done": 0, "total": 0} for pk in batch_ids}
    grouped = (
        BatchRow.objects.filter(batch_id__in=list(stats))
        .values_list("batch_id", "status", "portrait__status")
        .annotate(n=Count("pk"))
    )
    chosen = (*BatchRow.OPEN, BatchRow.Status.CREATED, BatchRow.Status.FAILED)
    settled = (Portrait.Status.READY, Portrait.Status.NEEDS_VIDEO, Portrait.Status.FAILED)
    for batch_id, status, portrait_status, n in grouped:
        entry = stats[batch_id]
        entry["counts"][status] += n
        if status in chosen:
            entry["total"] += n
            if status == BatchRow.Status.FAILED or (status == BatchRow.Status.CREATED and portrait_status in settled):
                entry["done"] += n
    return stats


def confirm_batch(*, batch: Batch, by, skip: Iterable[int] = ()) -> Batch:
    """Queue a portrait for every valid row not in *skip* (row numbers). All or nothing."""
    skip = set(skip)
    with transaction.atomic():
        # One confirmation at a time per project, so two batches cannot both claim an order.
        Project.objects.select_for_update().filter(pk=batch.project_id).first()
        locked = Batch.objects.select_for_update().get(pk=batch.pk)
        if locked.status != Batch.Status.REVIEW:
            raise ValidationError(
                _("This batch cannot be confirmed now: it is “%(status)s”.") % {"status": locked.get_status_display()},
                code="state",
            )
        valid = list(locked.rows.filter(status=BatchRow.Status.VALID))
        with translation.override(locked.language):
            plans = [_PlanKey(r.key, r.order_reference) for r in valid]
            taken = existing_orders(project=locked.project, plans=plans, exclude_batch=locked)
            for row in valid:
                if row.key in taken:
                    _already_made(row, taken[row.key])
                    row.save(update_fields=["status", "portrait", "warnings"])
        chosen = [r for r in valid if r.status == BatchRow.Status.VALID and r.number not in skip]
        needed = sum(r.needed_bytes for r in chosen)
        left = locked.company.storage_left_bytes
        refusal = None
        if not chosen:
            refusal = ValidationError(
                _("There is nothing to make: choose at least one row without errors."), code="empty"
            )
        elif needed > left:
            refusal = ValidationError(message("quota", needed=needed, left=left)["text"], code="quota")
        if refusal is None:
            _start_rows(locked, by=by, valid=valid, chosen=chosen, needed=needed)
    # Raised after the block: orders found already made stay marked as such either way.
    if refusal is not None:
        raise refusal
    return locked


def _start_rows(locked: Batch, *, by, valid: list[BatchRow], chosen: list[BatchRow], needed: int) -> None:
    now = timezone.now()
    BatchRow.objects.filter(
        pk__in=[r.pk for r in valid if r not in chosen and r.status == BatchRow.Status.VALID]
    ).update(status=BatchRow.Status.SKIPPED)
    BatchRow.objects.filter(pk__in=[r.pk for r in chosen]).update(status=BatchRow.Status.QUEUED, queued_at=now)
    locked.status = Batch.Status.RUNNING
    locked.confirmed_at = now
    locked.confirmed_by = by if getattr(by, "is_authenticated", False) else None
    locked.needed_bytes = needed
    locked.save(update_fields=["status", "confirmed_at", "confirmed_by", "needed_bytes", "updated_at"])
    for row in chosen:
        _queue_row(row.pk)


class _PlanKey:
    def __init__(self, key: str, reference: str):
        self.key = key
        self.values = {"order_reference": reference}


def cancel_batch(*, batch: Batch) -> Batch:
    """Drop a batch that is not running yet; its staged files are deleted."""
    now = timezone.now()
    cancellable = [Batch.Status.UPLOADING, Batch.Status.QUEUED, Batch.Status.CHECKING, Batch.Status.REVIEW]
    if not Batch.objects.filter(pk=batch.pk, status__in=cancellable).update(
        status=Batch.Status.CANCELLED, claim_token=None, finished_at=now, updated_at=now
    ):
        raise ValidationError(_("Only a batch that is not confirmed yet can be cancelled."), code="state")
    transaction.on_commit(lambda: clean_staging(batch_id=batch.pk))
    batch.refresh_from_db()
    return batch


# --- Making a row (worker) -----------------------------------------------------------------------------------


def _claim_row(row_id: int) -> uuid.UUID | None:
    token = uuid.uuid4()
    now = timezone.now()
    claimed = (
        BatchRow.objects.filter(pk=row_id, status=BatchRow.Status.QUEUED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(status=BatchRow.Status.PROCESSING, claim_token=token, started_at=now, attempts=F("attempts") + 1)
    )
    return token if claimed else None


def make_row(*, row_id: int) -> str | None:
    """Make the portrait of one confirmed row, if it is due and nobody else holds it."""
    token = _claim_row(row_id)
    if token is None:
        return None
    row = BatchRow.objects.select_related("batch__project__company", "batch__created_by").get(pk=row_id)
    batch = row.batch
    with translation.override(batch.language):
        try:
            with tempfile.TemporaryDirectory(prefix=f"{WORKDIR_PREFIX}{batch.uuid}-") as tmp:
                portrait = _make_portrait(row, Path(tmp))
        except ValidationError as exc:
            status = _row_failed(row, token, " ".join(exc.messages))
        except FileNotFoundError:
            status = _row_failed(
                row, token, _("The uploaded files of this order are no longer there. Upload it again.")
            )
        except (StorageUnavailable, OSError) as exc:
            status = _row_retry(row, token, exc)
        except Exception:
            logger.exception("batch row %s: making its portrait failed", row.pk)
            status = _row_failed(row, token, _("Processing failed unexpectedly; our team has been notified."))
        else:
            now = timezone.now()
            done = BatchRow.objects.filter(pk=row.pk, claim_token=token).update(
                status=BatchRow.Status.CREATED, portrait=portrait, claim_token=None, finished_at=now
            )
            status = BatchRow.Status.CREATED if done else None
    finish_if_done(batch_id=batch.pk)
    return status


def _staged_image(facts: dict) -> ValidatedImage:
    with staging.staging_storage().open(facts["name"], "rb") as fh:
        data = fh.read()
    if hashlib.sha256(data).hexdigest() != facts["sha256"]:
        raise FileNotFoundError(facts["name"])  # not the file that was checked
    return ValidatedImage(
        data=data,
        width=facts["width"],
        height=facts["height"],
        source_format=facts["format"],
        sha256=facts["sha256"],
        original_name=facts["original"],
    )


def _staged_video(facts: dict, work: Path) -> ValidatedVideo:
    return ValidatedVideo(
        path=staging.open_local(facts["name"], work),
        size=facts["size"],
        duration=facts["duration"],
        width=facts["width"],
        height=facts["height"],
        fps=facts["fps"],
        mime_type=facts["mime_type"],
        extension=facts["extension"],
        original_name=facts["original"],
    )


def _make_portrait(row: BatchRow, work: Path) -> Portrait:
    """Idempotent: the portrait, and each video by its file name, is made only if missing."""
    batch = row.batch
    by = batch.created_by
    videos = row.staged.get("videos", [])
    portrait = Portrait.objects.select_related("company", "project").filter(unique_id=row.portrait_uid).first()
    if portrait is None:
        portrait = services.create_portrait(
            project=batch.project,
            uploaded_by=by,
            title=row.title,
            image=_staged_image(row.staged["photo"]),
            video=_staged_video(videos[0], work) if videos else None,
            customer_name=row.customer_name,
            customer_phone=row.customer_phone,
            customer_email=row.customer_email,
            order_reference=row.order_reference,
            published_at=row.published_at,
            expires_at=row.expires_at,
            unique_id=row.portrait_uid,
        )
    present = set(portrait.videos.values_list("original_filename", flat=True))
    for facts in videos:
        if facts["original"] not in present:
            services.add_video(portrait=portrait, video=_staged_video(facts, work), by=by)
    return portrait


def _row_failed(row: BatchRow, token, text: str) -> str:
    now = timezone.now()
    portrait = Portrait.objects.filter(unique_id=row.portrait_uid).first()
    BatchRow.objects.filter(pk=row.pk, claim_token=token).update(
        status=BatchRow.Status.FAILED,
        errors=[{"code": "failed", "text": text[:1000]}],
        portrait=portrait,
        claim_token=None,
        finished_at=now,
    )
    logger.warning("batch row %s failed: %s", row.pk, text)
    return BatchRow.Status.FAILED


def _row_retry(row: BatchRow, token, exc: Exception) -> str:
    # row.attempts already counts this attempt (the claim added it).
    logger.warning("batch row %s attempt %s failed, will retry: %s", row.pk, row.attempts, exc)
    if row.attempts >= MAX_ROW_ATTEMPTS:
        return _row_failed(row, token, storage_error_message())
    BatchRow.objects.filter(pk=row.pk, claim_token=token).update(
        status=BatchRow.Status.QUEUED,
        claim_token=None,
        next_attempt_at=timezone.now() + ROW_BACKOFF * 2 ** (row.attempts - 1),
    )
    return BatchRow.Status.QUEUED


# --- Becoming ready ------------------------------------------------------------------------------------


def portrait_settled(*, portrait_id: int) -> None:
    """A portrait finished processing (ready, still photo or failed): its batch may be done."""
    batch_id = (
        BatchRow.objects.filter(portrait_id=portrait_id, batch__status=Batch.Status.RUNNING)
        .values_list("batch_id", flat=True)
        .first()
    )
    if batch_id is not None:
        finish_if_done(batch_id=batch_id)


def finish_if_done(*, batch_id: int) -> bool:
    """Mark a running batch ready (or failed, if nothing could be made) once nothing is left to do.

    Called after every row and every portrait that settles, and by the sweeper; the conditional
    UPDATE makes exactly one caller the one that finishes it.
    """
    rows = BatchRow.objects.filter(batch_id=batch_id)
    if rows.filter(status__in=BatchRow.OPEN).exists():
        return False
    if rows.filter(status=BatchRow.Status.CREATED, portrait__status=Portrait.Status.PROCESSING).exists():
        return False
    made = rows.filter(status__in=[BatchRow.Status.CREATED, BatchRow.Status.EXISTS], portrait__isnull=False).exists()
    now = timezone.now()
    fields = {"status": Batch.Status.READY, "finished_at": now, "updated_at": now}
    if not made:
        batch = Batch.objects.only("language").get(pk=batch_id)
        with translation.override(batch.language):
            fields.update(status=Batch.Status.FAILED, error=message("nothing_made"))
    if not Batch.objects.filter(pk=batch_id, status=Batch.Status.RUNNING).update(**fields):
        return False
    if made:
        transaction.on_commit(lambda: batch_ready(Batch.objects.get(pk=batch_id)))
    else:
        transaction.on_commit(lambda: clean_staging(batch_id=batch_id))
    return True


def batch_ready(batch: Batch) -> None:
    """THE place where a batch has just become ready (called once per batch, after commit).

    Its staged uploads are no longer needed, and the print PDF in the layout chosen at upload is
    made in the background. Events about a ready batch (webhooks, notifications) belong here.
    """
    clean_staging(batch_id=batch.pk, keep_outputs=True)
    request_print_file(batch=batch, sheet_format=batch.sheet_format)
    signals.batch_ready.send(sender=Batch, batch=batch)


# --- Outputs -------------------------------------------------------------------------------------------


def output_rows(batch: Batch):
    """Rows that ended with a portrait (made now, or already in the project), in order."""
    return (
        batch.rows.filter(status__in=[BatchRow.Status.CREATED, BatchRow.Status.EXISTS], portrait__isnull=False)
        .select_related("portrait__company", "portrait__project")
        .order_by("number")
    )


def _printable(batch: Batch) -> list[Portrait]:
    return [r.portrait for r in output_rows(batch) if r.portrait.status != Portrait.Status.FAILED]


def urls_key(portraits: Iterable[Portrait]) -> str:
    digest = hashlib.sha256()
    for p in portraits:
        digest.update(f"{p.unique_id}|{p.public_url}|{p.image.name}|{p.title}\n".encode())
    return digest.hexdigest()


def request_print_file(*, batch: Batch, sheet_format: str) -> BatchPrintFile:
    """The batch's print PDF in *sheet_format*: ready, or queued to be made (again, if the viewer
    URLs printed in it changed since)."""
    if sheet_format not in Batch.SheetFormat.values:
        raise ValidationError(_("Unknown print layout."), code="format")
    print_file, created = BatchPrintFile.objects.get_or_create(batch=batch, sheet_format=sheet_format)
    stale = print_file.status == BatchPrintFile.Status.READY and print_file.urls_key != urls_key(_printable(batch))
    if created or stale or (print_file.status == BatchPrintFile.Status.FAILED and print_file.attempts < 3):
        BatchPrintFile.objects.filter(pk=print_file.pk).update(
            status=BatchPrintFile.Status.PENDING, claim_token=None, updated_at=timezone.now()
        )
        _queue_print_file(print_file.pk)
        print_file.refresh_from_db()
    return print_file


def make_print_file(*, print_file_id: int) -> str | None:
    token = uuid.uuid4()
    now = timezone.now()
    if not BatchPrintFile.objects.filter(pk=print_file_id, status=BatchPrintFile.Status.PENDING).update(
        status=BatchPrintFile.Status.PROCESSING,
        claim_token=token,
        started_at=now,
        attempts=F("attempts") + 1,
        updated_at=now,
    ):
        return None
    print_file = BatchPrintFile.objects.select_related("batch").get(pk=print_file_id)
    batch = print_file.batch
    portraits = _printable(batch)
    name = f"{staging.batch_prefix(batch.uuid)}/out/print-{print_file.sheet_format}-{token.hex[:8]}.pdf"
    try:
        with tempfile.TemporaryDirectory(prefix=f"{WORKDIR_PREFIX}{batch.uuid}-") as tmp:
            target = Path(tmp) / "print.pdf"
            with translation.override(batch.language), open(target, "wb") as out:
                pages = _write_sheets(portraits, print_file.sheet_format, out, title=str(batch))
            size = target.stat().st_size
            with LocalFile(target) as local:
                staging.save(name, local)
    except Exception as exc:
        logger.exception("print PDF of batch %s failed", batch.uuid)
        # Storage trouble is tried again by the sweeper (a few times); anything else is a bug.
        retry = isinstance(exc, StorageUnavailable | OSError) and print_file.attempts < 3
        with translation.override(batch.language):
            error = storage_error_message() if retry else _("The print file could not be made.")
        status = BatchPrintFile.Status.PENDING if retry else BatchPrintFile.Status.FAILED
        BatchPrintFile.objects.filter(pk=print_file.pk, claim_token=token).update(
            status=status, error=error[:500], claim_token=None, updated_at=timezone.now()
        )
        return status
    old = print_file.name
    if not BatchPrintFile.objects.filter(pk=print_file.pk, claim_token=token).update(
        status=BatchPrintFile.Status.READY,
        name=name,
        size_bytes=size,
        pages=pages,
        urls_key=urls_key(portraits),
        error="",
        claim_token=None,
        finished_at=timezone.now(),
    ):
        _delete_staged(name)
        return None
    if old and old != name:
        _delete_staged(old)
    return BatchPrintFile.Status.READY


def _write_sheets(portraits: list[Portrait], sheet_format: str, out, *, title: str) -> int:
    joiner = PdfJoiner(out)
    for portrait in portraits:
        try:
            with portrait.image.open("rb") as fh:
                image = fh.read()
        except FileNotFoundError:
            logger.error("batch print: the photo of %s is missing", portrait.unique_id)
            continue
        except Exception as exc:
            raise StorageUnavailable(f"{type(exc).__name__}: {exc}") from exc
        joiner.add(
            printsheet.print_sheet_pdf(
                image=image,
                url=portrait.public_url,
                instruction=str(printsheet.INSTRUCTION),
                title=portrait.title,
                fmt=sheet_format,
            )
        )
    return joiner.finish(title=title)


def open_print_file(print_file: BatchPrintFile):
    return staging.staging_storage().open(print_file.name, "rb")


class _Echo:
    def write(self, value):
        return value


CSV_COLUMNS = ("line", "order_reference", "title", "customer_name", "photo", "status", "viewer_url", "qr_png_url")


def orders_csv(batch: Batch, *, qr_png_url) -> Iterator[str]:
    """The batch's orders with their viewer and QR code URLs, for the shop's order system.

    Every cell goes through :func:`neutralise`, so nothing a customer typed runs as a formula when
    the file is opened in a spreadsheet. ``qr_png_url(portrait)`` gives the QR code's URL.
    """
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(CSV_COLUMNS)
    rows = batch.rows.select_related("portrait__company", "portrait__project").order_by("number")
    for row in rows.iterator(chunk_size=500):
        portrait = row.portrait if row.status in (BatchRow.Status.CREATED, BatchRow.Status.EXISTS) else None
        cells = [
            str(row.number),
            row.order_reference,
            portrait.title if portrait else row.title,
            row.customer_name,
            row.photo_name,
            row.live_status if portrait else row.status,
            portrait.public_url if portrait else "",
            qr_png_url(portrait) if portrait else "",
        ]
        yield writer.writerow([neutralise(c) for c in cells])


# --- Staging clean-up and the sweeper --------------------------------------------------------------------------


def _delete_staged(name: str) -> None:
    try:
        staging.staging_storage().delete(name)
    except Exception:
        logger.exception("could not delete staged %s", name)


def clean_staging(*, batch_id: int, keep_outputs: bool = False) -> None:
    """Delete a finished batch's staged uploads and unpacked files (and its PDFs unless kept)."""
    batch = Batch.objects.filter(pk=batch_id).only("uuid").first()
    if batch is None:
        return
    prefix = staging.batch_prefix(batch.uuid)
    try:
        if keep_outputs:
            staging.delete_tree(f"{prefix}/upload")
            staging.delete_tree(f"{prefix}/files")
        else:
            staging.delete_tree(prefix)
    except Exception:
        logger.exception("could not clean the staging of batch %s; the sweeper will retry", batch.uuid)
        return
    Batch.objects.filter(pk=batch_id).update(staging_cleaned=True)


def sweep_batches(*, now=None) -> dict[str, int]:
    """The periodic safety net of batches; each row on its own (``lib.periodic``): one batch
    whose data no code path expects is logged with its id and the others go on."""
    now = now or timezone.now()
    counts = dict.fromkeys(
        ["expired", "checks_requeued", "checks_failed", "rows_requeued", "rows_failed", "rows_queued", "finished",
         "cleaned", "print_files", "orphans"],
        0,
    )  # fmt: skip
    failures = RowFailures("sweep_batches")
    # Abandoned: drafts nobody finished uploading, reviews nobody confirmed.
    for batch in Batch.objects.filter(
        Q(status=Batch.Status.UPLOADING, updated_at__lt=now - DRAFT_TTL)
        | Q(status=Batch.Status.REVIEW, updated_at__lt=now - REVIEW_TTL)
    ).only("pk", "status", "language"):
        with failures.isolated(f"batch {batch.pk}"):
            with translation.override(batch.language):
                error = message("expired")
            if Batch.objects.filter(pk=batch.pk, status=batch.status).update(
                status=Batch.Status.CANCELLED, error=error, finished_at=now, updated_at=now
            ):
                counts["expired"] += 1
    # Checks: lost in the queue, or their worker died.
    for pk in Batch.objects.filter(status=Batch.Status.QUEUED, updated_at__lt=now - lost_after()).values_list(
        "pk", flat=True
    ):
        with failures.isolated(f"batch {pk}"):
            _enqueue("content.tasks.check_batch", pk, "batch-check")
            counts["checks_requeued"] += 1
    for batch in Batch.objects.filter(status=Batch.Status.CHECKING, heartbeat_at__lt=now - stuck_after()).only(
        "pk", "attempts", "heartbeat_at", "language"
    ):
        with failures.isolated(f"batch {batch.pk}"):
            _recover_check(batch, now=now, counts=counts)
    # Rows: their worker died, or their task was lost, or their back-off is over.
    for row in BatchRow.objects.filter(status=BatchRow.Status.PROCESSING, started_at__lt=now - stuck_after()).only(
        "pk", "attempts", "started_at"
    ):
        with failures.isolated(f"batch row {row.pk}"):
            _recover_row(row, now=now, counts=counts)
    # A row waiting its turn behind hundreds of others is not lost: only when none of its batch's
    # rows has started for a while (the broker lost the tasks) are the waiting ones queued again.
    recent = now - lost_after()
    moving = BatchRow.objects.filter(batch_id=OuterRef("batch_id"), started_at__gte=recent)
    stalled = Q(next_attempt_at__isnull=True, queued_at__lt=recent) & ~Exists(moving)
    due = BatchRow.objects.filter(status=BatchRow.Status.QUEUED).filter(Q(next_attempt_at__lte=now) | stalled)
    for pk in due.values_list("pk", flat=True):
        with failures.isolated(f"batch row {pk}"):
            _enqueue("content.tasks.make_batch_row", pk, "batch-row")
            counts["rows_queued"] += 1
    for pk in Batch.objects.filter(status=Batch.Status.RUNNING).values_list("pk", flat=True):
        with failures.isolated(f"batch {pk}"):
            counts["finished"] += finish_if_done(batch_id=pk)
    # Print files: lost, stuck, or kept long enough (they are made again when asked for).
    stale_prints = BatchPrintFile.objects.filter(
        Q(status=BatchPrintFile.Status.PENDING, updated_at__lt=now - lost_after())
        | Q(status=BatchPrintFile.Status.PROCESSING, started_at__lt=now - stuck_after())
    )
    for print_file in stale_prints:
        with failures.isolated(f"print file {print_file.pk}"):
            if BatchPrintFile.objects.filter(pk=print_file.pk, updated_at=print_file.updated_at).update(
                status=BatchPrintFile.Status.PENDING, claim_token=None, updated_at=now
            ):
                _enqueue("content.tasks.make_batch_print_file", print_file.pk, "batch-pdf")
                counts["print_files"] += 1
    for print_file in BatchPrintFile.objects.filter(
        status=BatchPrintFile.Status.READY, finished_at__lt=now - timedelta(days=settings.BATCH_OUTPUT_DAYS)
    ):
        with failures.isolated(f"print file {print_file.pk}"):
            _delete_staged(print_file.name)
            print_file.delete()
            counts["print_files"] += 1
    # Staging of finished batches, and folders no batch owns any more (a deleted project).
    for pk in Batch.objects.filter(status__in=Batch.FINISHED, staging_cleaned=False).values_list("pk", flat=True):
        with failures.isolated(f"batch {pk}"):
            clean_staging(batch_id=pk, keep_outputs=Batch.objects.filter(pk=pk, status=Batch.Status.READY).exists())
            counts["cleaned"] += 1
    known = {str(u) for u in Batch.objects.values_list("uuid", flat=True)}
    for folder in staging.stored_batch_dirs():
        if folder not in known:
            with failures.isolated(f"staging folder {folder}"):
                staging.delete_tree(f"{staging.PREFIX}/{folder}")
                counts["orphans"] += 1
    _sweep_workdirs(now)
    counts["failed"] = failures.count
    return counts


def _recover_check(batch, *, now, counts: dict) -> None:
    """A check whose worker stopped beating: tried again, or failed after MAX_CHECK_ATTEMPTS."""
    if batch.attempts >= MAX_CHECK_ATTEMPTS:
        with translation.override(batch.language):
            error = message("interrupted")
        counts["checks_failed"] += Batch.objects.filter(pk=batch.pk, heartbeat_at=batch.heartbeat_at).update(
            status=Batch.Status.FAILED, error=error, claim_token=None, finished_at=now, updated_at=now
        )
    elif Batch.objects.filter(pk=batch.pk, status=Batch.Status.CHECKING, heartbeat_at=batch.heartbeat_at).update(
        status=Batch.Status.QUEUED, claim_token=None, updated_at=now
    ):
        _enqueue("content.tasks.check_batch", batch.pk, "batch-check")
        counts["checks_requeued"] += 1


def _recover_row(row, *, now, counts: dict) -> None:
    """A row whose worker died: queued again, or failed after MAX_ROW_ATTEMPTS."""
    if row.attempts >= MAX_ROW_ATTEMPTS:
        counts["rows_failed"] += BatchRow.objects.filter(pk=row.pk, status=BatchRow.Status.PROCESSING).update(
            status=BatchRow.Status.FAILED,
            errors=[{"code": "interrupted", "text": str(_("Making this portrait was interrupted too many times."))}],
            claim_token=None,
            finished_at=now,
        )
    elif BatchRow.objects.filter(pk=row.pk, status=BatchRow.Status.PROCESSING, started_at=row.started_at).update(
        status=BatchRow.Status.QUEUED, claim_token=None, next_attempt_at=None
    ):
        _enqueue("content.tasks.make_batch_row", row.pk, "batch-row")
        counts["rows_requeued"] += 1


def _sweep_workdirs(now) -> None:
    """Local scratch folders of checks whose worker was killed on this machine."""
    cutoff = (now - timedelta(days=1)).timestamp()
    for path in Path(tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}*"):
        try:
            if path.is_dir() and path.stat().st_mtime < cutoff:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass
