"""Tenants and what they own: companies, memberships, projects, storage connections, upload journal.

A Company is a tenant. Users reach a company's data only through a Membership, and views fetch
every tenant-owned object through the helpers in ``companies.access``.
"""

from __future__ import annotations

import calendar
import hashlib
import secrets
import uuid
import zoneinfo
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Greatest, Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from companies import crypto
from companies.branding import HEX_COLOUR, Brand, hex_colour_condition, validate_colour
from companies.storage import StoredFiles, TenantFileField
from lib.storage import UnsafeLocation, local_location

GIB = 1024**3


def add_months(moment: datetime, months: int) -> datetime:
    """*moment* plus whole calendar months, clamping the day (31 Jan + 1 month = 28/29 Feb)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(_("“%(value)s” is not a known time zone."), params={"value": value}) from None


class StorageConnection(models.Model):
    """Where a company's files live. Secrets are encrypted at rest and never shown back."""

    class Provider(models.TextChoices):
        LOCAL = "local", _("Local disk")
        S3 = "s3", _("S3-compatible")
        YANDEX_DISK = "yandex_disk", _("Yandex Disk")

    class TestStatus(models.TextChoices):
        UNTESTED = "untested", _("Not tested")
        OK = "ok", _("Working")
        FAILED = "failed", _("Failed")

    name = models.CharField(_("name"), max_length=100, unique=True)
    provider = models.CharField(_("provider"), max_length=20, choices=Provider.choices, default=Provider.LOCAL)
    # Local: a directory inside MEDIA_ROOT or LOCAL_STORAGE_ROOTS (see clean(); relative paths are
    # taken from MEDIA_ROOT). S3: a key prefix inside the bucket. Yandex Disk: a folder such as
    # "app:/arv" or "disk:/ARV".
    base_path = models.CharField(_("base path"), max_length=500, blank=True)
    bucket = models.CharField(_("bucket"), max_length=255, blank=True)
    # Non-secret provider settings (endpoint URL, region, addressing style, public base URL, URL
    # lifetime); secrets go to `credentials_encrypted`.
    options = models.JSONField(_("options"), default=dict, blank=True)
    credentials_encrypted = models.TextField(editable=False, blank=True, verbose_name=_("credentials encrypted"))
    is_default = models.BooleanField(_("platform default"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    last_tested_at = models.DateTimeField(_("last tested"), null=True, blank=True)
    test_status = models.CharField(
        _("test status"), max_length=10, choices=TestStatus.choices, default=TestStatus.UNTESTED
    )
    test_error = models.TextField(_("test error"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta:
        verbose_name = _("storage connection")
        verbose_name_plural = _("storage connections")
        ordering = ["name"]
        constraints = [
            # At most one default; the data migration creates it and the admin never removes the
            # last one, so there is exactly one.
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_storage_connection"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        if self.provider == self.Provider.LOCAL:
            try:
                local_location(self.base_path)
            except UnsafeLocation:
                message = _(
                    "This folder is outside MEDIA_ROOT (%(root)s), and everything a local connection holds "
                    "can be served: use a folder inside it, or have the operator list its parent folder in "
                    "LOCAL_STORAGE_ROOTS."
                ) % {"root": settings.MEDIA_ROOT}
                raise ValidationError({"base_path": message}) from None

    @property
    def credentials(self) -> dict:
        return crypto.decrypt_json(self.credentials_encrypted)

    def set_credentials(self, data: dict) -> None:
        self.credentials_encrypted = crypto.encrypt_json({k: v for k, v in data.items() if v})

    @property
    def has_credentials(self) -> bool:
        return bool(self.credentials_encrypted)

    def record_test(self, *, error: str = "") -> None:
        self.last_tested_at = timezone.now()
        self.test_status = self.TestStatus.FAILED if error else self.TestStatus.OK
        self.test_error = error
        self.save(update_fields=["last_tested_at", "test_status", "test_error", "updated_at"])

    @classmethod
    def get_default(cls) -> StorageConnection:
        """The platform default; local disk is recreated if someone managed to remove it."""
        connection, _ = cls.objects.get_or_create(
            is_default=True, defaults={"name": "Local disk", "provider": cls.Provider.LOCAL}
        )
        return connection


class CompanyQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True).filter(
            Q(subscription_expires_at__isnull=True) | Q(subscription_expires_at__gt=timezone.now())
        )

    def with_verified_domain(self):
        return self.exclude(viewer_domain="").filter(viewer_domain_verified_at__isnull=False)

    def domain_checks_due(self, now: datetime):
        """Claimed domains whose next check is due: pending ones often while fresh, verified ones daily."""
        pending = Q(viewer_domain_verified_at__isnull=True) & (
            Q(viewer_domain_checked_at__isnull=True)
            | Q(
                viewer_domain_claimed_at__gte=now - DOMAIN_PENDING_FAST_FOR,
                viewer_domain_checked_at__lt=now - DOMAIN_PENDING_EVERY,
            )
            | Q(
                viewer_domain_claimed_at__lt=now - DOMAIN_PENDING_FAST_FOR,
                viewer_domain_checked_at__lt=now - DOMAIN_PENDING_SLOW_EVERY,
            )
        )
        verified = Q(viewer_domain_verified_at__isnull=False) & (
            Q(viewer_domain_checked_at__isnull=True) | Q(viewer_domain_checked_at__lt=now - DOMAIN_RECHECK_EVERY)
        )
        return (
            self.exclude(viewer_domain="")
            .filter(pending | verified)
            .order_by(F("viewer_domain_checked_at").asc(nulls_first=True))
        )


# How often the periodic job checks claimed viewer domains (see companies/domains.py).
DOMAIN_PENDING_EVERY = timedelta(minutes=10)
DOMAIN_PENDING_FAST_FOR = timedelta(days=2)
DOMAIN_PENDING_SLOW_EVERY = timedelta(hours=6)
DOMAIN_RECHECK_EVERY = timedelta(hours=24)


def company_logo_path(instance, filename: str) -> str:
    return f"{instance.path_prefix}/brand/logo-{uuid.uuid4().hex[:12]}.png"


class ViewerEngine(models.TextChoices):
    MINDAR = "mindar", _("MindAR (recommended)")
    NFT = "nft", _("AR.js NFT")
    # Our own tracker (static/viewer/arv/): no WebGL, a fraction of MindAR's bytes; falls back to
    # MindAR where it cannot start. Not the default until it matches MindAR on every benchmark line.
    ARV = "arv", _("ARV tracker (light, falls back to MindAR)")


class Company(StoredFiles, models.Model):
    FILE_FIELDS = ("brand_logo",)
    COMPANY_ID = "pk"
    BYTES_FIELD = "brand_logo_bytes"

    class Tier(models.TextChoices):
        FREE = "free", _("Free")
        BASIC = "basic", _("Basic")
        PRO = "pro", _("Pro")
        ENTERPRISE = "enterprise", _("Enterprise")

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=40, blank=True)
    telegram_chat_id = models.CharField(_("Telegram chat id"), max_length=64, blank=True)
    timezone = models.CharField(_("time zone"), max_length=64, default="UTC", validators=[validate_timezone])
    # Language of the e-mails and Telegram messages the platform sends to the company.
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE)
    storage_connection = models.ForeignKey(
        StorageConnection,
        verbose_name=_("storage connection"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="companies",
        help_text=_("Empty: the platform default."),
    )
    storage_prefix = models.CharField(
        _("storage path prefix"),
        max_length=100,
        blank=True,
        help_text=_("Folder for this company's files inside the storage; empty: the slug."),
    )
    subscription_tier = models.CharField(_("subscription"), max_length=20, choices=Tier.choices, default=Tier.FREE)
    subscription_expires_at = models.DateTimeField(_("subscription expires"), null=True, blank=True)
    subscription_period_months = models.PositiveSmallIntegerField(
        _("subscription period (months)"), default=12, validators=[MinValueValidator(1)]
    )
    subscription_auto_renew = models.BooleanField(_("renew the subscription automatically"), default=False)
    notify_days_before_expiry = models.PositiveSmallIntegerField(
        _("remind days before the subscription expires"), default=14
    )
    monthly_report_opt_out = models.BooleanField(_("no monthly report"), default=False)
    viewer_engine = models.CharField(
        _("AR engine"), max_length=8, choices=ViewerEngine.choices, default=ViewerEngine.MINDAR
    )
    # The studio's brand on the pages, print sheets and e-mails its customers see.
    brand_name = models.CharField(
        _("display name"), max_length=100, blank=True, help_text=_("Shown to your customers; empty: the company name.")
    )
    brand_logo = TenantFileField(_("logo"), blank=True, upload_to=company_logo_path)
    brand_logo_width = models.PositiveIntegerField(default=0, editable=False, verbose_name=_("brand logo width"))
    brand_logo_height = models.PositiveIntegerField(default=0, editable=False, verbose_name=_("brand logo height"))
    brand_logo_bytes = models.BigIntegerField(default=0, editable=False, verbose_name=_("brand logo bytes"))
    brand_accent_color = models.CharField(
        _("accent colour"), max_length=7, blank=True, validators=[validate_colour], help_text=_("Hex, e.g. #1f6feb.")
    )
    # Normalised by companies.domains (lower-case IDNA ASCII); "" for none. Used for nothing
    # until verified.
    viewer_domain = models.CharField(_("viewer domain"), max_length=253, blank=True)
    viewer_domain_token = models.CharField(_("verification code"), max_length=64, blank=True, editable=False)
    viewer_domain_claimed_at = models.DateTimeField(_("domain added"), null=True, blank=True, editable=False)
    viewer_domain_verified_at = models.DateTimeField(_("domain verified"), null=True, blank=True, editable=False)
    viewer_domain_verified_by = models.CharField(_("verified by"), max_length=4, blank=True, editable=False)
    viewer_domain_checked_at = models.DateTimeField(_("domain last checked"), null=True, blank=True, editable=False)
    # Since when a verified domain fails its checks; it lapses after DOMAIN_GRACE.
    viewer_domain_failing_since = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("viewer domain failing since")
    )
    viewer_domain_error = models.TextField(_("last check"), blank=True, editable=False)
    storage_quota_bytes = models.BigIntegerField(
        _("storage quota (bytes)"), default=10 * GIB, validators=[MinValueValidator(0)]
    )
    # Maintained with F() updates by content.services on every save and delete, never recomputed
    # per request; `recompute_storage_usage` corrects drift.
    storage_used_bytes = models.BigIntegerField(_("storage used (bytes)"), default=0, editable=False)
    projects_limit = models.PositiveIntegerField(_("projects limit"), default=10)
    is_active = models.BooleanField(_("active"), default=True)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="companies", verbose_name=_("members")
    )

    objects = CompanyQuerySet.as_manager()

    class Meta:
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        ordering = ["name"]
        permissions = [("move_company_storage", _("Can move a company's files to another storage"))]
        constraints = [
            models.CheckConstraint(condition=Q(storage_used_bytes__gte=0), name="company_storage_used_not_negative"),
            # One company per domain whatever the case (stored lower-case; this guards raw writes).
            models.UniqueConstraint(
                Lower("viewer_domain"),
                condition=~Q(viewer_domain=""),
                name="one_company_per_viewer_domain",
                violation_error_message=_("This domain is already used by another company."),
            ),
            # Only "#rrggbb" can ever reach a style attribute.
            models.CheckConstraint(
                condition=hex_colour_condition("brand_accent_color"),
                name="company_accent_color_is_hex",
            ),
            models.CheckConstraint(
                condition=Q(viewer_domain_verified_at__isnull=True) | ~Q(viewer_domain=""),
                name="company_verified_domain_not_empty",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = slugify(self.name)[:80] or "company"
        super().save(*args, **kwargs)

    @property
    def path_prefix(self) -> str:
        return self.storage_prefix or self.slug

    @property
    def company(self) -> Company:
        """A company's own files (its logo) live in its storage like its rows' (TenantFileField)."""
        return self

    @property
    def verified_domain(self) -> str:
        return self.viewer_domain if self.viewer_domain and self.viewer_domain_verified_at else ""

    @property
    def public_base_url(self) -> str:
        """Where this company's public pages are linked from QR codes, print sheets, the API and
        exports: its verified domain over https, else SITE_URL. The one place that decides."""
        domain = self.verified_domain
        return f"https://{domain}" if domain else settings.SITE_URL

    @property
    def brand(self) -> Brand:
        logo = self.brand_logo.name
        return Brand(
            name=self.brand_name or self.name,
            # Files of an inactive or expired company are not served (viewer.media): no broken image.
            logo_url=self.brand_logo.url if logo and self.is_writable else "",
            logo_width=self.brand_logo_width,
            logo_height=self.brand_logo_height,
            accent=self.brand_accent_color if HEX_COLOUR.match(self.brand_accent_color or "") else "",
            is_set=bool(self.brand_name or logo or self.brand_accent_color),
        )

    @property
    def is_subscription_expired(self) -> bool:
        return self.subscription_expires_at is not None and self.subscription_expires_at <= timezone.now()

    def unavailable_reason(self) -> str:
        """'' while the company is live; else why nothing of it is public: inactive or expired.

        The first layer of the one rule "this photo is visible now" (``Project.unavailable_reason``,
        ``Portrait.unavailable_reason``); the media route applies this layer alone, because the
        portal shows a paused photo's files to its studio too."""
        if not self.is_active:
            return "inactive"
        if self.is_subscription_expired:
            return "expired"
        return ""

    @property
    def is_writable(self) -> bool:
        """An inactive or expired company keeps read access to its portal, nothing more."""
        return not self.unavailable_reason()

    def stores_on(self, connection: StorageConnection) -> bool:
        """Whether *connection* holds this company's files (no connection of its own: the default)."""
        if self.storage_connection_id is None:
            return connection.is_default
        return self.storage_connection_id == connection.pk

    @property
    def read_only_reason(self) -> str:
        if not self.is_active:
            return _("This company account is deactivated: the portal is read-only. Contact support.")
        if self.is_subscription_expired:
            return _("The subscription has expired: the portal is read-only until it is renewed.")
        return ""

    @property
    def storage_left_bytes(self) -> int:
        return max(self.storage_quota_bytes - self.storage_used_bytes, 0)

    @property
    def storage_used_percent(self) -> int:
        if not self.storage_quota_bytes:
            return 100
        return min(round(100 * self.storage_used_bytes / self.storage_quota_bytes), 100)

    def reserve_storage(self, size: int) -> bool:
        """Claim *size* bytes of quota in one conditional UPDATE; False if it would not fit."""
        claimed = Company.objects.filter(pk=self.pk, storage_used_bytes__lte=F("storage_quota_bytes") - size).update(
            storage_used_bytes=F("storage_used_bytes") + size
        )
        self.refresh_from_db(fields=["storage_used_bytes"])
        return bool(claimed)

    def add_storage(self, size: int) -> None:
        """Count derived files (previews, renditions, markers): made by us, never refused."""
        Company.objects.filter(pk=self.pk).update(storage_used_bytes=F("storage_used_bytes") + size)

    def release_storage(self, size: int) -> None:
        """Give *size* bytes back; clamped at zero so a drifted counter never goes negative."""
        Company.objects.filter(pk=self.pk).update(storage_used_bytes=Greatest(F("storage_used_bytes") - size, Value(0)))
        self.refresh_from_db(fields=["storage_used_bytes"])

    def extend_subscription(self, months: int) -> None:
        start = max(self.subscription_expires_at or timezone.now(), timezone.now())
        self.subscription_expires_at = add_months(start, months)
        self.save(update_fields=["subscription_expires_at", "updated_at"])

    def set_active(self, active: bool) -> None:
        self.is_active = active
        self.save(update_fields=["is_active", "updated_at"])


class StorageMove(models.Model):
    """A company's files moving to another storage connection: the state a run resumes from.

    1. ``copying``: every file the company's rows reference gets a :class:`StorageMoveFile`, is
       copied to the target and read back to check its size and SHA-256. The company still reads
       and writes the source.
    2. ``cleaning``: the company was switched to the target in one transaction. Files that reached
       the source meanwhile are copied too, then the old copies are deleted.
    3. ``done``.

    Nothing is deleted from the source before the company uses a target holding a verified copy,
    so a run killed at any point loses nothing; running it again carries on from these rows.
    """

    class Status(models.TextChoices):
        COPYING = "copying", _("Copying")
        CLEANING = "cleaning", _("Deleting old copies")
        DONE = "done", _("Done")

    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="storage_moves", verbose_name=_("company")
    )
    source = models.ForeignKey(StorageConnection, verbose_name=_("from"), on_delete=models.PROTECT, related_name="+")
    target = models.ForeignKey(StorageConnection, verbose_name=_("to"), on_delete=models.PROTECT, related_name="+")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.COPYING)
    # Why the last run stopped, for staff; never contains a credential.
    error = models.TextField(_("last error"), blank=True)
    # The process working on the move ("host:pid:token") and its last sign of life: a second run
    # waits, unless that process is gone or silent for too long.
    runner = models.CharField(max_length=200, blank=True, editable=False, verbose_name=_("runner"))
    heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("heartbeat at"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("requested by"),
    )
    created_at = models.DateTimeField(_("started"), auto_now_add=True)
    switched_at = models.DateTimeField(_("switched"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("storage move")
        verbose_name_plural = _("storage moves")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["company"], condition=~Q(status="done"), name="one_open_storage_move_per_company"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.company} → {self.target}"

    def counts(self) -> dict[str, int]:
        """Files per state, every state present."""
        counts = dict.fromkeys(StorageMoveFile.State.values, 0)
        counts.update(self.files.values("state").annotate(n=models.Count("pk")).values_list("state", "n"))
        return counts

    @property
    def files_copied(self) -> int:
        """Files with a verified copy on the target (old copy deleted or not yet)."""
        counts = self.counts()
        return counts[StorageMoveFile.State.COPIED] + counts[StorageMoveFile.State.DELETED]


class StorageMoveFile(models.Model):
    """One stored file of a moving company, and how far it got."""

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting")
        COPIED = "copied", _("Copied and verified")
        DELETED = "deleted", _("Copied; old copy deleted")
        MISSING = "missing", _("Missing from both storages")

    move = models.ForeignKey(StorageMove, on_delete=models.CASCADE, related_name="files")
    name = models.CharField(max_length=500)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    size = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = _("moved file")
        verbose_name_plural = _("moved files")
        constraints = [models.UniqueConstraint(fields=["move", "name"], name="one_row_per_moved_file")]
        indexes = [models.Index(fields=["move", "state"], name="storage_move_file_state_idx")]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        EDITOR = "editor", _("Editor")
        VIEWER = "viewer", _("Viewer")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("user")
    )
    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("company")
    )
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.EDITOR)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        ordering = ["company__name", "user__username"]
        constraints = [models.UniqueConstraint(fields=["user", "company"], name="one_membership_per_user_company")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.company} ({self.get_role_display()})"

    @property
    def can_write(self) -> bool:
        return self.role in (self.Role.OWNER, self.Role.EDITOR)

    @property
    def is_owner(self) -> bool:
        return self.role == self.Role.OWNER


class InvitationQuerySet(models.QuerySet):
    def pending(self):
        """Invitations that can still be answered: not accepted, declined or revoked, not expired."""
        return self.filter(status=Invitation.Status.PENDING, expires_at__gt=timezone.now())

    def for_user(self, user):
        """Pending invitations *user* may answer: to their account, or to their e-mail address
        when no account was known at the time of the invitation."""
        addressed = Q(user=user)
        if user.email:
            addressed |= Q(user__isnull=True, email=normalise_email(user.email))
        return self.pending().filter(addressed)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def new_invitation_nonce() -> str:
    return secrets.token_hex(16)


class Invitation(models.Model):
    """An owner's offer of a role in a company, to an e-mail address; nothing until accepted.

    The invitee answers through the signed link e-mailed to them (:attr:`token`) or, once logged
    in, in the portal. Only the invited account may accept: the account bound at invitation time
    (``user``), or, for an address that had no account, whoever sets a password through the link
    (it went to that mailbox, as a password reset would). The role is applied on acceptance;
    declining, revoking or letting it expire leaves no membership.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")
        REVOKED = "revoked", _("Revoked")

    TOKEN_SALT = "companies.invitation"  # noqa: S105 - a signing namespace, not a secret

    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="invitations", verbose_name=_("company")
    )
    email = models.EmailField(_("e-mail"), max_length=254)
    # The account the invitation is for when it already existed; else bound on acceptance.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="invitations",
        verbose_name=_("user"),
    )
    role = models.CharField(_("role"), max_length=10, choices=Membership.Role.choices, default=Membership.Role.EDITOR)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("invited by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    # Part of the signed link: a new nonce (sending again) makes every older link invalid.
    nonce = models.CharField(max_length=32, default=new_invitation_nonce, editable=False, verbose_name=_("nonce"))
    created_at = models.DateTimeField(_("sent"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"))
    responded_at = models.DateTimeField(_("answered"), null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "email"], condition=Q(status="pending"), name="one_pending_invitation_per_address"
            ),
            models.CheckConstraint(condition=Q(email=Lower("email")), name="invitation_email_lower"),
        ]
        indexes = [models.Index(fields=["email"], condition=Q(status="pending"), name="invitation_pending_email_idx")]

    def __str__(self) -> str:
        return f"{self.email} → {self.company} ({self.get_role_display()})"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def inviter_name(self) -> str:
        who = self.invited_by
        return (who.get_full_name() or who.email or who.get_username()) if who else ""

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.PENDING and not self.is_expired

    @property
    def state_label(self) -> str:
        if self.status == self.Status.PENDING and self.is_expired:
            return pgettext_lazy("invitation", "Expired")
        return self.get_status_display()

    @property
    def token(self) -> str:
        return signing.dumps({"i": self.pk, "n": self.nonce}, salt=self.TOKEN_SALT, compress=True)

    @classmethod
    def from_token(cls, token: str) -> Invitation | None:
        """The invitation a link names, or None for a forged, damaged or superseded link."""
        try:
            data = signing.loads(token, salt=cls.TOKEN_SALT)
            pk, nonce = int(data["i"]), str(data["n"])
        except (signing.BadSignature, KeyError, TypeError, ValueError):
            return None
        invitation = cls.objects.select_related("company", "invited_by", "user").filter(pk=pk).first()
        if invitation is None or not constant_time_compare(invitation.nonce, nonce):
            return None
        return invitation

    @property
    def url(self) -> str:
        return settings.SITE_URL + reverse("invitation", kwargs={"token": self.token})

    def invitee(self):
        """The account this invitation is for, if one exists (bound, or found by its address)."""
        if self.user_id:
            return self.user
        from django.contrib.auth import get_user_model

        return find_user_by_email(get_user_model(), self.email)

    def is_for(self, user) -> bool:
        if not user.is_authenticated:
            return False
        if self.user_id:
            return self.user_id == user.pk
        invitee = self.invitee()
        return invitee is not None and invitee.pk == user.pk


def find_user_by_email(user_model, email: str):
    """The account with this e-mail (or, for accounts made by invitations, this username)."""
    email = normalise_email(email)
    return (
        user_model.objects.filter(email__iexact=email).order_by("pk").first()
        or user_model.objects.filter(username__iexact=email).order_by("pk").first()
    )


class ApiTokenQuerySet(models.QuerySet):
    def for_key(self, key: str):
        return self.filter(digest=ApiToken.digest_of(key))


class ApiToken(models.Model):
    """A user's REST API key, stored only as its SHA-256: a copy of the database gives no key.

    One per user; making a new one replaces it. The key is random (256 bits), so a fast hash is
    enough: there is nothing to brute-force. ``prefix`` (its first characters) lets the user and
    staff tell keys apart without revealing them.
    """

    PREFIX = "arv_"
    SHOWN_CHARS = 8
    # Writing "last used" on every request would cost a write per API call.
    LAST_USED_RESOLUTION = timedelta(minutes=5)

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_token", verbose_name=_("user")
    )
    digest = models.CharField(max_length=64, unique=True, editable=False, verbose_name=_("digest"))
    prefix = models.CharField(_("key starts with"), max_length=SHOWN_CHARS, editable=False)
    created_at = models.DateTimeField(_("made"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @staticmethod
    def digest_of(key: str) -> str:
        return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()

    @classmethod
    def issue(cls, user) -> tuple[ApiToken, str]:
        """A new key for *user*, replacing any previous one; the key itself is returned only here."""
        key = cls.PREFIX + secrets.token_urlsafe(32)
        with transaction.atomic():
            cls.objects.filter(user=user).delete()
            token = cls.objects.create(user=user, digest=cls.digest_of(key), prefix=key[: cls.SHOWN_CHARS])
        return token, key

    def touch(self) -> None:
        now = timezone.now()
        if self.last_used_at is None or now - self.last_used_at >= self.LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=self.pk).update(last_used_at=now)
            self.last_used_at = now


class ProjectQuerySet(models.QuerySet):
    def for_company(self, company: Company):
        return self.filter(company=company)

    def with_portrait_counts(self):
        # Aggregation drops Meta.ordering (GROUP BY), so the order is restated.
        return self.annotate(portrait_count=models.Count("portraits")).order_by("-created_at", "-id")

    def live(self):
        """Projects whose content may be shown publicly right now."""
        now = timezone.now()
        return self.filter(status=Project.Status.ACTIVE).filter(
            Q(starts_at__isnull=True) | Q(starts_at__lte=now),
            Q(expires_at__isnull=True) | Q(expires_at__gt=now),
        )

    def expiring_within(self, days: int):
        now = timezone.now()
        return self.filter(status=Project.Status.ACTIVE, expires_at__gt=now, expires_at__lte=now + timedelta(days=days))


class Project(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused")
        EXPIRED = "expired", _("Expired")
        ARCHIVED = "archived", _("Archived")

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="projects", verbose_name=_("company"))
    # Identifies the project's album page (all its photos on one viewer) in public URLs.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=80)
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    starts_at = models.DateTimeField(_("starts"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    auto_renew = models.BooleanField(_("renew automatically"), default=False)
    notify_days_before_expiry = models.PositiveSmallIntegerField(_("remind days before expiry"), default=7)
    last_notification_sent_at = models.DateTimeField(_("last reminder sent"), null=True, blank=True)
    tags = models.JSONField(_("tags"), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )

    objects = ProjectQuerySet.as_manager()

    class Meta:
        verbose_name = _("project")
        verbose_name_plural = _("projects")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["company", "slug"], name="project_slug_unique_per_company"),
            models.CheckConstraint(
                condition=Q(starts_at__isnull=True) | Q(expires_at__isnull=True) | Q(expires_at__gt=F("starts_at")),
                name="project_expires_after_start",
            ),
        ]
        indexes = [models.Index(fields=["status", "expires_at"], name="project_status_expiry_idx")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("portal:project_detail", kwargs={"slug": self.slug})

    @property
    def album_url(self) -> str:
        return self.company.public_base_url + reverse("viewer:album", kwargs={"uuid": self.public_id})

    @property
    def is_expired(self) -> bool:
        return self.status == self.Status.EXPIRED or (self.expires_at is not None and self.expires_at <= timezone.now())

    def unavailable_reason(self, now: datetime, *, company: Company | None = None) -> str:
        """'' if the project's photos may play now; else why not: inactive, expired or unpublished
        (the company's reason first). *company*: the project's, when the caller loaded it already.
        ``ProjectQuerySet.live`` is the same rule for the project's own fields, in SQL."""
        reason = (company or self.company).unavailable_reason()
        if reason:
            return reason
        if self.is_expired:
            return "expired"
        if self.status in (self.Status.PAUSED, self.Status.ARCHIVED):
            return "inactive"
        if self.starts_at and self.starts_at > now:
            return "unpublished"
        return ""

    def extend(self, months: int) -> None:
        start = max(self.expires_at or timezone.now(), timezone.now())
        self.expires_at = add_months(start, months)
        fields = ["expires_at", "updated_at"]
        if self.status == self.Status.EXPIRED:
            self.status = self.Status.ACTIVE
            fields.append("status")
        self.save(update_fields=fields)

    def archive(self) -> None:
        self.status = self.Status.ARCHIVED
        self.save(update_fields=["status", "updated_at"])


class Notification(models.Model):
    """One message sent to a company, with the outcome per channel."""

    class Kind(models.TextChoices):
        PROJECT_EXPIRING = "project_expiring", _("Project expiring")
        SUBSCRIPTION_EXPIRING = "subscription_expiring", _("Subscription expiring")
        PORTRAIT_EXPIRING = "portrait_expiring", _("Portrait expiring")
        MONTHLY_REPORT = "monthly_report", _("Monthly report")
        INVITATION = "invitation", _("Invitation")
        WEBHOOK_TURNED_OFF = "webhook_turned_off", _("Webhook endpoint turned off")

    class Channel(models.TextChoices):
        EMAIL = "email", _("E-mail")
        TELEGRAM = "telegram", _("Telegram")

    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="notifications", verbose_name=_("company")
    )
    project = models.ForeignKey(
        Project,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notifications",
        verbose_name=_("project"),
    )
    portrait = models.ForeignKey(
        "content.Portrait",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notifications",
        verbose_name=_("portrait"),
    )
    # The channels this message is meant for; it is done when every one of them has been sent.
    channels = models.JSONField(default=list, verbose_name=_("channels"))
    # A sender holds the message until this time, so two runs never send the same channel twice.
    claimed_until = models.DateTimeField(null=True, blank=True, verbose_name=_("claimed until"))
    kind = models.CharField(_("type"), max_length=30, choices=Kind.choices)
    # What makes two reminders "the same": a unique key, so a concurrent or repeated run cannot
    # create a second notification for it.
    dedupe_key = models.CharField(max_length=200, unique=True, verbose_name=_("dedupe key"))
    subject = models.CharField(_("subject"), max_length=300)
    message = models.TextField(_("message"))
    email_sent = models.BooleanField(_("e-mail sent"), default=False)
    email_sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("email sent at"))
    email_error = models.TextField(blank=True, verbose_name=_("email error"))
    telegram_sent = models.BooleanField(_("Telegram sent"), default=False)
    telegram_sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("telegram sent at"))
    telegram_error = models.TextField(blank=True, verbose_name=_("telegram error"))
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    # True once every channel is sent: the retry job only looks at incomplete ones.
    is_complete = models.BooleanField(default=False, verbose_name=_("is complete"))
    metadata = models.JSONField(default=dict, blank=True, verbose_name=_("metadata"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["company", "-created_at"], name="notification_company_idx"),
            models.Index(fields=["attempts"], condition=Q(is_complete=False), name="notification_open_idx"),
        ]

    def __str__(self) -> str:
        return self.subject

    def pending_channels(self) -> list[str]:
        sent = {self.Channel.EMAIL: self.email_sent, self.Channel.TELEGRAM: self.telegram_sent}
        return [c for c in self.channels if not sent.get(c)]


class PendingUpload(models.Model):
    """A journal entry for files being written before their rows exist.

    Written (and quota reserved) before any file is stored, deleted in the transaction that
    creates the rows. An entry that outlives its upload means the process died in between: the
    sweeper deletes its files and gives the quota back, so a crash leaves no orphan.
    """

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+", verbose_name=_("company"))
    names = models.JSONField(default=list, verbose_name=_("names"))
    reserved_bytes = models.BigIntegerField(default=0, verbose_name=_("reserved bytes"))
    created_at = models.DateTimeField(default=timezone.now, db_index=True, verbose_name=_("created at"))

    class Meta:
        # Moved from the content app without moving its table (a state-only migration).
        db_table = "content_pendingupload"
        verbose_name = _("pending upload")
        verbose_name_plural = _("pending uploads")

    def __str__(self) -> str:
        return f"{self.company_id}: {len(self.names)} file(s) since {self.created_at:%Y-%m-%d %H:%M}"
