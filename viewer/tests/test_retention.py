"""Rolling raw view sessions up into daily totals: exactness, idempotency, concurrency, scheduling."""

import threading
from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum

from analytics import selectors as analytics
from analytics.selectors import DateRange, Scope
from arv.testing.analytics_data import NOW, RANGE, at, build, visit
from viewer.models import ViewSession, ViewSessionDaily
from viewer.retention import cutoff_day, rollup_view_sessions


@pytest.mark.django_db
def test_whole_days_before_the_cutoff_are_moved(data):
    assert cutoff_day(8, NOW) == date(2026, 3, 4)
    result = rollup_view_sessions(older_than_days=8, now=NOW)
    assert str(result) == "8 sessions of 3 days rolled up (7 daily rows created, 0 updated)"
    assert not ViewSession.objects.filter(created_at__lt=at(4, 0)).exists()
    assert ViewSession.objects.count() == 2  # s6 and s8
    assert ViewSessionDaily.objects.aggregate(n=Sum("sessions"))["n"] == 8
    row = ViewSessionDaily.objects.get(day=date(2026, 3, 2), portrait=data.pa1, os="iOS")  # s1 + s1b
    assert (row.sessions, row.found, row.timed, row.played, row.watch_seconds) == (2, 1, 1, 1, 20)
    assert (row.company_id, row.project_id, row.device_type, row.browser) == (
        data.tenants.a.pk,
        data.weddings.pk,
        "mobile",
        "Safari",
    )
    # Time to found 1000 ms: counted from the ≤1000 bound upwards (cumulative).
    assert (row.ttf_le_750, row.ttf_le_1000, row.ttf_le_60000) == (0, 1, 1)


@pytest.mark.django_db
def test_running_twice_changes_nothing(data):
    rollup_view_sessions(older_than_days=8, now=NOW)
    rows = list(ViewSessionDaily.objects.order_by("pk").values())
    again = rollup_view_sessions(older_than_days=8, now=NOW)
    assert (again.days, again.sessions, again.created, again.updated) == (0, 0, 0, 0)
    assert list(ViewSessionDaily.objects.order_by("pk").values()) == rows


@pytest.mark.django_db
def test_late_raw_rows_of_a_rolled_up_day_are_added_not_overwritten(data):
    rollup_view_sessions(older_than_days=8, now=NOW)
    visit(data.pa1, at(2, 20), ttf=200, watch=5)  # e.g. an import, after the day was rolled up
    result = rollup_view_sessions(older_than_days=8, now=NOW)
    assert (result.sessions, result.created, result.updated) == (1, 0, 1)
    row = ViewSessionDaily.objects.get(day=date(2026, 3, 2), portrait=data.pa1, os="iOS")
    assert (row.sessions, row.found, row.played, row.watch_seconds, row.ttf_le_250) == (3, 2, 2, 25, 1)
    assert analytics.summary(Scope(company=data.tenants.a), RANGE).sessions == 8


@pytest.mark.django_db
def test_retention_must_keep_today(data):
    with pytest.raises(ValueError, match="at least 1"):
        rollup_view_sessions(older_than_days=0, now=NOW)


@pytest.mark.django_db
def test_a_deleted_photo_takes_its_daily_totals_along(data):
    rollup_view_sessions(older_than_days=8, now=NOW)
    data.pa1.delete()
    assert not ViewSessionDaily.objects.filter(portrait_id=data.pa1.pk).exists()
    early = DateRange(date(2026, 3, 2), date(2026, 3, 3))
    assert analytics.summary(Scope(company=data.tenants.a), early).sessions == 2  # s3 and s5


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_count_every_session_once(tenants, make_portrait, settings):
    settings.TIME_ZONE = "UTC"
    data = build(tenants, make_portrait)
    for day in range(1, 4):  # more days and rows, so the runs overlap
        for hour in range(10):
            visit(data.pa2, at(day, hour), ttf=1000 + hour, watch=hour)
    expected = ViewSession.objects.filter(created_at__lt=at(4, 0)).count()
    results, errors = [], []

    def run():
        try:
            results.append(rollup_view_sessions(older_than_days=8, now=NOW))
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(r.sessions for r in results) == expected
    assert ViewSessionDaily.objects.aggregate(n=Sum("sessions"))["n"] == expected
    assert not ViewSession.objects.filter(created_at__lt=at(4, 0)).exists()


@pytest.mark.django_db
def test_command_and_scheduled_task(data, settings):
    from viewer.tasks import rollup_view_sessions as task

    settings.ANALYTICS_RAW_RETENTION_DAYS = 0
    assert task().startswith("retention off")
    out = StringIO()
    call_command("rollup_view_sessions", stdout=out)
    assert "Retention is off" in out.getvalue()
    assert ViewSessionDaily.objects.count() == 0

    # The data set is from March 2026, days before the real clock: keeping 1 day moves it all.
    out = StringIO()
    call_command("rollup_view_sessions", "--older-than-days", "1", stdout=out)
    assert "10 sessions of 5 days rolled up" in out.getvalue()
    settings.ANALYTICS_RAW_RETENTION_DAYS = 30
    assert task() == "0 sessions of 0 days rolled up (0 daily rows created, 0 updated)"


@pytest.mark.django_db
def test_the_job_is_scheduled_hourly():
    from django_q.models import Schedule

    call_command("setup_schedules", stdout=StringIO())
    schedule = Schedule.objects.get(func="viewer.tasks.rollup_view_sessions")
    assert schedule.schedule_type == Schedule.MINUTES and schedule.minutes == 60
