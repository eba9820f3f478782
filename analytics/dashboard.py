"""What a studio wants at a glance on the portal's first page: photos still processing or failed
(and why), this week's visits and how many found their photo, prints that are scanned but rarely
found, and what expires soon.

One read per block, the same number of queries whatever the company's size; the view numbers
come from the analytics selectors (analytics/selectors.py), so they match the analytics pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, Prefetch, Q
from django.utils import timezone

from analytics import selectors as analytics
from companies.models import Company, Project
from content.models import Portrait
from markers.models import Job

# How many photos each attention list shows (the count says how many there are in all).
ATTENTION_LIMIT = 8
VIEWS_DAYS = 7
# Prints need a few visits before "rarely found" means anything; a month gathers them.
RARELY_FOUND_DAYS = 30
RARELY_FOUND_MIN_SESSIONS = 5
RARELY_FOUND_BELOW_SHARE = 0.5
EXPIRING_DAYS = 30


@dataclass(frozen=True)
class Overview:
    processing: list[Portrait]
    processing_count: int
    # Each with ``failed_jobs``: the reasons, in plain language.
    failed: list[Portrait]
    failed_count: int
    views: analytics.Totals
    views_series: list[analytics.TimePoint]
    rarely_found: list[analytics.PortraitTotals]
    expiring_projects: list[Project]
    subscription_expiring: bool

    @property
    def needs_attention(self) -> bool:
        return bool(self.processing_count or self.failed_count)


def overview(company: Company) -> Overview:
    """Eight queries (seven when no print is rarely found)."""
    now = timezone.now()
    portraits = Portrait.objects.for_company(company)
    counts = portraits.aggregate(
        processing=Count("pk", filter=Q(status=Portrait.Status.PROCESSING)),
        failed=Count("pk", filter=Q(status=Portrait.Status.FAILED)),
    )
    recent = portraits.select_related("project").order_by("-created_at", "-id")
    processing = []
    if counts["processing"]:
        processing = list(recent.filter(status=Portrait.Status.PROCESSING)[:ATTENTION_LIMIT])
    failed = []
    if counts["failed"]:
        reasons = Job.objects.filter(status=Job.Status.FAILED).order_by("kind", "pk")
        failed = list(
            recent.filter(status=Portrait.Status.FAILED).prefetch_related(
                Prefetch("jobs", queryset=reasons, to_attr="failed_jobs")
            )[:ATTENTION_LIMIT]
        )
    scope = analytics.Scope(company=company)
    series = analytics.sessions_over_time(scope, analytics.DateRange.last(VIEWS_DAYS))
    rarely_found = analytics.rarely_found_portraits(
        scope,
        analytics.DateRange.last(RARELY_FOUND_DAYS),
        min_sessions=RARELY_FOUND_MIN_SESSIONS,
        below_share=RARELY_FOUND_BELOW_SHARE,
    )
    expiring = list(Project.objects.for_company(company).expiring_within(EXPIRING_DAYS).order_by("expires_at")[:10])
    renews_at = company.subscription_expires_at
    return Overview(
        processing=processing,
        processing_count=counts["processing"],
        failed=failed,
        failed_count=counts["failed"],
        views=sum((point.totals for point in series), analytics.Totals()),
        views_series=series,
        rarely_found=rarely_found,
        expiring_projects=expiring,
        subscription_expiring=bool(renews_at and renews_at <= now + timedelta(days=EXPIRING_DAYS)),
    )
