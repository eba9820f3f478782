"""View sessions: one row per visit of a viewer page, filled in by the page's beacon.

Raw sessions may be rolled up into :class:`ViewSessionDaily` after a while (see
``viewer.retention``); ``analytics.selectors`` reads both, so numbers do not change at the boundary.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from companies.models import Company, Project
from content.models import Portrait


class ViewSessionQuerySet(models.QuerySet):
    def in_scope(self, *, company=None, project=None, portrait=None):
        """Sessions of one company, project or portrait; all of them when every argument is None."""
        lookups = {"company": company, "project": project, "portrait": portrait}
        return self.filter(**{k: v for k, v in lookups.items() if v is not None})

    def between(self, start, end):
        """Sessions created in [start, end): aware datetimes, end exclusive."""
        return self.filter(created_at__gte=start, created_at__lt=end)


class ViewSession(models.Model):
    class Device(models.TextChoices):
        MOBILE = "mobile", _("Phone")
        TABLET = "tablet", _("Tablet")
        DESKTOP = "desktop", _("Computer")
        OTHER = "other", _("Other")

    class Engine(models.TextChoices):
        MINDAR = "mindar", "MindAR"
        NFT = "nft", "AR.js NFT"
        ARV = "arv", "ARV"
        FALLBACK = "fallback", _("Video only")

    # Made by the browser for this page load; the beacon's later posts update the same row.
    session_id = models.UUIDField(unique=True, verbose_name=_("session id"))
    # No single-column indexes: each of these leads a composite index below, which serves the
    # same lookups (and cascades); every beacon update would otherwise write three more indexes.
    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="view_sessions", db_index=False, verbose_name=_("company")
    )
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="view_sessions", db_index=False, verbose_name=_("project")
    )
    portrait = models.ForeignKey(
        Portrait, on_delete=models.CASCADE, related_name="view_sessions", db_index=False, verbose_name=_("portrait")
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    user_agent = models.CharField(max_length=400, blank=True, verbose_name=_("user agent"))
    device_type = models.CharField(
        max_length=10, choices=Device.choices, default=Device.OTHER, verbose_name=_("device type")
    )
    browser = models.CharField(max_length=50, blank=True, verbose_name=_("browser"))
    os = models.CharField(max_length=50, blank=True, verbose_name=_("os"))
    # Anonymised (last octet / last 80 bits zeroed) or empty, per VIEWER_IP_STORAGE.
    ip_address = models.GenericIPAddressField(null=True, blank=True, verbose_name=_("ip address"))
    # Which engine served the visit, on which of its variants (MindAR: TensorFlow.js on "webgl2"
    # or "webgl1"), after how many failed attempts of the page's fallback chain (0: the first
    # choice worked); engine "fallback" is the video alone, after every engine failed.
    engine = models.CharField(max_length=10, choices=Engine.choices, default=Engine.MINDAR, verbose_name=_("engine"))
    variant = models.CharField(max_length=20, blank=True, verbose_name=_("variant"))
    fallbacks = models.PositiveSmallIntegerField(default=0, verbose_name=_("fallbacks"))
    duration_seconds = models.PositiveIntegerField(default=0, verbose_name=_("duration seconds"))
    found = models.BooleanField(default=False, verbose_name=_("found"))
    time_to_found_ms = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("time to found ms"))
    video_played = models.BooleanField(default=False, verbose_name=_("video played"))
    watch_seconds = models.PositiveIntegerField(default=0, verbose_name=_("watch seconds"))
    error = models.CharField(max_length=40, blank=True, verbose_name=_("error"))

    objects = ViewSessionQuerySet.as_manager()

    class Meta:
        verbose_name = _("view session")
        verbose_name_plural = _("view sessions")
        ordering = ["-created_at"]
        indexes = [
            # The dashboards' index: a company's sessions in a date range, with every column the
            # analytics read, so PostgreSQL answers a year of a big company from the index alone
            # (an index-only scan reads a third of what the table would; see docs/benchmarks.md).
            # It serves everything the plain (company, created_at) index it replaces did.
            models.Index(
                fields=[
                    "company",
                    "created_at",
                    "project",
                    "portrait",
                    "device_type",
                    "os",
                    "browser",
                    "found",
                    "time_to_found_ms",
                    "video_played",
                    "watch_seconds",
                    "engine",
                    "fallbacks",
                ],
                name="viewsession_company_stats_idx",
            ),
            models.Index(fields=["project", "created_at"], name="viewsession_project_time_idx"),
            models.Index(fields=["portrait", "created_at"], name="viewsession_portrait_time_idx"),
            models.Index(fields=["created_at"], name="viewsession_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.portrait_id} @ {self.created_at:%Y-%m-%d %H:%M}"


# Bounds (ms) of the time-to-found histogram kept by the daily rollup. A median over rolled-up
# days is interpolated inside one bucket, so the bounds are tight where most finds happen (the
# first seconds) and loose in the long tail.
# Sessions whose time to found counts: found, and the page reported how long it took.
TIMED = models.Q(found=True, time_to_found_ms__isnull=False)
# Sessions that needed the fallback chain, and those that ended with the video alone.
FELL_BACK = models.Q(fallbacks__gt=0) | models.Q(engine="fallback")
VIDEO_ONLY = models.Q(engine="fallback")
TIME_TO_FOUND_BUCKETS_MS = (250, 500, 750, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 7500, 10000, 15000, 30000, 60000)
# Cumulative columns: ``ttf_le_500`` counts the timed sessions found within 500 ms. Cumulative
# counts add up across rows just like plain ones, and the raw side gets the same numbers from
# one conditional COUNT per bound; sessions above the last bound are ``timed - ttf_le_60000``.
TTF_BUCKET_FIELDS = tuple(f"ttf_le_{bound}" for bound in TIME_TO_FOUND_BUCKETS_MS)


class ViewSessionDailyQuerySet(models.QuerySet):
    def in_scope(self, *, company=None, project=None, portrait=None):
        lookups = {"company": company, "project": project, "portrait": portrait}
        return self.filter(**{k: v for k, v in lookups.items() if v is not None})

    def between(self, start, end):
        """Days in [start, end]: dates, both inclusive."""
        return self.filter(day__gte=start, day__lte=end)


class ViewSessionDaily(models.Model):
    """Raw view sessions of one local day, one portrait and one device/OS/browser, added up.

        Written only by ``viewer.retention.rollup_view_sessions``, which deletes the raw rows it adds
        up in the same transaction, so a session is always counted in exactly one of the two tables.

        What stays exact after the rollup: sessions, the share found, the video play rate, the average
        watch time, the device/OS/browser breakdown, how many sessions needed the fallback chain (and how
    many ended with the video alone), top portraits and views per day/week/month. What
        does not: the median time to found, which is interpolated from the ``ttf_*`` histogram (error
        at most the width of the bucket holding the median); and the session's engine, duration,
        variant, error, user agent and IP address, which are dropped.
    """

    day = models.DateField(verbose_name=_("day"))
    # No single-column indexes: the composite ones below start with each of these.
    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="+", db_index=False, verbose_name=_("company")
    )
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="+", db_index=False, verbose_name=_("project")
    )
    portrait = models.ForeignKey(
        Portrait, on_delete=models.CASCADE, related_name="+", db_index=False, verbose_name=_("portrait")
    )
    device_type = models.CharField(max_length=10, choices=ViewSession.Device.choices, verbose_name=_("device type"))
    browser = models.CharField(max_length=50, blank=True, verbose_name=_("browser"))
    os = models.CharField(max_length=50, blank=True, verbose_name=_("os"))
    sessions = models.PositiveIntegerField(default=0, verbose_name=_("sessions"))
    found = models.PositiveIntegerField(default=0, verbose_name=_("found"))
    # Found sessions that reported a time to found: the population of the ``ttf_le_*`` histogram.
    timed = models.PositiveIntegerField(default=0, verbose_name=_("timed"))
    played = models.PositiveIntegerField(default=0, verbose_name=_("played"))
    # Total over the sessions that played the video (the average watch time is over those).
    watch_seconds = models.BigIntegerField(default=0, verbose_name=_("watch seconds"))
    # Sessions that needed the fallback chain (an engine or variant failed first), and those of
    # them left with the video alone.
    fell_back = models.PositiveIntegerField(default=0, verbose_name=_("fell back"))
    video_only = models.PositiveIntegerField(default=0, verbose_name=_("video only"))

    objects = ViewSessionDailyQuerySet.as_manager()

    class Meta:
        verbose_name = _("daily view totals")
        verbose_name_plural = _("daily view totals")
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(
                fields=["day", "portrait", "project", "device_type", "os", "browser"], name="viewsessiondaily_key"
            ),
        ]
        indexes = [
            # Like ViewSession's viewsession_company_stats_idx: every column a dashboard reads, in
            # the order its busiest query groups by, so a year of a big company is an index-only
            # scan with no sort (4× faster than the heap in the benchmark). Rows are written once,
            # by the rollup, so the width costs disk but no extra writes on the hot path.
            models.Index(
                fields=[
                    "company",
                    "day",
                    "device_type",
                    "os",
                    "browser",
                    "portrait",
                    "project",
                    "sessions",
                    "found",
                    "timed",
                    "played",
                    "watch_seconds",
                    "fell_back",
                    "video_only",
                    *TTF_BUCKET_FIELDS,
                ],
                name="viewdaily_company_stats_idx",
            ),
            models.Index(fields=["project", "day"], name="viewdaily_project_day_idx"),
            models.Index(fields=["portrait", "day"], name="viewdaily_portrait_day_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.portrait_id} @ {self.day:%Y-%m-%d}: {self.sessions}"


# One column per histogram bucket, from the single list of bounds above.
for _bound, _field in zip(TIME_TO_FOUND_BUCKETS_MS, TTF_BUCKET_FIELDS, strict=True):
    ViewSessionDaily.add_to_class(
        _field, models.PositiveIntegerField(default=0, verbose_name=format_lazy(_("found within {} ms"), _bound))
    )
del _bound, _field
