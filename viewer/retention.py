"""Retention: raw view sessions older than N days become daily totals.

Raw sessions grow by one row per visit and carry personal data (user agent, anonymised IP); the
dashboards only need their totals. ``ANALYTICS_RAW_RETENTION_DAYS`` (0: keep raw rows forever)
makes the scheduled job ``viewer.tasks.rollup_view_sessions`` add up every whole local day older
than that into :class:`~viewer.models.ViewSessionDaily` rows and delete the raw ones. What stays
exact after the rollup is listed on that model; ``analytics.selectors`` reads both tables.

Safety:

1. One day per transaction: the day's totals are written and its raw rows deleted together, so a
   session is in exactly one of the two tables at every moment, and a crash loses nothing.
2. Runs are serialised (a PostgreSQL advisory lock; SQLite transactions here begin IMMEDIATE and
   are serialisable anyway), and the second run finds the day's raw rows gone: running twice, or
   twice at once, adds nothing twice.
3. On PostgreSQL the day's raw rows are locked before being added up, so a late beacon report
   cannot change a row between the adding up and the delete (it waits, finds the session gone and
   starts a new one today).
4. Totals are *added* to an existing row of the same day and key, so raw rows that appear for an
   already rolled-up day (an import, a changed ``TIME_ZONE``) are merged, not overwritten.
5. A day that cannot be rolled up (inconsistent rows break its unique key) is logged and left
   raw, and the run goes on with the next day; the next run tries it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Count, Min, Q, Sum
from django.utils import timezone

from lib.dates import local_midnight
from lib.periodic import RowFailures
from viewer.models import (
    FELL_BACK,
    TIME_TO_FOUND_BUCKETS_MS,
    TIMED,
    TTF_BUCKET_FIELDS,
    VIDEO_ONLY,
    ViewSession,
    ViewSessionDaily,
)

# pg_advisory_xact_lock key: any constant no other code uses ("ARVROLL" in hex, more or less).
ADVISORY_LOCK_KEY = 0x4152_5652_4F4C_4C

KEY_FIELDS = ("company", "project", "portrait", "device_type", "os", "browser")
# The unique key of a ViewSessionDaily row within its day (the company follows from the project).
_ROW_KEY = ("project_id", "portrait_id", "device_type", "os", "browser")
_COUNTERS = ("sessions", "found", "timed", "played", "watch_seconds", "fell_back", "video_only", *TTF_BUCKET_FIELDS)


@dataclass(frozen=True)
class RollupResult:
    days: int = 0
    sessions: int = 0
    created: int = 0
    updated: int = 0
    failed_days: int = 0

    def __str__(self) -> str:
        text = (
            f"{self.sessions} sessions of {self.days} days rolled up "
            f"({self.created} daily rows created, {self.updated} updated)"
        )
        return text + (f"; {self.failed_days} days failed and stay raw (see the log)" if self.failed_days else "")


def cutoff_day(older_than_days: int, now: datetime | None = None) -> date:
    """The first local day kept raw: every day before it is rolled up."""
    if older_than_days < 1:
        raise ValueError("older_than_days must be at least 1: today's sessions are still being written.")
    today = timezone.localdate(now or timezone.now(), timezone=timezone.get_default_timezone())
    return today - timedelta(days=older_than_days)


def rollup_view_sessions(*, older_than_days: int, now: datetime | None = None) -> RollupResult:
    """Roll up every whole local day before ``today - older_than_days``, oldest first."""
    keep_from = local_midnight(cutoff_day(older_than_days, now))
    days = sessions = created = updated = 0
    failures = RowFailures("rollup_view_sessions")
    pending = ViewSession.objects.filter(created_at__lt=keep_from)
    while True:
        oldest = pending.aggregate(first=Min("created_at"))["first"]
        if oldest is None:
            break
        day = timezone.localdate(oldest, timezone=timezone.get_default_timezone())
        with failures.isolated(f"day {day}"):
            n, c, u = rollup_day(day)
            days, sessions, created, updated = days + (n > 0), sessions + n, created + c, updated + u
        # Strictly later days only: a day whose rows stayed (it failed) is never looked at twice.
        pending = pending.filter(created_at__gte=local_midnight(day + timedelta(days=1)))
    return RollupResult(days, sessions, created, updated, failures.count)


def rollup_day(day: date) -> tuple[int, int, int]:
    """Add up and delete the raw sessions of one local day: (sessions, rows created, rows updated)."""
    rows = ViewSession.objects.between(local_midnight(day), local_midnight(day + timedelta(days=1)))
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
            # Locked until commit; another run waiting on the advisory lock then finds none of them.
            list(rows.select_for_update().values_list("pk", flat=True))
        groups = list(
            rows.values(*KEY_FIELDS)
            .annotate(
                n_sessions=Count("pk"),
                n_found=Count("pk", filter=Q(found=True)),
                n_timed=Count("pk", filter=TIMED),
                n_played=Count("pk", filter=Q(video_played=True)),
                n_watch_seconds=Sum("watch_seconds", filter=Q(video_played=True)),
                n_fell_back=Count("pk", filter=FELL_BACK),
                n_video_only=Count("pk", filter=VIDEO_ONLY),
                **{
                    f"n_{f}": Count("pk", filter=TIMED & Q(time_to_found_ms__lte=bound))
                    for f, bound in zip(TTF_BUCKET_FIELDS, TIME_TO_FOUND_BUCKETS_MS, strict=True)
                },
            )
            .order_by()
        )
        if not groups:
            return 0, 0, 0
        existing = {tuple(getattr(row, f) for f in _ROW_KEY): row for row in ViewSessionDaily.objects.filter(day=day)}
        new, changed = [], []
        for group in groups:
            key = (group["project"], group["portrait"], group["device_type"], group["os"], group["browser"])
            row = existing.get(key)
            if row is None:
                row = ViewSessionDaily(
                    day=day,
                    company_id=group["company"],
                    project_id=group["project"],
                    portrait_id=group["portrait"],
                    device_type=group["device_type"],
                    os=group["os"],
                    browser=group["browser"],
                )
                new.append(row)
            else:
                changed.append(row)
            for counter in _COUNTERS:
                setattr(row, counter, getattr(row, counter) + (group[f"n_{counter}"] or 0))
        ViewSessionDaily.objects.bulk_create(new, batch_size=500)
        ViewSessionDaily.objects.bulk_update(changed, list(_COUNTERS), batch_size=500)
        deleted, _ = rows.delete()
    return deleted, len(new), len(changed)
