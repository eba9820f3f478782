"""Workflows that touch several tenant models; views and the API both call these."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext as _

from companies import domains, signals
from companies.domains import normalize_domain
from companies.hosts import forget_verified_domains
from companies.models import (
    Company,
    Invitation,
    Membership,
    Project,
    StorageConnection,
    find_user_by_email,
    new_invitation_nonce,
    normalise_email,
)
from companies.quota import release_files
from companies.storage import file_owners
from companies.storage_moves import continue_storage_move  # noqa: F401 - see below
from lib.periodic import RowFailures

# Storage moves queued before they moved to companies/storage_moves.py name this path in the
# broker: the task stays importable here until those have run.
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


def delete_project(*, project: Project) -> None:
    """Delete a project with everything under it (photos, videos, markers, the album marker) and
    every file those rows own, and give their bytes back to the quota.

    The rows go by the database's cascade; their files are found through the file inventory
    first, so this needs to know no model above companies. The files are deleted after the
    commit: a rolled-back delete must not lose them.
    """
    company = project.company
    with transaction.atomic():
        rows = [row for model in file_owners() for row in model.project_inventory(project.pk)]
        names = [name for row in rows for name in row.stored_names()]
        freed = sum(row.stored_bytes_counted() for row in rows)
        project.delete()
        transaction.on_commit(lambda: release_files(company, names, freed))


def make_default_storage(*, connection: StorageConnection) -> tuple[StorageConnection | None, int]:
    """Make *connection* the platform default; returns the previous default and how many companies
    stay pinned to it.

    Companies following the default have their files on the old one; only a move copies files, so
    they stay there (pinned) and only new companies follow the new default.
    """
    now = timezone.now()
    with transaction.atomic():
        previous = StorageConnection.objects.filter(is_default=True).exclude(pk=connection.pk).first()
        pinned = 0
        if previous is not None:
            pinned = Company.objects.filter(storage_connection__isnull=True).update(
                storage_connection=previous, updated_at=now
            )
            StorageConnection.objects.filter(pk=previous.pk).update(is_default=False, updated_at=now)
        StorageConnection.objects.filter(pk=connection.pk).update(is_default=True, updated_at=now)
    return previous, pinned


def change_viewer_engine(*, company: Company, engine: str) -> Company:
    """Switch the company's default AR engine; which markers a photo waits for to be "ready"
    follows (the markers app listens to ``viewer_engine_changed``)."""
    with transaction.atomic():
        company.viewer_engine = engine
        company.save(update_fields=["viewer_engine", "updated_at"])
        signals.viewer_engine_changed.send(sender=Company, company=company)
    return company


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
    transaction.on_commit(forget_verified_domains)


@transaction.atomic
def claim_viewer_domain(*, company: Company, domain: str) -> Company:
    """Set (or change) the company's viewer domain; it is used only after it is verified.

    *domain* is as typed: it is normalised here. A domain another company holds, verified or not,
    cannot be claimed (the database's unique constraint settles a race).
    """
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
    failures = RowFailures("check_viewer_domains")
    for company_id in list(Company.objects.domain_checks_due(now).values_list("pk", flat=True)[:limit]):
        with failures.isolated(f"company {company_id}"):
            try:
                company = check_viewer_domain(company=Company(pk=company_id), min_interval=timedelta(minutes=1))
            except CheckSkipped:
                continue
            counts["checked"] += 1
            counts["verified" if company.verified_domain else "failed"] += 1
    counts["errors"] = failures.count
    return counts
