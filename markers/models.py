"""Processing jobs: markers (MindAR, AR.js NFT), image previews and video renditions.

One row per unit of work. A django-q2 task only carries the row's id; the row is the truth about
status, attempts and errors, so a lost task, a killed worker or a broker outage never loses work:
the sweeper finds rows that are due and queues them again.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from companies.storage import StoredFiles, TenantFileField
from content.models import Portrait, Video
from markers.arvm import compact_name


class JobQuerySet(models.QuerySet):
    def markers(self):
        return self.filter(kind__in=Job.MARKER_KINDS)

    def failed_since(self, since):
        return self.filter(status=Job.Status.FAILED, finished_at__gte=since)

    def due(self, now=None):
        """Pending jobs whose (back-off) time has come."""
        now = now or timezone.now()
        return self.filter(status=Job.Status.PENDING).filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
        )

    def stuck(self, older_than: timedelta, now=None):
        """Jobs a worker claimed and never finished (the worker was killed or hung)."""
        now = now or timezone.now()
        return self.filter(status=Job.Status.PROCESSING, started_at__lt=now - older_than)


class Job(StoredFiles, models.Model):
    FILE_FIELDS = ("output",)
    NAME_FIELDS = ("kind", "compact_version")
    COMPANY_ID = "portrait__company_id"
    PROJECT_ID = "portrait__project_id"
    BYTES_FIELD = "output_bytes"

    class Kind(models.TextChoices):
        MINDAR = "mindar", _("MindAR marker")
        NFT = "nft", _("AR.js NFT marker")
        PREVIEW = "preview", _("Photo preview")
        VIDEO = "video", _("Video processing")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        PROCESSING = "processing", _("Processing")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")

    MARKER_KINDS = (Kind.MINDAR, Kind.NFT)

    portrait = models.ForeignKey(Portrait, on_delete=models.CASCADE, related_name="jobs", verbose_name=_("portrait"))
    video = models.ForeignKey(
        Video, null=True, blank=True, on_delete=models.CASCADE, related_name="jobs", verbose_name=_("video")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PENDING)
    # The marker file (for NFT: the .iset; .fset and .fset3 sit next to it with the same stem).
    output = TenantFileField(_("output"), max_length=500, blank=True)
    output_bytes = models.BigIntegerField(default=0, verbose_name=_("output bytes"))
    # MindAR only: the format version of the compact marker (.arvm) stored next to the .mind, with
    # the same stem; 0 while it has none (made before the arv engine, until backfilled). Its bytes
    # are part of output_bytes, like the .fset and .fset3 of an NFT marker.
    compact_version = models.PositiveSmallIntegerField(default=0, verbose_name=_("compact version"))
    # Reuse key: the same input under the same compiler version gives the same marker.
    input_sha256 = models.CharField(max_length=64, blank=True, verbose_name=_("input sha256"))
    compiler_version = models.CharField(max_length=100, blank=True, verbose_name=_("compiler version"))
    report = models.JSONField(_("trackability report"), default=dict, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("duration ms"))
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    # For the client, in plain language; `error_detail` is for staff.
    error = models.CharField(_("error"), max_length=500, blank=True)
    error_detail = models.TextField(blank=True, verbose_name=_("error detail"))
    # Set when a worker claims the job; only the holder of the current token may finish it, so a
    # worker that was presumed dead and re-queued cannot overwrite its successor's result.
    claim_token = models.UUIDField(null=True, blank=True, editable=False, verbose_name=_("claim token"))
    reused_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("reused from")
    )
    queued_at = models.DateTimeField(default=timezone.now, verbose_name=_("queued at"))
    next_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next attempt at"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    objects = JobQuerySet.as_manager()

    class Meta:
        verbose_name = _("processing job")
        verbose_name_plural = _("processing jobs")
        ordering = ["-queued_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["portrait", "kind"], condition=~Q(kind="video"), name="one_job_per_portrait_and_kind"
            ),
            models.UniqueConstraint(fields=["video"], condition=Q(kind="video"), name="one_job_per_video"),
            models.CheckConstraint(
                condition=Q(kind="video", video__isnull=False) | (~Q(kind="video") & Q(video__isnull=True)),
                name="video_jobs_have_a_video",
            ),
        ]
        indexes = [
            # The sweeper's and the admin's working set: small, whatever the table's size.
            models.Index(
                fields=["status", "next_attempt_at"],
                condition=Q(status__in=["pending", "processing"]),
                name="job_open_idx",
            ),
            models.Index(fields=["kind", "input_sha256", "compiler_version"], name="job_reuse_idx"),
            models.Index(fields=["status", "finished_at"], name="job_status_finished_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.portrait_id} · {self.get_status_display()}"

    @property
    def company(self):
        return self.portrait.company

    def stored_names(self) -> list[str]:
        """Every stored file of this job (an NFT set is three files sharing a stem)."""
        if not self.output:
            return []
        if self.kind == self.Kind.NFT:
            stem = self.output.name.rsplit(".", 1)[0]
            return [f"{stem}.iset", f"{stem}.fset", f"{stem}.fset3"]
        if self.kind == self.Kind.MINDAR and self.compact_version:
            return [self.output.name, compact_name(self.output.name)]
        return [self.output.name]


class ProjectMarker(StoredFiles, models.Model):
    FILE_FIELDS = ("output",)
    COMPANY_ID = "project__company_id"
    PROJECT_ID = "project_id"
    BYTES_FIELD = "output_bytes"
    NAME_FIELDS = ("compact_version",)

    """One .mind with every live photo of a project as a target, for the album viewer.

    Rebuilt by merging the photos' own markers (no recompiling) whenever the set changes;
    ``source_key`` fingerprints the set, so a rebuild with nothing new is a no-op.
    """

    project = models.OneToOneField("companies.Project", on_delete=models.CASCADE, related_name="combined_marker")
    output = TenantFileField(_("output"), max_length=500, blank=True)
    output_bytes = models.BigIntegerField(default=0)
    # As Job.compact_version: the album's .arvm next to its .mind, counted in output_bytes.
    compact_version = models.PositiveSmallIntegerField(default=0)
    # Portrait UUIDs in target order: target i of the .mind file is targets[i].
    targets = models.JSONField(default=list)
    source_key = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("project marker")
        verbose_name_plural = _("project markers")

    def __str__(self) -> str:
        return f"{self.project} ({len(self.targets)} targets)"

    @property
    def company(self):
        return self.project.company

    def stored_names(self) -> list[str]:
        """Every stored file of the album marker: the .mind and, once made, its .arvm."""
        if not self.output:
            return []
        if self.compact_version:
            return [self.output.name, compact_name(self.output.name)]
        return [self.output.name]
