"""Every metric on the hand-made data set of ``analytics_data`` (known answers are worked out there)."""

from dataclasses import asdict
from datetime import date

import pytest

from analytics import selectors as analytics
from analytics.selectors import DateRange, Scope, Totals
from arv.testing.analytics_data import NOW, RANGE, at, visit
from viewer.retention import rollup_view_sessions


def company(data):
    return Scope(company=data.tenants.a)


@pytest.mark.django_db
def test_summary_of_a_company(data):
    s = analytics.summary(company(data), RANGE)
    assert (s.sessions, s.found, s.timed, s.played, s.watch_seconds) == (7, 5, 5, 3, 60)
    assert s.found_share == pytest.approx(5 / 7)
    assert s.play_rate == pytest.approx(3 / 7)
    assert s.average_watch_seconds == 20
    assert s.median_time_to_found_ms == 2000
    assert s.median_is_exact


@pytest.mark.django_db
def test_median_of_an_even_count_is_the_mean_of_the_middle_two(data):
    assert analytics.summary(Scope(project=data.weddings), RANGE).median_time_to_found_ms == 2500
    assert analytics.summary(Scope(), RANGE).median_time_to_found_ms == 1500
    assert analytics.median_time_to_found(Scope(), RANGE) == (1500, True)


@pytest.mark.django_db
def test_project_portrait_and_platform_scopes(data):
    p = analytics.summary(Scope(project=data.weddings), RANGE)
    assert (p.sessions, p.found, p.played) == (6, 4, 2)
    one = analytics.summary(Scope(portrait=data.pa1), RANGE)
    assert (one.sessions, one.found, one.played, one.median_time_to_found_ms) == (4, 3, 2, 2000)
    assert one.average_watch_seconds == 15
    everyone = analytics.summary(Scope(), RANGE)
    assert (everyone.sessions, everyone.found, everyone.played) == (8, 6, 4)
    assert analytics.summary(Scope(company=data.tenants.b), RANGE).sessions == 1


@pytest.mark.django_db
def test_nothing_to_measure_gives_none_not_zero(data):
    empty = analytics.summary(company(data), DateRange(date(2025, 1, 1), date(2025, 1, 31)))
    assert empty.sessions == 0
    assert empty.found_share is None and empty.play_rate is None and empty.average_watch_seconds is None
    assert empty.median_time_to_found_ms is None


@pytest.mark.django_db
def test_breakdowns(data):
    b = analytics.breakdowns(company(data), RANGE)
    assert [(s.value, s.sessions) for s in b.devices] == [("mobile", 5), ("desktop", 1), ("tablet", 1)]
    assert [(s.value, s.sessions) for s in b.systems] == [("iOS", 4), ("Android", 2), ("Windows", 1)]
    assert [(s.value, s.sessions) for s in b.browsers] == [("Safari", 4), ("Chrome", 3)]
    assert b.devices[0].share == pytest.approx(5 / 7)


@pytest.mark.django_db
def test_sessions_per_day_week_and_month(data):
    days = analytics.sessions_over_time(company(data), RANGE, bucket="day")
    assert [p.start for p in days] == [date(2026, 3, d) for d in range(1, 11)]
    assert [p.totals.sessions for p in days] == [0, 4, 2, 0, 0, 0, 0, 0, 1, 0]
    assert days[1].totals == Totals(sessions=4, found=2, timed=2, played=1, watch_seconds=20)
    # Weeks start on Monday: 1 March 2026 is a Sunday, so the first week starts in February.
    weeks = analytics.sessions_over_time(company(data), RANGE, bucket="week")
    assert [(p.start, p.totals.sessions) for p in weeks] == [
        (date(2026, 2, 23), 0),
        (date(2026, 3, 2), 6),
        (date(2026, 3, 9), 1),
    ]
    months = analytics.sessions_over_time(
        company(data), DateRange(date(2026, 1, 15), date(2026, 3, 10)), bucket="month"
    )
    assert [(p.start, p.totals.sessions) for p in months] == [
        (date(2026, 1, 1), 0),
        (date(2026, 2, 1), 1),  # s7, on 28 February
        (date(2026, 3, 1), 7),
    ]


@pytest.mark.django_db
def test_days_are_local_days(data, settings):
    # 02:00 UTC on 3 March is still 2 March in New York.
    settings.TIME_ZONE = "America/New_York"
    visit(data.pa3, at(3, 2))
    days = analytics.sessions_over_time(Scope(portrait=data.pa3), RANGE)
    assert [p.totals.sessions for p in days][:3] == [0, 1, 1]


@pytest.mark.django_db
def test_top_portraits(data):
    top = analytics.top_portraits(company(data), RANGE)
    assert [(p.title, p.project_name, p.totals.sessions) for p in top] == [
        ("Anna & Boris", "Weddings", 4),
        ("Clara", "Weddings", 2),
        ("Dima", "Birthdays", 1),
    ]
    assert top[0].unique_id == str(data.pa1.unique_id)
    assert [p.title for p in analytics.top_portraits(company(data), RANGE, limit=1)] == ["Anna & Boris"]
    assert [p.title for p in analytics.top_portraits(Scope(project=data.birthdays), RANGE)] == ["Dima"]


@pytest.mark.django_db
def test_prints_scanned_but_rarely_found(data):
    # pa1: 4 sessions, 3 found (75%); pa2: 2 sessions, 1 found (50%); pa3: 1 session, found.
    def rarely(scope, **kwargs):
        return [
            (p.title, p.totals.sessions, p.totals.found)
            for p in analytics.rarely_found_portraits(scope, RANGE, **kwargs)
        ]

    assert rarely(company(data), min_sessions=2, below_share=0.6) == [("Clara", 2, 1)]
    assert rarely(company(data), min_sessions=2, below_share=0.8) == [("Anna & Boris", 4, 3), ("Clara", 2, 1)]
    assert rarely(company(data), min_sessions=2, below_share=0.8, limit=1) == [("Anna & Boris", 4, 3)]
    assert rarely(company(data), min_sessions=5, below_share=1) == []  # nobody was scanned five times
    assert rarely(Scope(project=data.birthdays), min_sessions=1, below_share=1) == []  # Dima was found
    # Company B's found session is not Alpha's.
    assert rarely(Scope(company=data.tenants.b), min_sessions=1, below_share=1) == []


@pytest.mark.django_db
def test_top_companies_for_staff(data):
    top = analytics.top_companies(RANGE)
    assert [(c.name, c.totals.sessions) for c in top] == [("Alpha Studio", 7), ("Beta Prints", 1)]


@pytest.mark.django_db
def test_dashboard_puts_it_together_and_serialises(data):
    d = analytics.dashboard(company(data), RANGE, bucket="week")
    assert d.summary.sessions == 7 and len(d.series) == 3 and len(d.top_portraits) == 3
    assert asdict(d)["summary"]["median_time_to_found_ms"] == 2000
    assert analytics.dashboard(Scope(portrait=data.pa1), RANGE).top_portraits == []


@pytest.mark.django_db
def test_export_rows_per_portrait_and_day(data):
    rows = [(day, p.title, p.totals.sessions) for day, p in analytics.portrait_rows(company(data), RANGE)]
    assert rows == [
        (date(2026, 3, 2), "Anna & Boris", 3),
        (date(2026, 3, 2), "Clara", 1),
        (date(2026, 3, 3), "Anna & Boris", 1),
        (date(2026, 3, 3), "Dima", 1),
        (date(2026, 3, 9), "Clara", 1),
    ]


def test_a_scope_is_one_thing_and_a_range_goes_forward():
    with pytest.raises(ValueError, match="one company"):
        Scope(company=1, project=2)
    with pytest.raises(ValueError, match="after"):
        DateRange(date(2026, 3, 2), date(2026, 3, 1))
    assert DateRange.last(7, today=date(2026, 3, 10)) == DateRange(date(2026, 3, 4), date(2026, 3, 10))


def test_interpolated_median():
    # Ten values: four up to 250 ms, four in (250, 500], two in (500, 750]: the 5th value is the
    # first of the second bucket; interpolation puts the median 1/4 into it.
    cumulative = [4, 8, 10, *[10] * 12]
    assert analytics.interpolate_median(cumulative, 10) == pytest.approx(250 + 250 * 1 / 4)
    # Everything beyond the last bound: the bound is the answer (at least a minute).
    assert analytics.interpolate_median([0] * 15, 3) == 60000


# --- Across the rollup boundary -----------------------------------------------------------------


@pytest.mark.django_db
def test_every_exact_metric_is_unchanged_by_the_rollup(data):
    scopes = [company(data), Scope(project=data.weddings), Scope(portrait=data.pa1), Scope()]
    before = {
        scope: (
            analytics.summary(scope, RANGE),
            analytics.breakdowns(scope, RANGE),
            [analytics.sessions_over_time(scope, RANGE, bucket=b) for b in analytics.BUCKETS],
            analytics.top_portraits(scope, RANGE),
            list(analytics.portrait_rows(scope, RANGE)),
            analytics.rarely_found_portraits(scope, RANGE, min_sessions=2, below_share=0.8),
        )
        for scope in scopes
    }
    result = rollup_view_sessions(older_than_days=8, now=NOW)
    assert (result.days, result.sessions, result.created, result.updated) == (3, 8, 7, 0)
    for scope in scopes:
        summary, breakdowns, series, top, rows, rarely = before[scope]
        after = analytics.summary(scope, RANGE)
        totals = ("sessions", "found", "timed", "played", "watch_seconds")
        assert [getattr(after, f) for f in totals] == [getattr(summary, f) for f in totals]
        assert analytics.breakdowns(scope, RANGE) == breakdowns
        assert [analytics.sessions_over_time(scope, RANGE, bucket=b) for b in analytics.BUCKETS] == series
        assert analytics.top_portraits(scope, RANGE) == top
        assert list(analytics.portrait_rows(scope, RANGE)) == rows
        assert analytics.rarely_found_portraits(scope, RANGE, min_sessions=2, below_share=0.8) == rarely


@pytest.mark.django_db
def test_the_median_across_the_boundary_is_interpolated_in_the_bucket(data):
    rollup_view_sessions(older_than_days=8, now=NOW)
    s = analytics.summary(company(data), RANGE)
    # Rolled up: 500, 1000, 2000, 3000; raw: 4000. Cumulative ≤1500: 2, ≤2000: 3, so the median
    # (rank 2.5 of 5) is half-way into (1500, 2000]: 1750, where the exact median is 2000.
    assert s.median_time_to_found_ms == 1750
    assert not s.median_is_exact
    assert analytics.median_time_to_found(company(data), RANGE) == (1750, False)
    # Only raw days in the range: exact again.
    later = DateRange(date(2026, 3, 4), date(2026, 3, 10))
    assert analytics.summary(company(data), later).median_time_to_found_ms == 4000
    assert analytics.summary(company(data), later).median_is_exact


@pytest.mark.django_db
def test_a_range_of_only_rolled_up_days(data):
    rollup_view_sessions(older_than_days=8, now=NOW)
    early = DateRange(date(2026, 3, 2), date(2026, 3, 3))
    s = analytics.summary(company(data), early)
    assert (s.sessions, s.found, s.played, s.average_watch_seconds) == (6, 4, 3, 20)
    # 500, 1000, 2000, 3000: rank 2 reaches ≤1000 exactly → the top of (750, 1000].
    assert s.median_time_to_found_ms == 1000


# --- The viewer's fallback chain ------------------------------------------------------------------


def _fallback_visits(data):
    """On top of the data set: three iPhone Safari visits, one served by MindAR on WebGL 1 after
    WebGL 2 failed, one left with the video alone; one Android Chrome visit that needed nothing."""
    visit(data.pa1, at(2, 16), ttf=1500, engine="mindar", variant="webgl1", fallbacks=1)
    visit(data.pa1, at(2, 17), engine="fallback", variant="", fallbacks=2)
    visit(data.pa2, at(3, 16), ttf=1200, engine="mindar", variant="webgl2", fallbacks=0)
    visit(data.pa2, at(9, 16), os="Android", browser="Chrome", ttf=900, variant="webgl2")


@pytest.mark.django_db
def test_fallbacks_per_browser_and_os_survive_the_rollup(data):
    _fallback_visits(data)
    before = analytics.dashboard(company(data), RANGE)
    assert (before.summary.sessions, before.summary.fell_back, before.summary.video_only) == (11, 2, 1)
    assert before.summary.fallback_share == pytest.approx(2 / 11)
    assert [
        (r.browser, r.os, r.totals.sessions, r.totals.fell_back, r.totals.video_only) for r in before.fallbacks
    ] == [("Safari", "iOS", 7, 2, 1)]
    # Another company's fallbacks are not in this one's dashboard.
    assert analytics.dashboard(Scope(company=data.tenants.b), RANGE).fallbacks == []

    rollup_view_sessions(older_than_days=8, now=NOW)  # 03-02 and 03-03 become daily totals
    after = analytics.dashboard(company(data), RANGE)
    assert after.fallbacks == before.fallbacks
    assert (after.summary.fell_back, after.summary.video_only) == (2, 1)
