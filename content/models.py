"""Portraits (the printed photos) and the videos that play on them."""

from __future__ import annotations

import datetime
import uuid
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from companies.models import Company, Project, ViewerEngine
from companies.storage import StoredFiles, TenantFileField
from content.schedules import RotationRule, validate_cron

WEEKDAYS = [_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"), _("Saturday"), _("Sunday")]


class PortraitQuerySet(models.QuerySet):
    def for_company(self, company: Company):
        return self.filter(company=company)

    def search(self, text: str):
        text = (text or "").strip()
        if not text:
            return self
        return self.filter(
            Q(title__icontains=text)
            | Q(customer_name__icontains=text)
            | Q(customer_email__icontains=text)
            | Q(customer_phone__icontains=text)
            | Q(order_reference__icontains=text)
        )

    def publicly_visible(self):
        now = timezone.now()
        return self.filter(is_active=True).filter(
            Q(published_at__isnull=True) | Q(published_at__lte=now),
            Q(expires_at__isnull=True) | Q(expires_at__gt=now),
        )


class Portrait(StoredFiles, models.Model):
    FILE_FIELDS = ("image", "preview")
    PROJECT_ID = "project_id"
    BYTES_FIELD = "stored_bytes"

    class Status(models.TextChoices):
        PROCESSING = "processing", _("Processing")
        NEEDS_VIDEO = "needs_video", _("Needs a video")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")

    # The company is the project's; it is stored here too so tenant lookups, storage routing and
    # the public viewer need no join.
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="portraits", verbose_name=_("company"))
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="portraits", verbose_name=_("project"))
    # The only identifier that appears in public URLs.
    unique_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("unique id"))
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)

    image = TenantFileField(_("image"), max_length=500)
    image_width = models.PositiveIntegerField(default=0, verbose_name=_("image width"))
    image_height = models.PositiveIntegerField(default=0, verbose_name=_("image height"))
    image_format = models.CharField(max_length=10, blank=True, verbose_name=_("image format"))
    image_bytes = models.BigIntegerField(default=0, verbose_name=_("image bytes"))
    # SHA-256 of the stored (normalised) image: the key for reusing a compiled marker.
    image_sha256 = models.CharField(max_length=64, blank=True, db_index=True, verbose_name=_("image sha256"))
    original_filename = models.CharField(max_length=255, blank=True, verbose_name=_("original filename"))
    preview = TenantFileField(_("preview"), max_length=500, blank=True)
    # Bytes of every file of this row (image, preview) as counted in the company's quota.
    stored_bytes = models.BigIntegerField(default=0, editable=False, verbose_name=_("stored bytes"))

    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PROCESSING)
    # Empty: the company's engine.
    viewer_engine = models.CharField(_("AR engine"), max_length=8, choices=ViewerEngine.choices, blank=True)

    customer_name = models.CharField(_("customer name"), max_length=200, blank=True)
    customer_phone = models.CharField(_("customer phone"), max_length=40, blank=True)
    customer_email = models.EmailField(_("customer e-mail"), blank=True)
    order_reference = models.CharField(_("order reference"), max_length=100, blank=True)

    is_active = models.BooleanField(_("active"), default=True)
    published_at = models.DateTimeField(_("published from"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    views_count = models.PositiveIntegerField(_("views"), default=0)
    last_viewed_at = models.DateTimeField(_("last viewed"), null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True, verbose_name=_("metadata"))

    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("uploaded by"),
    )

    objects = PortraitQuerySet.as_manager()

    class Meta:
        verbose_name = _("portrait")
        verbose_name_plural = _("portraits")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["company", "-created_at"], name="portrait_company_created_idx"),
            models.Index(fields=["project", "-created_at"], name="portrait_project_created_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("portal:portrait_detail", kwargs={"uuid": self.unique_id})

    def get_public_url(self) -> str:
        return reverse("viewer:page", kwargs={"uuid": self.unique_id})

    @property
    def public_url(self) -> str:
        return self.company.public_base_url + self.get_public_url()

    @property
    def storage_dir(self) -> str:
        return f"{self.company.path_prefix}/{self.project.slug}/{self.unique_id}"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    def unavailable_reason(self, now: datetime.datetime) -> str:
        """'' if the photo is visible now (its page plays, its markers are served, its beacon
        counts); else why not: inactive, unpublished or expired. The one rule: company, then
        project, then the photo (``PortraitQuerySet.publicly_visible`` is the photo's part in SQL)."""
        reason = self.project.unavailable_reason(now, company=self.company)
        if reason:
            return reason
        if self.is_expired:
            return "expired"
        if not self.is_active:
            return "inactive"
        if self.published_at and self.published_at > now:
            return "unpublished"
        return ""

    @property
    def engine(self) -> str:
        return self.viewer_engine or self.company.viewer_engine

    def rotation_rule(self) -> RotationRule:
        """The rotation rule in the company's time zone (a default rule if none was set)."""
        tz = zoneinfo.ZoneInfo(self.company.timezone)
        rotation = getattr(self, "rotation", None) if self.pk else None
        return rotation.rule(tz) if rotation else RotationRule(tz=tz)

    def set_status(self, status: str) -> bool:
        """Move to *status*; True when that changed the row (callers announce changes)."""
        if self.status == status:
            return False
        self.status = status
        self.save(update_fields=["status", "updated_at"])
        return True


class VideoQuerySet(models.QuerySet):
    def playable(self):
        return self.filter(status=Video.Status.READY)


class Video(StoredFiles, models.Model):
    FILE_FIELDS = ("file", "web_file", "poster")
    COMPANY_ID = "portrait__company_id"
    PROJECT_ID = "portrait__project_id"
    BYTES_FIELD = "stored_bytes"

    class Status(models.TextChoices):
        PROCESSING = "processing", _("Processing")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")

    portrait = models.ForeignKey(Portrait, on_delete=models.CASCADE, related_name="videos", verbose_name=_("portrait"))
    file = TenantFileField(_("original file"), max_length=500)
    # H.264/AAC MP4 with faststart, made by ffmpeg for iPhones; empty: serve the original.
    web_file = TenantFileField(_("web rendition"), max_length=500, blank=True)
    poster = TenantFileField(_("poster"), max_length=500, blank=True)
    title = models.CharField(_("title"), max_length=200, blank=True)
    original_filename = models.CharField(max_length=255, blank=True, verbose_name=_("original filename"))
    duration = models.FloatField(_("duration (s)"), default=0)
    width = models.PositiveIntegerField(default=0, verbose_name=_("width"))
    height = models.PositiveIntegerField(default=0, verbose_name=_("height"))
    fps = models.FloatField(default=0, verbose_name=_("fps"))
    size_bytes = models.BigIntegerField(default=0, verbose_name=_("size bytes"))
    mime_type = models.CharField(max_length=50, blank=True, verbose_name=_("mime type"))
    # Manually chosen to play regardless of schedules; at most one per portrait (constraint).
    is_active = models.BooleanField(_("active"), default=False)
    schedule_start = models.DateTimeField(_("play from"), null=True, blank=True)
    schedule_end = models.DateTimeField(_("play until"), null=True, blank=True)
    schedule_repeats_yearly = models.BooleanField(_("repeat every year"), default=False)
    # Date-locked: never plays before this instant; from it on, it plays instead of the rotation.
    unlock_at = models.DateTimeField(_("unlocks at"), null=True, blank=True)
    rotation_order = models.PositiveIntegerField(_("order"), default=0)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PROCESSING)
    # Plain-language note about processing, e.g. that no web rendition could be made.
    status_message = models.CharField(max_length=300, blank=True, verbose_name=_("status message"))
    # Bytes of every file of this row (original, rendition, poster) as counted in the quota.
    stored_bytes = models.BigIntegerField(default=0, editable=False, verbose_name=_("stored bytes"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    objects = VideoQuerySet.as_manager()

    class Meta:
        verbose_name = _("video")
        verbose_name_plural = _("videos")
        ordering = ["rotation_order", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["portrait"], condition=Q(is_active=True), name="one_active_video_per_portrait"
            ),
            models.CheckConstraint(
                condition=Q(schedule_start__isnull=True)
                | Q(schedule_end__isnull=True)
                | Q(schedule_end__gt=models.F("schedule_start")),
                name="video_schedule_end_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.title or self.original_filename or f"video {self.pk}"

    @property
    def company(self) -> Company:
        return self.portrait.company

    @property
    def playback_file(self):
        return self.web_file if self.web_file else self.file

    def activate(self) -> None:
        """Make this the manually active video: one UPDATE pair in a transaction, so the
        constraint never sees two active videos and readers never see none in between."""
        with transaction.atomic():
            Video.objects.filter(portrait_id=self.portrait_id, is_active=True).exclude(pk=self.pk).update(
                is_active=False
            )
            Video.objects.filter(pk=self.pk).update(is_active=True)
        self.is_active = True

    def deactivate(self) -> None:
        Video.objects.filter(pk=self.pk).update(is_active=False)
        self.is_active = False


class Rotation(models.Model):
    """How a portrait's videos take turns (see content/schedules.py for the exact rules)."""

    class Kind(models.TextChoices):
        NONE = "none", _("No rotation (first video)")
        SEQUENTIAL = "sequential", _("One after another, then stay on the last")
        CYCLIC = "cyclic", _("One after another, round and round")

    class Every(models.TextChoices):
        DAY = "day", _("Every day")
        WEEK = "week", _("Every week")
        MONTH = "month", _("Every month")
        CRON = "cron", _("Cron expression")

    portrait = models.OneToOneField(
        Portrait, on_delete=models.CASCADE, related_name="rotation", verbose_name=_("portrait")
    )
    kind = models.CharField(_("rotation"), max_length=12, choices=Kind.choices, default=Kind.NONE)
    every = models.CharField(_("change"), max_length=8, choices=Every.choices, default=Every.DAY)
    at = models.TimeField(_("at (company time)"), default=datetime.time(0, 0))
    weekday = models.PositiveSmallIntegerField(
        _("weekday"), default=0, choices=[(i, day) for i, day in enumerate(WEEKDAYS)]
    )
    monthday = models.PositiveSmallIntegerField(
        _("day of month"), default=1, validators=[MinValueValidator(1), MaxValueValidator(31)]
    )
    cron = models.CharField(_("cron expression"), max_length=100, blank=True)
    # Rotation state as of `anchor`: video `base_index` plays from there. A daily job moves the
    # anchor forward so the count of boundaries since it stays small.
    anchor = models.DateTimeField(default=timezone.now, verbose_name=_("anchor"))
    base_index = models.PositiveIntegerField(default=0, verbose_name=_("base index"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("video rotation")
        verbose_name_plural = _("video rotations")

    def __str__(self) -> str:
        return f"{self.portrait}: {self.get_kind_display()}"

    def clean(self):
        if self.every == self.Every.CRON and self.kind != self.Kind.NONE:
            problem = validate_cron(self.cron)
            if problem:
                raise ValidationError({"cron": _("The cron expression %(problem)s.") % {"problem": _(problem)}})

    def rule(self, tz) -> RotationRule:
        return RotationRule(
            kind=self.kind,
            every=self.every,
            at=self.at,
            weekday=self.weekday,
            monthday=self.monthday,
            cron=self.cron,
            tz=tz,
            anchor=self.anchor,
            base_index=self.base_index,
        )


class VideoEvent(models.Model):
    """The audit trail of what happened to a portrait's videos, who did it and when."""

    class Action(models.TextChoices):
        ADDED = "added", _("added")
        ACTIVATED = "activated", _("chosen to play")
        DEACTIVATED = "deactivated", _("unpinned")
        SCHEDULED = "scheduled", _("schedule changed")
        REORDERED = "reordered", _("order changed")
        ROTATION = "rotation", _("rotation changed")
        DELETED = "deleted", _("deleted")

    portrait = models.ForeignKey(
        Portrait, on_delete=models.CASCADE, related_name="video_events", verbose_name=_("portrait")
    )
    video = models.ForeignKey(
        Video, null=True, blank=True, on_delete=models.SET_NULL, related_name="events", verbose_name=_("video")
    )
    # Kept as text so the trail still says which video it was after the video is deleted.
    video_label = models.CharField(max_length=255, blank=True, verbose_name=_("video label"))
    action = models.CharField(max_length=12, choices=Action.choices, verbose_name=_("action"))
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("by"),
    )
    at = models.DateTimeField(default=timezone.now, verbose_name=_("at"))
    changes = models.JSONField(default=dict, blank=True, verbose_name=_("changes"))

    class Meta:
        verbose_name = _("video event")
        verbose_name_plural = _("video events")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["portrait", "-at"], name="videoevent_portrait_at_idx")]

    def __str__(self) -> str:
        return f"{self.video_label}: {self.get_action_display()}"


# --- Batches: many orders in one upload (print shops) --------------------------------------------


class BatchQuerySet(models.QuerySet):
    def for_company(self, company: Company):
        return self.filter(company=company)

    def unfinished(self):
        return self.exclude(status__in=Batch.FINISHED)


class Batch(models.Model):
    """One upload of many orders: a ZIP (or many files) checked in full before anything is made.

    The uploaded files wait in the private staging storage (``lib.staging``) while the batch is
    checked and reviewed; confirming turns each chosen row into a portrait through the same
    services as single uploads (``content.batches``).
    """

    class Status(models.TextChoices):
        UPLOADING = "uploading", _("Uploading")
        QUEUED = "queued", _("Waiting to be checked")
        CHECKING = "checking", _("Checking")
        REVIEW = "review", _("Ready to confirm")
        RUNNING = "running", _("Making portraits")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    class Source(models.TextChoices):
        ZIP = "zip", _("ZIP archive")
        FILES = "files", _("Separate files")

    class SheetFormat(models.TextChoices):
        A4 = "a4", _("A4, one photo per page")
        CARD = "card", _("10×15 cm card")

    FINISHED = (Status.READY, Status.FAILED, Status.CANCELLED)

    # The only identifier in URLs.
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("uuid"))
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="batches", verbose_name=_("company"))
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="batches", verbose_name=_("project"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("confirmed by"),
    )
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.QUEUED)
    source = models.CharField(_("source"), max_length=8, choices=Source.choices, default=Source.ZIP)
    sheet_format = models.CharField(
        _("print layout"), max_length=8, choices=SheetFormat.choices, default=SheetFormat.A4
    )
    # Messages made by workers are written in the language of the person who uploaded.
    language = models.CharField(max_length=8, default=settings.LANGUAGE_CODE, verbose_name=_("language"))
    original_name = models.CharField(_("upload"), max_length=255, blank=True)
    # The staged uploads: [{"name": staging name, "original": the file's own name, "size": bytes}].
    uploads = models.JSONField(default=list, blank=True, verbose_name=_("uploads"))
    upload_files = models.PositiveIntegerField(default=0, verbose_name=_("upload files"))
    upload_bytes = models.BigIntegerField(default=0, verbose_name=_("upload bytes"))
    # Live progress of the check: files looked at out of all files.
    progress_done = models.PositiveIntegerField(default=0, verbose_name=_("progress done"))
    progress_total = models.PositiveIntegerField(default=0, verbose_name=_("progress total"))
    # Why the whole batch was refused, in plain language ({"code", "text"}); empty otherwise.
    error = models.JSONField(default=dict, blank=True, verbose_name=_("error"))
    # Things the uploader should know that refuse nothing (ignored files, unknown columns).
    warnings = models.JSONField(default=list, blank=True, verbose_name=_("warnings"))
    # Quota the rows that can be made need (the same sizes the upload services reserve).
    needed_bytes = models.BigIntegerField(default=0, verbose_name=_("needed bytes"))
    # The check is a job: claimed with a token, alive while the heartbeat moves.
    claim_token = models.UUIDField(null=True, blank=True, editable=False, verbose_name=_("claim token"))
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    heartbeat_at = models.DateTimeField(null=True, blank=True, verbose_name=_("heartbeat at"))
    # Set once the staging files are gone (the sweeper retries until then).
    staging_cleaned = models.BooleanField(default=False, verbose_name=_("staging cleaned"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    checked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("checked at"))
    confirmed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("confirmed at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))

    objects = BatchQuerySet.as_manager()

    class Meta:
        verbose_name = _("batch")
        verbose_name_plural = _("batches")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["project", "-created_at"], name="batch_project_created_idx"),
            # The sweeper's working set.
            models.Index(
                fields=["status", "updated_at"],
                condition=~Q(status__in=["ready", "failed", "cancelled"]),
                name="batch_open_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    status__in=["uploading", "queued", "checking", "review", "running", "ready", "failed", "cancelled"]
                ),
                name="batch_status_valid",
            ),
            models.CheckConstraint(condition=Q(source__in=["zip", "files"]), name="batch_source_valid"),
            models.CheckConstraint(condition=Q(sheet_format__in=["a4", "card"]), name="batch_sheet_format_valid"),
            models.CheckConstraint(
                condition=Q(progress_done__lte=models.F("progress_total")), name="batch_progress_in_range"
            ),
        ]

    def __str__(self) -> str:
        return self.original_name or str(self.uuid)

    def get_absolute_url(self) -> str:
        return reverse("portal:batch_detail", kwargs={"uuid": self.uuid})

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def can_confirm(self) -> bool:
        return self.status == self.Status.REVIEW


class BatchRow(models.Model):
    """One order of a batch: a photo, its videos and the customer's details."""

    class Status(models.TextChoices):
        INVALID = "invalid", _("Has errors")
        VALID = "valid", _("OK")
        EXISTS = "exists", _("Already uploaded")
        SKIPPED = "skipped", _("Skipped")
        QUEUED = "queued", _("Queued")
        PROCESSING = "processing", _("Processing")
        CREATED = "created", _("Created")
        FAILED = "failed", _("Failed")

    OPEN = (Status.QUEUED, Status.PROCESSING)

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="rows", verbose_name=_("batch"))
    # 1-based: the order's line in orders.csv, or its place in the file list.
    number = models.PositiveIntegerField(verbose_name=_("number"))
    # What makes an order the same order again: its reference, else its file names (casefolded).
    key = models.CharField(max_length=300, blank=True, verbose_name=_("key"))
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.VALID, verbose_name=_("status"))
    photo_name = models.CharField(max_length=500, blank=True, verbose_name=_("photo name"))
    video_names = models.JSONField(default=list, blank=True, verbose_name=_("video names"))
    # Staging names and validated facts of the files, so making the portrait repeats no check.
    staged = models.JSONField(default=dict, blank=True, verbose_name=_("staged"))
    title = models.CharField(max_length=200, blank=True, verbose_name=_("title"))
    customer_name = models.CharField(max_length=200, blank=True, verbose_name=_("customer name"))
    customer_phone = models.CharField(max_length=40, blank=True, verbose_name=_("customer phone"))
    customer_email = models.CharField(max_length=254, blank=True, verbose_name=_("customer email"))
    order_reference = models.CharField(max_length=100, blank=True, verbose_name=_("order reference"))
    published_at = models.DateTimeField(null=True, blank=True, verbose_name=_("published at"))
    expires_at = models.DateTimeField(null=True, blank=True, verbose_name=_("expires at"))
    # [{"code", "text"}]: what is wrong, in plain language; a row with errors is never made.
    errors = models.JSONField(default=list, blank=True, verbose_name=_("errors"))
    warnings = models.JSONField(default=list, blank=True, verbose_name=_("warnings"))
    needed_bytes = models.BigIntegerField(default=0, verbose_name=_("needed bytes"))
    # The portrait's UUID is chosen before it is made: a retried row finds the portrait it made
    # before it died instead of making a second one.
    portrait_uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("portrait uid"))
    # The portrait made from this row, or for an "already uploaded" row the one made before.
    portrait = models.ForeignKey(
        Portrait,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="batch_rows",
        verbose_name=_("portrait"),
    )
    claim_token = models.UUIDField(null=True, blank=True, editable=False, verbose_name=_("claim token"))
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    next_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next attempt at"))
    queued_at = models.DateTimeField(null=True, blank=True, verbose_name=_("queued at"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))

    class Meta:
        verbose_name = _("batch row")
        verbose_name_plural = _("batch rows")
        ordering = ["batch", "number"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "number"], name="batch_row_number_unique"),
            models.UniqueConstraint(fields=["batch", "key"], condition=~Q(key=""), name="batch_row_key_unique"),
            models.CheckConstraint(
                condition=Q(
                    status__in=["invalid", "valid", "exists", "skipped", "queued", "processing", "created", "failed"]
                ),
                name="batch_row_status_valid",
            ),
            models.CheckConstraint(condition=Q(number__gte=1), name="batch_row_number_from_one"),
            # A row with errors is never made into a portrait.
            models.CheckConstraint(
                condition=~Q(status__in=["queued", "processing", "created"]) | Q(errors=[]),
                name="batch_row_made_only_without_errors",
            ),
        ]
        indexes = [
            models.Index(
                fields=["status", "next_attempt_at"],
                condition=Q(status__in=["queued", "processing"]),
                name="batch_row_open_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.batch} #{self.number}"

    @property
    def live_status(self) -> str:
        """What the uploader follows: queued, processing, ready or failed (or the review state)."""
        if self.status == self.Status.CREATED and self.portrait is not None:
            return {
                Portrait.Status.READY: "ready",
                Portrait.Status.NEEDS_VIDEO: "ready",
                Portrait.Status.FAILED: "failed",
            }.get(self.portrait.status, "processing")
        return self.status

    @property
    def live_status_label(self) -> str:
        status = self.live_status
        if status in self.Status.values:
            return str(self.Status(status).label)
        return str({"ready": _("Ready"), "processing": _("Processing"), "failed": _("Failed")}[status])


class BatchPrintFile(models.Model):
    """A batch's print PDF in one layout, made by a worker and kept in staging for a while."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Being prepared")
        PROCESSING = "processing", _("Being prepared")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="print_files")
    sheet_format = models.CharField(max_length=8, choices=Batch.SheetFormat.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    name = models.CharField(max_length=500, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    pages = models.PositiveIntegerField(default=0)
    # Fingerprint of the viewer URLs printed in it: a changed URL (a new domain) makes it anew.
    urls_key = models.CharField(max_length=64, blank=True)
    error = models.CharField(max_length=500, blank=True)
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("batch print file")
        verbose_name_plural = _("batch print files")
        constraints = [
            models.UniqueConstraint(fields=["batch", "sheet_format"], name="one_print_file_per_batch_and_format"),
            models.CheckConstraint(condition=Q(sheet_format__in=["a4", "card"]), name="batch_print_format_valid"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "processing", "ready", "failed"]), name="batch_print_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.batch} ({self.sheet_format})"
