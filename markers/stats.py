"""Staff figures of the processing jobs: how many finished and failed, and how long they took.

Read by the staff analytics page (``analytics.admin_views``). Only the jobs table is read; days
are the site's local days (``lib.dates``), as in the view analytics.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from lib.dates import local_midnight
from lib.stats import percentiles
from markers.models import Job


class Days(Protocol):
    """Local dates, both inclusive (``analytics.selectors.DateRange`` is one)."""

    start: date
    end: date


@dataclass(frozen=True)
class JobKindStats:
    kind: str
    finished: int
    failed: int
    # Jobs that reused an identical earlier marker instead of compiling: excluded from the times.
    reused: int
    p50_ms: float | None
    p95_ms: float | None

    @property
    def failure_share(self) -> float | None:
        return self.failed / self.finished if self.finished else None


@dataclass(frozen=True)
class JobStats:
    kinds: list[JobKindStats]
    failures_per_day: list[tuple[date, int]]


def processing_job_stats(dates: Days) -> JobStats:
    """Staff: per job kind, jobs finished in the range, failures, and p50/p95 processing times.

    Three queries. A job row holds its latest run only (re-runs overwrite it), so these are the
    jobs whose latest run finished in the range. Times are over successful, non-reused runs.
    """
    start, end = local_midnight(dates.start), local_midnight(dates.end + timedelta(days=1))
    finished = Job.objects.filter(finished_at__gte=start, finished_at__lt=end)
    counts = {
        row["kind"]: row
        for row in finished.filter(status__in=[Job.Status.READY, Job.Status.FAILED])
        .values("kind")
        .annotate(
            n=Count("pk"),
            failed=Count("pk", filter=Q(status=Job.Status.FAILED)),
            reused=Count("pk", filter=Q(status=Job.Status.READY, reused_from__isnull=False)),
        )
        .order_by()
    }
    compiled = finished.filter(status=Job.Status.READY, reused_from__isnull=True)
    quantiles = percentiles(compiled, "duration_ms", (0.5, 0.95), partition="kind")
    kinds = [
        JobKindStats(
            kind=kind,
            finished=counts.get(kind, {}).get("n", 0),
            failed=counts.get(kind, {}).get("failed", 0),
            reused=counts.get(kind, {}).get("reused", 0),
            p50_ms=quantiles.get(kind, {}).get(0.5),
            p95_ms=quantiles.get(kind, {}).get(0.95),
        )
        for kind in Job.Kind.values
    ]
    failures = dict(
        finished.filter(status=Job.Status.FAILED)
        .annotate(day=TruncDate("finished_at", tzinfo=timezone.get_default_timezone()))
        .values("day")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("day", "n")
    )
    days = [dates.start + timedelta(days=i) for i in range((dates.end - dates.start).days + 1)]
    return JobStats(kinds, [(day, failures.get(day, 0)) for day in days])
