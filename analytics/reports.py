"""The monthly view report: last month's views of each company's photos, by e-mail and Telegram.

The figures come from the analytics selectors, so they stay right after old sessions are rolled
up; the message is created and delivered by ``companies.notifications`` like every other notice
(one per company and month, however often the daily job runs).
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

from django.db.models import Count
from django.utils import timezone

from analytics import selectors
from companies.models import Company, Notification
from companies.notifications import create, deliver_pending, in_company_language, render
from lib.periodic import RowFailures


def _previous_month(now: datetime, tz: zoneinfo.ZoneInfo) -> tuple[datetime, datetime]:
    local = now.astimezone(tz)
    end = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (end - timedelta(days=1)).replace(day=1)
    return start, end


def queue_monthly_reports(*, now: datetime | None = None) -> int:
    """Last month's "your photos were viewed N times" report, once per company and month.

    Counts come from the analytics selectors, so they stay right after old sessions are rolled up.
    """
    now = now or timezone.now()
    created = 0
    companies = (
        Company.objects.filter(is_active=True, monthly_report_opt_out=False)
        .annotate(photo_count=Count("portraits"))
        .filter(photo_count__gt=0)
    )
    rows = RowFailures("queue_monthly_reports")
    for company in companies:
        with rows.isolated(f"company {company.pk}"):
            start, end = _previous_month(now, zoneinfo.ZoneInfo(company.timezone))
            dates = selectors.DateRange(start.date(), (end - timedelta(days=1)).date())
            scope = selectors.Scope(company=company)
            views = selectors.summary(scope, dates).sessions
            top = [
                {"title": row.title, "views": row.totals.sessions}
                for row in selectors.top_portraits(scope, dates, limit=5)
            ]
            with in_company_language(company):
                message = render("monthly_report", {"company": company, "month": start, "views": views, "top": top})
            key = f"monthly_report:{company.pk}:{start:%Y-%m}"
            if create(company=company, kind=Notification.Kind.MONTHLY_REPORT, key=key, message=message):
                created += 1
    return created


def send_monthly_reports(*, now: datetime | None = None) -> dict:
    return {"created": queue_monthly_reports(now=now), "delivered": deliver_pending(now=now)}
