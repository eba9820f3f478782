"""The portal's analytics pages and CSV exports: tenancy, figures, query counts, bad ranges."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from analytics.views import spreadsheet_safe
from arv.testing.analytics_data import NOW, at, visit
from viewer.retention import rollup_view_sessions

RANGE_QUERY = {"start": "2026-03-01", "end": "2026-03-10"}


def urls(data):
    """Every analytics URL of company A: (name, url)."""
    return [
        ("company", reverse("portal:analytics")),
        ("company csv", reverse("portal:analytics_csv")),
        ("project", reverse("portal:project_analytics", args=[data.weddings.slug])),
        ("project csv", reverse("portal:project_analytics_csv", args=[data.weddings.slug])),
        ("portrait", reverse("portal:portrait_analytics", args=[data.pa1.unique_id])),
        ("portrait csv", reverse("portal:portrait_analytics_csv", args=[data.pa1.unique_id])),
    ]


def read_csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


# --- Access -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_log_in(client, data):
    for name, url in urls(data):
        response = client.get(url)
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("login")), name


@pytest.mark.django_db
def test_another_companys_project_and_photo_are_404(client_for, data):
    client = client_for(data.tenants.outsider)  # owner of company B
    for name, url in urls(data):
        if name.startswith("company"):
            continue  # their own company's dashboard: not A's data (checked below)
        assert client.get(url, RANGE_QUERY).status_code == 404, name
    response = client.get(reverse("portal:analytics"), RANGE_QUERY)
    assert response.context["summary"].sessions == 1
    assert "Anna &amp; Boris" not in response.content.decode()


@pytest.mark.django_db
def test_every_member_may_read_analytics_including_viewers(client_for, data):
    client = client_for(data.tenants.viewer)
    for name, url in urls(data):
        assert client.get(url, RANGE_QUERY).status_code == 200, name


@pytest.mark.django_db
def test_posting_is_not_allowed(client_for, data):
    client = client_for(data.tenants.owner)
    assert client.post(reverse("portal:analytics")).status_code == 405


# --- Content ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_company_dashboard_shows_the_figures(client_for, data):
    response = client_for(data.tenants.owner).get(reverse("portal:analytics"), RANGE_QUERY)
    assert response.status_code == 200
    page = response.content.decode()
    s = response.context["summary"]
    assert (s.sessions, s.found, s.median_time_to_found_ms) == (7, 5, 2000)
    assert "71%" in page  # found share 5/7
    assert "2.0 s" in page  # median time to found
    assert "20.0 s" in page  # average watch time
    assert page.count('class="chart-bar"') == 10  # one bar per day
    assert "March 2, 2026: 4 sessions" in page  # a bar's tooltip
    assert "43%" in page  # play rate 3/7, rounded
    assert 'role="img"' in page and "<desc" in page
    assert "Anna &amp; Boris" in page and "Birthdays" in page  # top photos, with their project
    assert reverse("portal:portrait_analytics", args=[data.pa1.unique_id]) in page
    assert "Phone" in page and "iOS" in page and "Safari" in page
    assert reverse("portal:analytics_csv") + "?start=2026-03-01&amp;end=2026-03-10&amp;bucket=day" in page


@pytest.mark.django_db
def test_weeks_months_and_long_ranges(client_for, data):
    client = client_for(data.tenants.owner)
    weekly = client.get(reverse("portal:analytics"), {**RANGE_QUERY, "bucket": "week"})
    assert weekly.content.decode().count('class="chart-bar"') == 3
    # Over 62 days a line replaces the bars.
    year = client.get(reverse("portal:analytics"), {"start": "2025-03-11", "end": "2026-03-10"})
    page = year.content.decode()
    assert 'class="chart-line"' in page and 'class="chart-bar"' not in page


@pytest.mark.django_db
def test_project_and_portrait_pages(client_for, data):
    client = client_for(data.tenants.owner)
    project = client.get(reverse("portal:project_analytics", args=[data.weddings.slug]), RANGE_QUERY)
    assert project.context["summary"].sessions == 6
    assert [p.title for p in project.context["top_portraits"]] == ["Anna & Boris", "Clara"]
    portrait = client.get(reverse("portal:portrait_analytics", args=[data.pa1.unique_id]), RANGE_QUERY)
    assert portrait.context["summary"].sessions == 4
    assert "Top photos" not in portrait.content.decode()


@pytest.mark.django_db
def test_default_range_is_the_last_30_days(client_for, data):
    visit(data.pa1, timezone.now() - timedelta(days=1))
    response = client_for(data.tenants.owner).get(reverse("portal:analytics"))
    assert response.status_code == 200
    assert response.context["dashboard"].dates.days == 30
    assert response.context["summary"].sessions == 1


@pytest.mark.django_db
def test_links_from_the_portal(client_for, data):
    client = client_for(data.tenants.owner)
    nav = client.get(reverse("portal:dashboard")).content.decode()
    assert reverse("portal:analytics") in nav
    project = client.get(reverse("portal:project_detail", args=[data.weddings.slug])).content.decode()
    assert reverse("portal:project_analytics", args=[data.weddings.slug]) in project
    portrait = client.get(reverse("portal:portrait_detail", args=[data.pa1.unique_id])).content.decode()
    assert reverse("portal:portrait_analytics", args=[data.pa1.unique_id]) in portrait


# --- Bad ranges ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"start": "2026-03-10", "end": "2026-03-01"}, "The start date must not be after the end date."),
        ({"start": "2024-01-01", "end": "2026-03-01"}, "Choose a range of at most 366 days."),
        ({"start": "31/02/2026"}, "Enter a valid date."),
        ({"start": "1000-01-01", "end": "1000-01-02"}, "Choose dates between 2000-01-01 and 2999-12-31."),
        ({"start": "2026-03-01", "end": "9999-12-31"}, "Choose dates between 2000-01-01 and 2999-12-31."),
        ({"end": "9999-12-31"}, "Choose dates between 2000-01-01 and 2999-12-31."),
        ({"end": "0001-01-05"}, "Choose dates between 2000-01-01 and 2999-12-31."),
        ({**RANGE_QUERY, "bucket": "year"}, "Select a valid choice."),
    ],
)
def test_bad_ranges_get_a_clear_message(client_for, data, query, message):
    client = client_for(data.tenants.owner)
    response = client.get(reverse("portal:analytics"), query)
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert 'class="stat-cards"' not in page
    export = client.get(reverse("portal:analytics_csv"), query)
    assert export.status_code == 400
    assert message in export.content.decode()


# --- CSV ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_csv_export(client_for, data):
    response = client_for(data.tenants.owner).get(reverse("portal:analytics_csv"), RANGE_QUERY)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="analytics-alpha-20260301-20260310.csv"'
    rows = read_csv(response)
    assert rows[0][:5] == ["Period start", "Project", "Photo", "Photo ID", "Sessions"]
    assert rows[1] == [
        "2026-03-02",
        "Weddings",
        "Anna & Boris",
        str(data.pa1.unique_id),
        "3",
        "2",
        "0.6667",
        "1",
        "0.3333",
        "20.0",
    ]
    assert [r[0] for r in rows[1:]] == ["2026-03-02", "2026-03-02", "2026-03-03", "2026-03-03", "2026-03-09"]
    assert sum(int(r[4]) for r in rows[1:]) == 7


@pytest.mark.django_db
def test_csv_of_a_portrait_by_week(client_for, data):
    url = reverse("portal:portrait_analytics_csv", args=[data.pa1.unique_id])
    response = client_for(data.tenants.owner).get(url, {**RANGE_QUERY, "bucket": "week"})
    rows = read_csv(response)
    assert [(r[0], r[2], r[4]) for r in rows[1:]] == [("2026-03-02", "Anna & Boris", "4")]


@pytest.mark.django_db
@pytest.mark.parametrize("title", ['=HYPERLINK("http://evil")', "+1+1", "-2", "@SUM(A1)", "\t=1", "\r=1"])
def test_csv_cells_never_become_formulas(client_for, data, title):
    data.pa1.title = title
    data.pa1.save(update_fields=["title"])
    response = client_for(data.tenants.owner).get(reverse("portal:analytics_csv"), RANGE_QUERY)
    rows = read_csv(response)
    assert rows[1][2] == "'" + title
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row)


def test_spreadsheet_safe_leaves_ordinary_values_alone():
    assert spreadsheet_safe("Anna = Boris") == "Anna = Boris"
    assert spreadsheet_safe(-3) == -3  # numbers are numbers, not text
    assert spreadsheet_safe("") == ""


# --- Query counts -------------------------------------------------------------------------------


def _grow(data, n):
    """n more sessions over more photos, days and devices: none of it may cost a query."""
    for i in range(n):
        portrait = (data.pa1, data.pa2, data.pa3)[i % 3]
        device = ("mobile", "tablet", "desktop")[i % 3]
        visit(portrait, at(1 + i % 10, i % 24), device=device, os=f"OS{i % 4}", ttf=100 * i, watch=i)


# Every page: session, user, memberships (the tenant), then its object, then analytics.selectors:
#   dashboard: totals per local day and device/OS/browser (raw, rolled up), the median, and
#   the top portraits (raw, rolled up, titles).
PAGE_QUERIES = {
    # session + user + memberships, 6 analytics queries
    "company": 3 + 6,
    # + the project; 6 analytics queries
    "project": 3 + 1 + 6,
    # + the photo; no top list: 3 analytics queries
    "portrait": 3 + 1 + 3,
    # session + user + memberships + (project or photo), then the photos' titles, raw rows, rollups
    "company csv": 3 + 3,
    "project csv": 3 + 1 + 3,
    "portrait csv": 3 + 1 + 3,
}


def _count(client, url, query, name, django_assert_num_queries):
    with django_assert_num_queries(PAGE_QUERIES[name]):
        response = client.get(url, query)
        if name.endswith("csv"):
            b"".join(response.streaming_content)  # the export's queries run while it streams
    assert response.status_code == 200, name


@pytest.mark.django_db
def test_query_counts_do_not_grow_with_the_sessions(client_for, data, django_assert_num_queries):
    client = client_for(data.tenants.owner)
    # Uncounted first: per-process caches that middleware may keep (a minute or so) are warm then,
    # as on any running server.
    client.get(reverse("portal:analytics"), RANGE_QUERY)
    for name, url in urls(data):
        _count(client, url, RANGE_QUERY, name, django_assert_num_queries)
    _grow(data, 40)
    for name, url in urls(data):
        _count(client, url, RANGE_QUERY, name, django_assert_num_queries)
    # Half of the range rolled up: the median comes from the histograms, still one query.
    rollup_view_sessions(older_than_days=8, now=NOW)
    for name, url in urls(data):
        _count(client, url, RANGE_QUERY, name, django_assert_num_queries)


# --- Charts -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_svg_coordinates_stay_numbers_in_every_language(client_for, data):
    client = client_for(data.tenants.owner)
    with translation.override("en"):  # the middleware switches the thread to Russian: switch back after
        page = client.get(reverse("portal:analytics"), RANGE_QUERY, HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert '<html lang="ru">' in page
    # 4 sessions out of an axis of 4: full height minus the top margin, with a dot, not a comma.
    assert 'y="4.0" width="8" height="96.0"' in page
    assert not re.search(r'(x|y|width|height)="\d+,\d', page)


def test_axis_tops_are_round_numbers():
    from analytics.charts import nice_ceiling

    assert [nice_ceiling(v) for v in (0, 1, 3, 7, 11, 101, 130, 999, 1001)] == [1, 1, 3, 8, 12, 120, 150, 1000, 1200]


def test_long_series_become_a_line():
    from datetime import date, timedelta

    from analytics.charts import sessions_chart
    from analytics.selectors import TimePoint, Totals

    series = [TimePoint(date(2026, 1, 1) + timedelta(days=i), Totals(sessions=i % 5)) for i in range(90)]
    with translation.override("en"):
        chart = sessions_chart(series, "day", title="t")
    assert chart.kind == "line" and len(chart.marks) == 90 and chart.max_value == 4
    assert chart.line.startswith("5,100 15,76") and chart.area.startswith("5,100 5,100")
    assert "Busiest: Jan. 5, 2026, with 4." in chart.description


@pytest.mark.django_db
def test_the_dashboard_shows_how_many_visits_needed_a_fallback(client_for, data, django_assert_num_queries):
    from arv.testing.analytics_data import at, visit

    visit(data.pa1, at(2, 16), ttf=1500, engine="mindar", variant="webgl1", fallbacks=1)
    visit(data.pa1, at(2, 17), engine="fallback", fallbacks=2)
    client = client_for(data.tenants.owner)
    client.get(reverse("portal:analytics"), RANGE_QUERY)  # warm per-process caches, as on a server
    with django_assert_num_queries(PAGE_QUERIES["company"]):  # no query of its own
        page = client.get(reverse("portal:analytics"), RANGE_QUERY).content.decode()
    assert "Fallbacks by browser" in page
    assert "2 sessions, 1 with the video only" in page
    # The viewer role sees it too; the project page of another company is still a 404 (tested above).
    viewer_page = client_for(data.tenants.viewer).get(reverse("portal:analytics"), RANGE_QUERY).content.decode()
    assert "Fallbacks by browser" in viewer_page
