"""Workflows that touch several tenant models; views and the API both call these."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.text import slugify
from django.utils.translation import gettext as _

from companies.models import Company, Membership, Project, StorageConnection

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


def _send_invitation(*, user, company: Company, invited_by, needs_password: bool) -> None:
    context = {
        "user": user,
        "company": company,
        "invited_by": invited_by,
        "site_name": settings.SITE_NAME,
        "site_url": settings.SITE_URL,
        "login_url": settings.SITE_URL + reverse("login"),
        "set_password_url": (
            settings.SITE_URL
            + reverse(
                "password_reset_confirm",
                kwargs={
                    "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                    "token": default_token_generator.make_token(user),
                },
            )
            if needs_password
            else ""
        ),
    }
    subject = _("You were invited to %(company)s on %(site)s") % {"company": company.name, "site": settings.SITE_NAME}
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("companies/email/invitation.txt", context),
        to=[user.email],
    )
    message.attach_alternative(render_to_string("companies/email/invitation.html", context), "text/html")
    message.send()


@transaction.atomic
def invite_member(*, company: Company, invited_by, email: str, role: str) -> Membership:
    """Add a user (creating them if new) and e-mail them a link to set their password."""
    email = User.objects.normalize_email(email).strip().lower()
    user = User.objects.filter(email__iexact=email).first() or User.objects.filter(username__iexact=email).first()
    created = user is None
    if created:
        user = User(username=email, email=email)
        user.set_unusable_password()
        user.full_clean()
        user.save()
    elif company.memberships.filter(user=user).exists():
        raise ValidationError(
            _("%(email)s is already a member of this company."), params={"email": email}, code="already_member"
        )
    membership = Membership.objects.create(user=user, company=company, role=role)
    needs_password = not user.has_usable_password()
    # After commit: a rolled-back invitation must not have sent a working link.
    transaction.on_commit(
        lambda: _send_invitation(user=user, company=company, invited_by=invited_by, needs_password=needs_password)
    )
    return membership


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
    membership = Membership.objects.select_for_update().select_related("company").get(pk=membership.pk)
    if membership.is_owner and _owners_left(membership) == 0:
        raise ValidationError(_("The last owner cannot be removed."), code="last_owner")
    membership.delete()


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
        error = redact(f"{type(exc).__name__}: {exc}", connection)[:500]
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
