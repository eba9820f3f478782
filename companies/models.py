"""Tenants and what they own: companies, memberships, projects, folders, storage connections.

A Company is a tenant. Users reach a company's data only through a Membership, and views fetch
every tenant-owned object through the helpers in ``companies.access``.
"""

from __future__ import annotations

import calendar
import uuid
import zoneinfo
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Greatest
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from companies import crypto

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
    credentials_encrypted = models.TextField(editable=False, blank=True)
    is_default = models.BooleanField(_("platform default"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    last_tested_at = models.DateTimeField(_("last tested"), null=True, blank=True)
    test_status = models.CharField(
        _("test status"), max_length=10, choices=TestStatus.choices, default=TestStatus.UNTESTED
    )
    test_error = models.TextField(_("test error"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
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
            from arv.storage import UnsafeLocation, local_location

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


class ViewerEngine(models.TextChoices):
    MINDAR = "mindar", _("MindAR (recommended)")
    NFT = "nft", _("AR.js NFT")


class Company(models.Model):
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
    storage_quota_bytes = models.BigIntegerField(
        _("storage quota (bytes)"), default=10 * GIB, validators=[MinValueValidator(0)]
    )
    # Maintained with F() updates by content.services on every save and delete, never recomputed
    # per request; `recompute_storage_usage` corrects drift.
    storage_used_bytes = models.BigIntegerField(_("storage used (bytes)"), default=0, editable=False)
    projects_limit = models.PositiveIntegerField(_("projects limit"), default=10)
    is_active = models.BooleanField(_("active"), default=True)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="companies")

    objects = CompanyQuerySet.as_manager()

    class Meta:
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(storage_used_bytes__gte=0), name="company_storage_used_not_negative"),
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
    def is_subscription_expired(self) -> bool:
        return self.subscription_expires_at is not None and self.subscription_expires_at <= timezone.now()

    @property
    def is_writable(self) -> bool:
        """An inactive or expired company keeps read access to its portal, nothing more."""
        return self.is_active and not self.is_subscription_expired

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

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="storage_moves")
    source = models.ForeignKey(StorageConnection, verbose_name=_("from"), on_delete=models.PROTECT, related_name="+")
    target = models.ForeignKey(StorageConnection, verbose_name=_("to"), on_delete=models.PROTECT, related_name="+")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.COPYING)
    # Why the last run stopped, for staff; never contains a credential.
    error = models.TextField(_("last error"), blank=True)
    # The process working on the move ("host:pid:token") and its last sign of life: a second run
    # waits, unless that process is gone or silent for too long.
    runner = models.CharField(max_length=200, blank=True, editable=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
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

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.EDITOR)
    created_at = models.DateTimeField(auto_now_add=True)

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

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="projects")
    # Identifies the project's album page (all its photos on one viewer) in public URLs.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
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
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
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
        return settings.SITE_URL + reverse("viewer:album", kwargs={"uuid": self.public_id})

    @property
    def is_expired(self) -> bool:
        return self.status == self.Status.EXPIRED or (self.expires_at is not None and self.expires_at <= timezone.now())

    @property
    def is_live(self) -> bool:
        now = timezone.now()
        return (
            self.status == self.Status.ACTIVE
            and (self.starts_at is None or self.starts_at <= now)
            and (self.expires_at is None or self.expires_at > now)
        )

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


class Folder(models.Model):
    """An optional grouping of portraits inside a project (an album, an event, a class)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="folders")
    name = models.CharField(_("name"), max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("folder")
        verbose_name_plural = _("folders")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="folder_name_unique_per_project")]

    def __str__(self) -> str:
        return self.name


class Notification(models.Model):
    """One message sent to a company, with the outcome per channel."""

    class Kind(models.TextChoices):
        PROJECT_EXPIRING = "project_expiring", _("Project expiring")
        SUBSCRIPTION_EXPIRING = "subscription_expiring", _("Subscription expiring")
        PORTRAIT_EXPIRING = "portrait_expiring", _("Portrait expiring")
        MONTHLY_REPORT = "monthly_report", _("Monthly report")
        INVITATION = "invitation", _("Invitation")

    class Channel(models.TextChoices):
        EMAIL = "email", _("E-mail")
        TELEGRAM = "telegram", _("Telegram")

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="notifications")
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications")
    portrait = models.ForeignKey(
        "content.Portrait", null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    # The channels this message is meant for; it is done when every one of them has been sent.
    channels = models.JSONField(default=list)
    # A sender holds the message until this time, so two runs never send the same channel twice.
    claimed_until = models.DateTimeField(null=True, blank=True)
    kind = models.CharField(_("type"), max_length=30, choices=Kind.choices)
    # What makes two reminders "the same": a unique key, so a concurrent or repeated run cannot
    # create a second notification for it.
    dedupe_key = models.CharField(max_length=200, unique=True)
    subject = models.CharField(_("subject"), max_length=300)
    message = models.TextField(_("message"))
    email_sent = models.BooleanField(_("e-mail sent"), default=False)
    email_sent_at = models.DateTimeField(null=True, blank=True)
    email_error = models.TextField(blank=True)
    telegram_sent = models.BooleanField(_("Telegram sent"), default=False)
    telegram_sent_at = models.DateTimeField(null=True, blank=True)
    telegram_error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # True once every channel is sent: the retry job only looks at incomplete ones.
    is_complete = models.BooleanField(default=False)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

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
