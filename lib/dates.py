"""Local days as aware datetimes: the day boundaries every count by day agrees on.

Days are the site's ``TIME_ZONE`` days. The analytics selectors, the retention rollup
(``viewer.retention``) and the processing-job figures (``markers.stats``) all cut days here, so a
session or a job falls on the same day in each of them.
"""

from __future__ import annotations

from datetime import date, datetime, time

from django.utils import timezone


def local_midnight(day: date) -> datetime:
    """The start of *day* in the site's time zone, as an aware datetime."""
    return datetime.combine(day, time.min, tzinfo=timezone.get_default_timezone())
