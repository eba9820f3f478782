"""Workflows that touch several tenant models; views and the API both call these."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext as _

from arv.storage import StorageUnavailable
from companies.models import (
    Company,
    Invitation,
    Membership,
    Project,
    StorageConnection,
    StorageMove,
    StorageMoveFile,
    find_user_by_email,
    new_invitation_nonce,
    normalise_email,
)

logger = logging.getLogger(__name__)
User = get_user_model()


# Portal paths under /portal/projects/ that a project slug must not shadow.
RESERVED_SLUGS = {"new"}


def unique_project_slug(company: Company, name: str, *, exclude_pk: int | None = None) -> str:
    base = slugify(name, allow_unicode=False)[:70] or "project"
    if base in RESERVED_SLUGS:
        base = f"{base}-project"
    taken = set(
        Project.objects.filter(company=company, slug__startswith=base)
        .exclude(pk=exclude_pk)
        .values_list("slug", flat=True)
    )
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


@transaction.atomic
def create_project(
    *,
    company: Company,
    created_by,
    name: str,
    description: str = "",
    starts_at: datetime | None = None,
    expires_at: datetime | None = None,
    auto_renew: bool = False,
    notify_days_before_expiry: int = 7,
    tags: Iterable[str] = (),
) -> Project:
    # Lock the company row so two concurrent creates cannot both slip under the limit.
    company = Company.objects.select_for_update().get(pk=company.pk)
    in_use = company.projects.exclude(status=Project.Status.ARCHIVED).count()
    if in_use >= company.projects_limit:
        raise ValidationError(
            _(
                "Your plan allows %(limit)d projects and all of them are in use. "
                "Archive a project or ask us to raise the limit."
            ),
            params={"limit": company.projects_limit},
            code="projects_limit",
        )
    project = Project(
        company=company,
        name=name,
        slug=unique_project_slug(company, name),
        description=description,
        starts_at=starts_at,
        expires_at=expires_at,
        auto_renew=auto_renew,
        notify_days_before_expiry=notify_days_before_expiry,
        tags=sorted(set(tags)),
        created_by=created_by,
    )
    project.full_clean()
    project.save()
    return project


def update_project(*, project: Project, **fields) -> Project:
    for name, value in fields.items():
        setattr(project, name, value)
    if "tags" in fields:
        project.tags = sorted(set(fields["tags"]))
    project.full_clean(exclude=["company", "slug"])
    project.save(update_fields=[*fields, "updated_at"])
    return project


def _send_invitation(invitation: Invitation) -> None:
    invitee = invitation.invitee()
    company = invitation.company
    # In the company's language and time zone, like every message the platform sends it.
    with translation.override(company.language), timezone.override(company.timezone):
        context = {
            "invitation": invitation,
            "company": company,
            "role": invitation.get_role_display(),
            "email": invitation.email,
            # An account with a password logs in to answer; anyone else sets a password on the page.
            "has_account": invitee is not None and invitee.has_usable_password(),
            "url": invitation.url,
            "site_name": settings.SITE_NAME,
            "site_url": settings.SITE_URL,
            "tz": company.timezone,
        }
        subject = _("You are invited to %(company)s on %(site)s") % {
            "company": company.name,
            "site": settings.SITE_NAME,
        }
        message = EmailMultiAlternatives(
            subject=subject,
            body=render_to_string("companies/email/invitation.txt", context),
            to=[invitation.email],
        )
        message.attach_alternative(render_to_string("companies/email/invitation.html", context), "text/html")
    message.send()


@transaction.atomic
def invite_member(*, company: Company, invited_by, email: str, role: str) -> Invitation:
    """Invite *email* to *company* with *role*, to be accepted (or not) by the invitee.

    Nothing is granted here: the membership is made only when the invited account accepts
    (:func:`accept_invitation`). Inviting an address again while its invitation is pending sends
    a fresh link with the new role and expiry; the older link stops working.
    """
    email = normalise_email(User.objects.normalize_email(email))
    if role not in Membership.Role.values:
        raise ValidationError(_("Choose a valid role."), code="role")
    user = find_user_by_email(User, email)
    if user is None and len(email) > User._meta.get_field(User.USERNAME_FIELD).max_length:
        # A new account's login is its address.
        raise ValidationError(_("This e-mail address is too long for a login."), code="email_too_long")
    if user is not None and company.memberships.filter(user=user).exists():
        raise ValidationError(
            _("%(email)s is already a member of this company."), params={"email": email}, code="already_member"
        )
    expires_at = timezone.now() + timedelta(days=settings.INVITATION_DAYS)
    # The company row serialises invitations of one company: no two pending ones for one address.
    Company.objects.select_for_update().filter(pk=company.pk).first()
    invitation = company.invitations.filter(status=Invitation.Status.PENDING, email=email).first()
    if invitation is None:
        invitation = Invitation(company=company, email=email)
    invitation.user = user
    invitation.role = role
    invitation.invited_by = invited_by
    invitation.expires_at = expires_at
    invitation.nonce = new_invitation_nonce()
    invitation.full_clean(validate_unique=False, validate_constraints=False)
    invitation.save()
    # After commit: a rolled-back invitation must not have sent a working link.
    transaction.on_commit(lambda: _send_invitation(invitation))
    return invitation


def _open_invitation(invitation: Invitation) -> Invitation:
    """*invitation* locked for an answer, or a ValidationError saying why it cannot be answered."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.status != Invitation.Status.PENDING:
        raise ValidationError(
            _("This invitation was already answered or withdrawn (%(state)s)."),
            params={"state": invitation.get_status_display().lower()},
            code="closed",
        )
    if invitation.is_expired:
        raise ValidationError(_("This invitation has expired: ask for a new one."), code="expired")
    return invitation


@transaction.atomic
def accept_invitation(*, invitation: Invitation, user) -> Membership:
    """Make *user* a member with the invited role; only the invited account may do so."""
    invitation = _open_invitation(invitation)
    if not invitation.is_for(user):
        raise ValidationError(_("This invitation is for another account."), code="wrong_account")
    membership, _created = Membership.objects.get_or_create(
        user=user, company=invitation.company, defaults={"role": invitation.role}
    )
    # Already a member (added by staff meanwhile): the invitation does not change their role.
    invitation.status = Invitation.Status.ACCEPTED
    invitation.user = user
    invitation.responded_at = timezone.now()
    invitation.save(update_fields=["status", "user", "responded_at"])
    return membership


@transaction.atomic
def accept_invitation_with_password(*, invitation: Invitation, password: str, full_name: str = ""):
    """Accept for an address that has no usable account yet: make (or complete) it with *password*.

    Whoever holds the link read it in that mailbox, which is what a password reset trusts too. An
    account that already has a password must log in instead.
    """
    invitation = _open_invitation(invitation)
    user = invitation.invitee()
    if user is not None and user.has_usable_password():
        raise ValidationError(_("This address has an account: log in to accept."), code="log_in")
    if user is None:
        user = User(username=invitation.email, email=invitation.email)
    if full_name:
        user.first_name, _sep, user.last_name = full_name.strip().partition(" ")
    user.set_password(password)
    user.full_clean()
    user.save()
    accept_invitation(invitation=invitation, user=user)
    return user


@transaction.atomic
def decline_invitation(*, invitation: Invitation, user=None) -> None:
    """Decline: by the invited account, or (``user=None``) by the link's holder when the address
    has no account with a password."""
    invitation = _open_invitation(invitation)
    if user is not None and not invitation.is_for(user):
        raise ValidationError(_("This invitation is for another account."), code="wrong_account")
    if user is None:
        invitee = invitation.invitee()
        if invitee is not None and invitee.has_usable_password():
            raise ValidationError(_("This address has an account: log in to answer."), code="log_in")
    invitation.status = Invitation.Status.DECLINED
    invitation.responded_at = timezone.now()
    invitation.save(update_fields=["status", "responded_at"])


def revoke_invitation(*, invitation: Invitation) -> bool:
    """Withdraw a pending invitation; False if it was answered meanwhile. Its link stops working."""
    return bool(
        Invitation.objects.filter(pk=invitation.pk, status=Invitation.Status.PENDING).update(
            status=Invitation.Status.REVOKED, responded_at=timezone.now()
        )
    )


def _owners_left(membership: Membership) -> int:
    return membership.company.memberships.filter(role=Membership.Role.OWNER).exclude(pk=membership.pk).count()


@transaction.atomic
def change_member_role(*, membership: Membership, role: str) -> Membership:
    membership = Membership.objects.select_for_update().select_related("company").get(pk=membership.pk)
    if membership.is_owner and role != Membership.Role.OWNER and _owners_left(membership) == 0:
        raise ValidationError(
            _("A company needs at least one owner: make someone else an owner first."), code="last_owner"
        )
    membership.role = role
    membership.full_clean()
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def remove_member(*, membership: Membership) -> None:
    membership = _lock_membership(membership)
    if membership.is_owner and _owners_left(membership) == 0:
        raise ValidationError(_("The last owner cannot be removed."), code="last_owner")
    membership.delete()


@transaction.atomic
def leave_company(*, membership: Membership) -> None:
    """The member leaves; a company is never left without an owner."""
    membership = _lock_membership(membership)
    if membership.is_owner and _owners_left(membership) == 0:
        raise ValidationError(
            _(
                "You are the last owner of %(company)s: make another member an owner first, "
                "or ask us to close the company."
            ),
            params={"company": membership.company.name},
            code="last_owner",
        )
    membership.delete()


def _lock_membership(membership: Membership) -> Membership:
    # The join locks the company row too: two owners removing each other at once queue on it.
    return Membership.objects.select_for_update().select_related("company").get(pk=membership.pk)


def check_storage_connection(connection: StorageConnection) -> str:
    """Write, read back and delete a probe file through the backend; record and return the error.

    Returns "" when everything worked. The error is kept short and never contains credentials.
    """
    from arv.storage import build_storage

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
    from content.models import Portrait, Video
    from markers.models import Job, ProjectMarker

    names: set[str] = set(Company.objects.filter(pk=company.pk).values_list("brand_logo", flat=True))
    for row in Portrait.objects.filter(company=company).values_list("image", "preview"):
        names.update(row)
    for row in Video.objects.filter(portrait__company=company).values_list("file", "web_file", "poster"):
        names.update(row)
    for job in Job.objects.filter(portrait__company=company).exclude(output="").only(
        "pk", "kind", "output", "compact_version"
    ):
        names.update(job.output_names())
    albums = ProjectMarker.objects.filter(project__company=company).exclude(output="")
    for marker in albums.only("pk", "output", "compact_version"):
        names.update(marker.output_names())
    names.discard("")
    return sorted(names)


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
def start_storage_move(*, company: Company, target: StorageConnection, requested_by=None) -> StorageMove:
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
        from arv.storage import storage_for_connection

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

    def send():
        from django_q.tasks import async_task

        try:
            async_task(
                "companies.services.continue_storage_move",
                move.pk,
                task_name=f"storage-move-{move.pk}-{uuid.uuid4().hex[:8]}",
            )
        except Exception:
            logger.exception("could not queue storage move %s; run the admin action again", move.pk)

    transaction.on_commit(send)


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
    from content.models import Portrait, Video
    from markers.models import Job, ProjectMarker

    rows = []
    logo = Company.objects.only("pk", "brand_logo", "brand_logo_bytes").get(pk=company.pk)
    rows.append((Company, logo.pk, "brand_logo_bytes", logo.brand_logo_bytes, size_of(logo.brand_logo.name)))
    for portrait in Portrait.objects.filter(company=company).only("pk", "image", "preview", "stored_bytes"):
        actual = size_of(portrait.image.name) + size_of(portrait.preview.name)
        rows.append((Portrait, portrait.pk, "stored_bytes", portrait.stored_bytes, actual))
    videos = Video.objects.filter(portrait__company=company).only("pk", "file", "web_file", "poster", "stored_bytes")
    for video in videos:
        actual = sum(size_of(f.name) for f in (video.file, video.web_file, video.poster))
        rows.append((Video, video.pk, "stored_bytes", video.stored_bytes, actual))
    for job in Job.objects.filter(portrait__company=company).only(
        "pk", "kind", "output", "output_bytes", "compact_version"
    ):
        rows.append((Job, job.pk, "output_bytes", job.output_bytes, sum(size_of(n) for n in job.output_names())))
    markers = ProjectMarker.objects.filter(project__company=company).only(
        "pk", "output", "output_bytes", "compact_version"
    )
    for marker in markers:
        actual = sum(size_of(n) for n in marker.output_names())
        rows.append((ProjectMarker, marker.pk, "output_bytes", marker.output_bytes, actual))
    return rows


def recompute_storage_usage(*, company: Company, dry_run: bool = False) -> UsageReport:
    """Measure every file the company's rows reference and correct the rows' and company's counters.

    Sizes come from the storage itself. Bytes reserved by uploads in flight count as used. The
    company's counter is replaced only if it did not move while the files were measured (an upload
    or a job finishing meanwhile); the report then says so and a second run settles it. Raises
    StorageUnavailable if the storage cannot be read: a partial measurement must not be written.
    """
    from arv.storage import storage_for_company
    from content.models import PendingUpload

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


# --- A studio's brand and viewer domain ------------------------------------------------------------


def update_brand(*, company: Company, brand_name: str, brand_accent_color: str) -> Company:
    """Name and accent colour (the logo has its own service: it is a stored file)."""
    company.brand_name = brand_name.strip()
    company.brand_accent_color = brand_accent_color
    company.full_clean(
        exclude=[f.name for f in Company._meta.fields if f.name not in ("brand_name", "brand_accent_color")],
        validate_constraints=False,
    )
    company.save(update_fields=["brand_name", "brand_accent_color", "updated_at"])
    return company


def _domain_changed() -> None:
    from companies.hosts import forget_verified_domains

    transaction.on_commit(forget_verified_domains)


@transaction.atomic
def claim_viewer_domain(*, company: Company, domain: str) -> Company:
    """Set (or change) the company's viewer domain; it is used only after it is verified.

    *domain* is as typed: it is normalised here. A domain another company holds, verified or not,
    cannot be claimed (the database's unique constraint settles a race).
    """
    from companies.domains import normalize_domain

    domain = normalize_domain(domain)
    company = Company.objects.select_for_update().get(pk=company.pk)
    if domain == company.viewer_domain:
        return company
    taken = ValidationError(
        _("%(domain)s is already used by another company.") % {"domain": domain}, code="domain_taken"
    )
    if Company.objects.filter(viewer_domain__iexact=domain).exclude(pk=company.pk).exists():
        raise taken
    was_verified = bool(company.viewer_domain_verified_at)
    company.viewer_domain = domain
    company.viewer_domain_token = secrets.token_urlsafe(24)
    company.viewer_domain_claimed_at = timezone.now()
    company.viewer_domain_verified_at = None
    company.viewer_domain_verified_by = ""
    company.viewer_domain_checked_at = None
    company.viewer_domain_failing_since = None
    company.viewer_domain_error = ""
    try:
        with transaction.atomic():
            company.save(update_fields=[*DOMAIN_FIELDS, "updated_at"])
    except IntegrityError:
        raise taken from None
    if was_verified:
        _domain_changed()
    return company


DOMAIN_FIELDS = [
    "viewer_domain",
    "viewer_domain_token",
    "viewer_domain_claimed_at",
    "viewer_domain_verified_at",
    "viewer_domain_verified_by",
    "viewer_domain_checked_at",
    "viewer_domain_failing_since",
    "viewer_domain_error",
]


@transaction.atomic
def remove_viewer_domain(*, company: Company) -> Company:
    company = Company.objects.select_for_update().get(pk=company.pk)
    was_verified = bool(company.viewer_domain_verified_at)
    for name in DOMAIN_FIELDS:
        setattr(company, name, None if name.endswith("_at") or name == "viewer_domain_failing_since" else "")
    company.save(update_fields=[*DOMAIN_FIELDS, "updated_at"])
    if was_verified:
        _domain_changed()
    return company


class CheckSkipped(Exception):
    """Another check of this domain ran moments ago (or runs now)."""


def check_viewer_domain(*, company: Company, min_interval: timedelta = timedelta(seconds=10)) -> Company:
    """Look for the proof of control now and record the outcome.

    1. Claim the check with a conditional UPDATE of ``checked_at`` (two clicks, or a click and the
       periodic job, never check at once; a burst of clicks costs one outbound check).
    2. Look up DNS / fetch the file outside any transaction (seconds, on someone else's server).
    3. Write the outcome only if the domain is still the one that was checked. A verified domain
       that fails keeps working for DOMAIN_GRACE_DAYS, then lapses.
    """
    from companies import domains

    now = timezone.now()
    snapshot = Company.objects.filter(pk=company.pk).values("viewer_domain", "viewer_domain_token").get()
    domain, token = snapshot["viewer_domain"], snapshot["viewer_domain_token"]
    if not domain:
        raise ValidationError(_("Add a domain first."), code="no_domain")
    recent = Q(viewer_domain_checked_at__isnull=True) | Q(viewer_domain_checked_at__lte=now - min_interval)
    claimed = (
        Company.objects.filter(pk=company.pk, viewer_domain=domain, viewer_domain_token=token)
        .filter(recent)
        .update(viewer_domain_checked_at=now)
    )
    if not claimed:
        raise CheckSkipped
    result = domains.check(domain, token)
    with transaction.atomic():
        current = Company.objects.select_for_update().get(pk=company.pk)
        if current.viewer_domain != domain or current.viewer_domain_token != token:
            return current  # changed while we looked: the new domain gets its own check
        was_verified = bool(current.viewer_domain_verified_at)
        checked = timezone.now()
        if result.ok:
            current.viewer_domain_verified_at = current.viewer_domain_verified_at or checked
            current.viewer_domain_verified_by = result.method
            current.viewer_domain_failing_since = None
            current.viewer_domain_error = ""
        else:
            current.viewer_domain_error = result.detail[:2000]
            if was_verified:
                current.viewer_domain_failing_since = current.viewer_domain_failing_since or checked
                if checked - current.viewer_domain_failing_since >= timedelta(days=settings.DOMAIN_GRACE_DAYS):
                    current.viewer_domain_verified_at = None
                    current.viewer_domain_verified_by = ""
                    current.viewer_domain_failing_since = None
                    logger.warning("viewer domain %s of company %s lapsed: %s", domain, current.pk, result.detail)
        current.viewer_domain_checked_at = checked
        current.save(update_fields=[*DOMAIN_FIELDS, "updated_at"])
        if was_verified != bool(current.viewer_domain_verified_at):
            _domain_changed()
    return current


def check_due_viewer_domains(*, now: datetime | None = None, limit: int = 100) -> dict[str, int]:
    """The periodic job: check every claimed domain whose check is due, each on its own — one
    company's broken DNS or a crash in one check does not stop the others."""
    now = now or timezone.now()
    counts = {"checked": 0, "verified": 0, "failed": 0, "errors": 0}
    for company_id in list(Company.objects.domain_checks_due(now).values_list("pk", flat=True)[:limit]):
        try:
            company = check_viewer_domain(company=Company(pk=company_id), min_interval=timedelta(minutes=1))
        except CheckSkipped:
            continue
        except Exception:
            counts["errors"] += 1
            logger.exception("checking the viewer domain of company %s failed", company_id)
            continue
        counts["checked"] += 1
        counts["verified" if company.verified_domain else "failed"] += 1
    return counts
