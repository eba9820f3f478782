"""A company's files on its storage: the connection probe, moving a company to another
connection (resumable, verified copy, then switch, then delete), and recomputing storage usage
from what the rows reference (``companies.storage.file_owners``)."""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from companies.models import Company, PendingUpload, StorageConnection, StorageMove, StorageMoveFile
from companies.storage import build_storage, file_owners, storage_for_company, storage_for_connection
from lib.storage import StorageUnavailable
from lib.tasks import send_task_on_commit

logger = logging.getLogger(__name__)


def check_storage_connection(connection: StorageConnection) -> str:
    """Write, read back and delete a probe file through the backend; record and return the error.

    Returns "" when everything worked. The error is kept short and never contains credentials.
    """
    name = f".arv-connection-test/{uuid.uuid4().hex}.txt"
    payload = f"ARV storage test {timezone.now().isoformat()}".encode()
    error = ""
    try:
        storage = build_storage(connection)
        saved = storage.save(name, ContentFile(payload))
        try:
            with storage.open(saved, "rb") as fh:
                if fh.read() != payload:
                    error = _("The file read back differs from the file written.")
        finally:
            storage.delete(saved)
        if not error and storage.exists(saved):
            error = _("The probe file could not be deleted.")
    except Exception as exc:
        # StorageUnavailable already names the backend's own error; others need their type.
        text = str(exc) if isinstance(exc, StorageUnavailable) else f"{type(exc).__name__}: {exc}"
        error = redact(text, connection)[:500]
    connection.record_test(error=error)
    if error:
        logger.warning("storage connection %s failed its test: %s", connection.pk, error)
    return error


def redact(text: str, connection: StorageConnection) -> str:
    """Remove any stored secret from *text* (backends sometimes echo them in errors)."""
    try:
        secrets = [v for v in connection.credentials.values() if isinstance(v, str) and len(v) >= 4]
    except Exception:
        secrets = []
    for secret in secrets:
        text = text.replace(secret, "********")
    return text


# --- Moving a company to another storage connection ----------------------------------------------

# How long a move's runner may stay silent before another run may take the move over.
STORAGE_MOVE_LEASE = timedelta(minutes=5)
# A file being copied stays in memory up to this size, then spills to a temporary file.
COPY_MEMORY_BYTES = 8 * 1024 * 1024
HASH_CHUNK = 1024 * 1024


class StorageMoveError(Exception):
    """The move cannot go on; the message says why and what to do. Nothing was lost."""


class StorageMoveBusy(StorageMoveError):
    """Another process is running this move right now."""


def company_file_names(company: Company) -> list[str]:
    """Every stored file the company's rows reference: its logo, photos, previews, videos with
    their renditions and posters, marker outputs (an NFT marker is three files), album markers."""
    rows = (row for model in file_owners() for row in model.inventory(company.pk))
    return sorted({name for row in rows for name in row.stored_names()})


def file_digest(storage, name: str) -> tuple[int, str]:
    """(size, SHA-256 hex) of *name* as *storage* returns it."""
    digest = hashlib.sha256()
    size = 0
    with storage.open(name, "rb") as fh:
        for chunk in iter(lambda: fh.read(HASH_CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def copy_verified(source, target, name: str) -> tuple[int, str]:
    """Copy *name* to the same name on *target*, read it back, and return its (size, SHA-256).

    A copy already on the target (left by an interrupted run) is kept when identical and replaced
    otherwise. Raises StorageMoveError if the copy read back differs.
    """
    with tempfile.SpooledTemporaryFile(max_size=COPY_MEMORY_BYTES) as buffer:
        digest = hashlib.sha256()
        with source.open(name, "rb") as fh:
            for chunk in iter(lambda: fh.read(HASH_CHUNK), b""):
                digest.update(chunk)
                buffer.write(chunk)
        expected = (buffer.tell(), digest.hexdigest())
        if target.exists(name):
            if file_digest(target, name) == expected:
                return expected
            target.delete(name)
        buffer.seek(0)
        upload = File(buffer, name=name)
        upload.size = expected[0]
        saved = target.save(name, upload)
        if saved != name:
            target.delete(saved)
            raise StorageMoveError(_("The new storage saved %(name)s under another name.") % {"name": name})
    if file_digest(target, name) != expected:
        raise StorageMoveError(_("The copy of %(name)s differs from the original.") % {"name": name})
    return expected


@transaction.atomic
def start_storage_move(*, company: Company, target: StorageConnection, requested_by) -> StorageMove:
    """The company's unfinished move to *target*, or a new one from the storage it uses now."""
    # No select_related: PostgreSQL cannot lock the nullable side of the outer join.
    company = Company.objects.select_for_update().get(pk=company.pk)
    move = company.storage_moves.exclude(status=StorageMove.Status.DONE).select_related("target").first()
    if move is not None:
        if move.target_id != target.pk:
            raise ValidationError(
                _("%(company)s is already moving to %(target)s: run that move to its end first."),
                params={"company": company, "target": move.target},
                code="move_in_progress",
            )
        return move
    source = company.storage_connection or StorageConnection.get_default()
    if source.pk == target.pk:
        raise ValidationError(
            _("%(company)s already uses %(target)s."), params={"company": company, "target": target}, code="same"
        )
    if not target.is_active:
        raise ValidationError(_("%(target)s is not active."), params={"target": target}, code="inactive")
    return StorageMove.objects.create(company=company, source=source, target=target, requested_by=requested_by)


def run_storage_move(
    *,
    move: StorageMove,
    allow_missing: bool = False,
    deadline: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> StorageMove:
    """Carry *move* on from where it stands, to the end or until *deadline* (time.monotonic()).

    Raises StorageMoveBusy if another live process runs it, StorageMoveError if it cannot go on,
    StorageUnavailable if a storage fails; the reason is kept on the move (redacted) and running
    it again resumes.
    """
    runner = _claim_storage_move(move)
    step = _MoveStep(move=move, runner=runner, deadline=deadline, progress=progress or (lambda message: None))
    try:
        if move.status == StorageMove.Status.COPYING:
            step.check_distinct_storages()
            if not step.copy_pending():
                return move
            step.require_nothing_missing(allow_missing=allow_missing)
            step.switch_company()
        if move.status == StorageMove.Status.CLEANING:
            # Files that reached the source after the last copy pass (a job finishing with an old
            # view of the company) are copied before anything is deleted there.
            if not step.copy_pending() or not step.delete_old_copies():
                return move
            step.drop_orphaned_copies()
            step.finish()
    except (StorageMoveError, StorageUnavailable) as exc:
        error = redact(str(exc), move.source)
        StorageMove.objects.filter(pk=move.pk).update(error=redact(error, move.target)[:2000])
        raise
    finally:
        StorageMove.objects.filter(pk=move.pk, runner=runner).update(runner="", heartbeat_at=None)
    return move


def _runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _runner_is_gone(runner: str) -> bool:
    """True only for a process on this machine that no longer exists (killed, crashed)."""
    host, _, rest = runner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _claim_storage_move(move: StorageMove) -> str:
    runner, heartbeat = StorageMove.objects.values_list("runner", "heartbeat_at").get(pk=move.pk)
    now = timezone.now()
    free = not runner or heartbeat is None or heartbeat < now - STORAGE_MOVE_LEASE or _runner_is_gone(runner)
    mine = _runner_id()
    if not free or not StorageMove.objects.filter(pk=move.pk, runner=runner).update(runner=mine, heartbeat_at=now):
        raise StorageMoveBusy(
            _("Another process (%(runner)s) is moving these files right now; try again when it stops.")
            % {"runner": runner}
        )
    move.refresh_from_db()
    return mine


@dataclass
class _MoveStep:
    """The steps of one run of a move; each is idempotent, so any of them may be re-run."""

    move: StorageMove
    runner: str
    deadline: float | None
    progress: Callable[[str], None]

    def __post_init__(self):
        self.source = storage_for_connection(self.move.source)
        self.target = storage_for_connection(self.move.target)

    def _time_is_up(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def _heartbeat(self) -> None:
        if not StorageMove.objects.filter(pk=self.move.pk, runner=self.runner).update(heartbeat_at=timezone.now()):
            raise StorageMoveBusy(_("Another process took this move over; this one stops."))

    def check_distinct_storages(self) -> None:
        """Refuse two connections that reach the same place: cleaning up would delete the only copy."""
        probe = self.target.save(
            f"{self.move.company.path_prefix}/.arv-move-probe-{uuid.uuid4().hex}.txt", ContentFile(b"probe")
        )
        try:
            if self.source.exists(probe):
                raise StorageMoveError(
                    _("%(source)s and %(target)s store files in the same place; nothing to move.")
                    % {"source": self.move.source, "target": self.move.target}
                )
        finally:
            self.target.delete(probe)

    def plan(self) -> int:
        """Add a row for each referenced file the move does not list yet; returns how many."""
        known = set(self.move.files.values_list("name", flat=True))
        new = [StorageMoveFile(move=self.move, name=n) for n in company_file_names(self.move.company) if n not in known]
        StorageMoveFile.objects.bulk_create(new, ignore_conflicts=True)
        return len(new)

    def copy_pending(self) -> bool:
        """Copy and verify every listed file not yet on the target; False if time ran out."""
        while self.plan() or self.move.files.filter(state=StorageMoveFile.State.PENDING).exists():
            for moved in self.move.files.filter(state=StorageMoveFile.State.PENDING).order_by("pk"):
                if self._time_is_up():
                    return False
                self._copy_one(moved)
                self._heartbeat()
        return True

    def _copy_one(self, moved: StorageMoveFile) -> None:
        try:
            moved.size, moved.sha256 = copy_verified(self.source, self.target, moved.name)
        except FileNotFoundError:
            if not self.target.exists(moved.name):
                moved.state = StorageMoveFile.State.MISSING
                moved.save(update_fields=["state"])
                self.progress(_("missing: %(name)s") % {"name": moved.name})
                return
            # Already written to the target by someone using it (after the switch): nothing to copy.
            moved.size, moved.sha256 = file_digest(self.target, moved.name)
        moved.state = StorageMoveFile.State.COPIED
        moved.save(update_fields=["state", "size", "sha256"])
        self.progress(_("copied: %(name)s (%(size)d bytes)") % {"name": moved.name, "size": moved.size})

    def require_nothing_missing(self, *, allow_missing: bool) -> None:
        missing = list(self.move.files.filter(state=StorageMoveFile.State.MISSING).values_list("name", flat=True))
        if missing and not allow_missing:
            raise StorageMoveError(
                _(
                    "%(count)d file(s) referenced by the company are in neither storage, e.g. %(name)s. "
                    "Nothing was switched; run again allowing missing files to move anyway."
                )
                % {"count": len(missing), "name": missing[0]}
            )

    def switch_company(self) -> None:
        """Point the company at the target, in the same transaction that records the switch."""
        now = timezone.now()
        with transaction.atomic():
            # No select_related: PostgreSQL cannot lock the nullable side of the outer join.
            company = Company.objects.select_for_update().get(pk=self.move.company_id)
            # Read fresh, not through the per-process cache of the platform default.
            current_id = company.storage_connection_id or StorageConnection.get_default().pk
            if current_id != self.move.source_id:
                raise StorageMoveError(
                    _("The company's storage was changed while its files were being copied; start a new move.")
                )
            Company.objects.filter(pk=company.pk).update(storage_connection=self.move.target, updated_at=now)
            StorageMove.objects.filter(pk=self.move.pk).update(status=StorageMove.Status.CLEANING, switched_at=now)
        self.move.status, self.move.switched_at = StorageMove.Status.CLEANING, now
        self.progress(_("switched %(company)s to %(target)s") % {"company": company, "target": self.move.target})

    def delete_old_copies(self) -> bool:
        """Delete each verified file from the source, after checking the target still has it."""
        for moved in self.move.files.filter(state=StorageMoveFile.State.COPIED).order_by("pk"):
            if self._time_is_up():
                return False
            if self.target.size(moved.name) != moved.size:
                raise StorageMoveError(
                    _("%(name)s changed on the new storage; its old copy is kept.") % {"name": moved.name}
                )
            self.source.delete(moved.name)
            moved.state = StorageMoveFile.State.DELETED
            moved.save(update_fields=["state"])
            self._heartbeat()
        return True

    def drop_orphaned_copies(self) -> None:
        """Copies of files whose rows were deleted during the move (the delete hit one storage only)."""
        referenced = set(company_file_names(self.move.company))
        for moved in self.move.files.filter(state=StorageMoveFile.State.DELETED).exclude(name__in=referenced):
            self.target.delete(moved.name)

    def finish(self) -> None:
        StorageMove.objects.filter(pk=self.move.pk).update(
            status=StorageMove.Status.DONE, finished_at=timezone.now(), error=""
        )
        self.move.refresh_from_db()
        self.progress(_("done: %(copied)d file(s) moved") % {"copied": self.move.files_copied})


def queue_storage_move(move: StorageMove) -> None:
    """Run (the next slice of) *move* in a worker once the current transaction commits."""

    send_task_on_commit(
        "companies.storage_moves.continue_storage_move",
        move.pk,
        label="storage-move",
        otherwise="run the admin action again",
    )


def continue_storage_move(move_id: int) -> str:
    """django-q2 entry point: work on the move for half a task's lifetime, then queue the rest."""
    move = StorageMove.objects.select_related("company", "source", "target").filter(pk=move_id).first()
    if move is None or move.status == StorageMove.Status.DONE:
        return "done"
    try:
        move = run_storage_move(move=move, deadline=time.monotonic() + settings.TASK_TIMEOUT / 2)
    except StorageMoveBusy:
        return "busy"
    except (StorageMoveError, StorageUnavailable) as exc:
        logger.warning("storage move %s stopped: %s", move.pk, redact(str(exc), move.target))
        return "stopped"
    if move.status != StorageMove.Status.DONE:
        queue_storage_move(move)
    return move.status


# --- Recomputing storage usage -------------------------------------------------------------------


@dataclass
class UsageReport:
    """One company's usage as counted and as its files add up, and what was corrected."""

    company: Company
    counted: int
    actual: int
    rows_corrected: int = 0
    missing: list[str] = field(default_factory=list)
    corrected: bool = False

    @property
    def drift(self) -> int:
        return self.actual - self.counted


def _row_sizes(company: Company, size_of: Callable[[str], int]) -> list[tuple[type, int, str, int, int]]:
    """(model, pk, counter field, counted, actual) for every row that counts stored bytes."""
    return [
        (model, row.pk, model.BYTES_FIELD, row.stored_bytes_counted(), sum(map(size_of, row.stored_names())))
        for model in file_owners()
        for row in model.inventory(company.pk)
    ]


def recompute_storage_usage(*, company: Company, dry_run: bool = False) -> UsageReport:
    """Measure every file the company's rows reference and correct the rows' and company's counters.

    Sizes come from the storage itself. Bytes reserved by uploads in flight count as used. The
    company's counter is replaced only if it did not move while the files were measured (an upload
    or a job finishing meanwhile); the report then says so and a second run settles it. Raises
    StorageUnavailable if the storage cannot be read: a partial measurement must not be written.
    """
    company = Company.objects.select_related("storage_connection").get(pk=company.pk)
    counted = company.storage_used_bytes
    storage = storage_for_company(company)
    report = UsageReport(company=company, counted=counted, actual=0)

    def size_of(name: str) -> int:
        if not name:
            return 0
        try:
            return storage.size(name)
        except FileNotFoundError:
            report.missing.append(name)
            return 0

    rows = _row_sizes(company, size_of)
    reserved = PendingUpload.objects.filter(company=company).aggregate(total=Sum("reserved_bytes"))["total"] or 0
    report.actual = sum(row[4] for row in rows) + reserved
    if dry_run:
        return report
    for model, pk, counter, old, new in rows:
        if old != new:
            # Conditional, so a job that updated the row meanwhile keeps its value.
            report.rows_corrected += model.objects.filter(pk=pk, **{counter: old}).update(**{counter: new})
    report.corrected = bool(
        Company.objects.filter(pk=company.pk, storage_used_bytes=counted).update(
            storage_used_bytes=report.actual, updated_at=timezone.now()
        )
    )
    return report
