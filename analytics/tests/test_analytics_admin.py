"""Staff analytics in the admin: across companies, per company, processing jobs, access, queries."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from analytics.tests.test_analytics_pages import RANGE_QUERY, read_csv
from arv.testing.analytics_data import NOW, RANGE, visit
from lib.stats import percentiles
from markers.models import Job
from markers.stats import processing_job_stats
from viewer.retention import rollup_view_sessions


def finished(portrait, kind, status, *, ms=None, day=2, reused_from=None):
    return Job.objects.create(
        portrait=portrait,
        kind=kind,
        status=status,
        duration_ms=ms,
        reused_from=reused_from,
        finished_at=datetime(2026, 3, day, 12, tzinfo=UTC),
    )


@pytest.fixture
def jobs(data):
    """MindAR: 4 compiled in 1, 2, 3 and 10 s, one reused, one failed; NFT: one failed, none done."""
    a = finished(data.pa1, "mindar", "ready", ms=1000)
    finished(data.pa2, "mindar", "ready", ms=2000)
    finished(data.pa3, "mindar", "ready", ms=3000)
    finished(data.pb1, "mindar", "ready", ms=10000, day=3)
    extra = [build_portrait(data, i) for i in range(2)]
    finished(extra[0], "mindar", "ready", ms=5, reused_from=a)
    finished(extra[1], "mindar", "failed", day=3)
    finished(data.pa1, "nft", "failed", day=3)
    finished(data.pa2, "nft", "processing")  # not finished: not counted
    return data


def build_portrait(data, i):
    from content.models import Portrait

    return Portrait.objects.create(company=data.tenants.a, project=data.weddings, title=f"Extra {i}", image=f"x{i}.jpg")


@pytest.mark.django_db
def test_processing_job_stats(jobs):
    stats = processing_job_stats(RANGE)
    by_kind = {k.kind: k for k in stats.kinds}
    mindar = by_kind["mindar"]
    assert (mindar.finished, mindar.failed, mindar.reused) == (6, 1, 1)
    assert mindar.failure_share == pytest.approx(1 / 6)
    # Compiled (not reused) times 1000, 2000, 3000, 10000: p50 = 2500; p95 at position 2.85 → 3000 + 0.85 × 7000.
    assert mindar.p50_ms == 2500
    assert mindar.p95_ms == pytest.approx(8950)
    nft = by_kind["nft"]
    assert (nft.finished, nft.failed, nft.p50_ms, nft.failure_share) == (1, 1, None, 1)
    assert by_kind["video"].failure_share is None
    failures = dict(stats.failures_per_day)
    assert failures[datetime(2026, 3, 3).date()] == 2
    assert sum(failures.values()) == 2 and len(failures) == 10


@pytest.mark.django_db
def test_percentiles_like_percentile_cont(data):
    finished(data.pa1, "nft", "ready", ms=700)
    finished(data.pa1, "mindar", "ready", ms=2000)
    finished(data.pa2, "mindar", "ready", ms=1000)
    result = percentiles(Job.objects.all(), "duration_ms", (0.5, 0.95), partition="kind")
    assert result == {"nft": {0.5: 700, 0.95: 700}, "mindar": {0.5: 1500, 0.95: pytest.approx(1950)}}


@pytest.mark.django_db
@pytest.mark.parametrize("count", [3, 9, 21])
def test_percentiles_at_a_whole_position(tenants, make_portrait, count):
    """The median of an odd count (and p95 of 21) sits exactly on one row: its next row is a
    whole position away and must still be found. (Any field and partition: here photo sizes.)"""
    from content.models import Portrait

    for ms in range(count, 0, -1):
        Portrait.objects.filter(pk=make_portrait(tenants.project_a).pk).update(image_bytes=ms * 100)
    result = percentiles(Portrait.objects.all(), "image_bytes", (0.5, 0.95), partition="project")
    quantiles = result[tenants.project_a.pk]
    assert quantiles[0.5] == (count + 1) // 2 * 100
    assert quantiles[0.95] == pytest.approx((0.95 * (count - 1) + 1) * 100)


@pytest.mark.django_db
def test_staff_see_every_company(admin_client, jobs):
    response = admin_client.get(reverse("admin:analytics"), RANGE_QUERY)
    assert response.status_code == 200
    assert response.context["summary"].sessions == 8
    page = response.content.decode()
    assert "Alpha Studio" in page and "Beta Prints" in page  # top companies
    assert "MindAR marker" in page and "16.7%" in page  # failure rate 1/6
    assert "2.5 s" in page  # MindAR median
    assert reverse("admin:markers_job_changelist") + "?kind__exact=mindar&amp;status__exact=failed" in page


@pytest.mark.django_db
def test_staff_can_narrow_to_one_company(admin_client, data):
    response = admin_client.get(reverse("admin:analytics"), {**RANGE_QUERY, "company": data.tenants.b.pk})
    assert response.context["summary"].sessions == 1
    assert [p.title for p in response.context["top_portraits"]] == ["Other company"]
    assert response.context["top_companies"] == []


@pytest.mark.django_db
def test_staff_csv_has_the_company(admin_client, data):
    response = admin_client.get(reverse("admin:analytics_csv"), RANGE_QUERY)
    assert response["Content-Disposition"] == 'attachment; filename="analytics-all-20260301-20260310.csv"'
    rows = read_csv(response)
    assert rows[0][:3] == ["Period start", "Company", "Project"]
    assert ["2026-03-02", "Beta Prints", "Schools", "Other company"] in [r[:4] for r in rows]


@pytest.mark.django_db
def test_bad_range_in_the_admin(admin_client, data):
    response = admin_client.get(reverse("admin:analytics"), {"start": "2026-03-10", "end": "2026-03-01"})
    assert response.status_code == 400
    assert "The start date must not be after the end date." in response.content.decode()
    assert admin_client.get(reverse("admin:analytics_csv"), {"start": "x"}).status_code == 400


@pytest.mark.django_db
def test_the_page_is_listed_in_the_admin(admin_client):
    assert reverse("admin:analytics") in admin_client.get(reverse("admin:index")).content.decode()


@pytest.mark.django_db
def test_staff_without_the_permission_and_non_staff_are_refused(client, make_user, data):
    clerk = make_user("clerk", is_staff=True)
    client.force_login(clerk)
    assert client.get(reverse("admin:analytics")).status_code == 403
    assert client.get(reverse("admin:analytics_csv")).status_code == 403
    assert reverse("admin:analytics") not in client.get(reverse("admin:index")).content.decode()
    clerk.user_permissions.add(Permission.objects.get(codename="view_viewsession"))
    clerk = type(clerk).objects.get(pk=clerk.pk)  # permissions are cached per user object
    client.force_login(clerk)
    assert client.get(reverse("admin:analytics"), RANGE_QUERY).status_code == 200

    client.force_login(data.tenants.owner)  # a client, not staff
    response = client.get(reverse("admin:analytics"))
    assert response.status_code == 302 and "login" in response["Location"]


# Session, user, then: totals per local day and device/OS/browser (raw, rolled up), median, top
# portraits (raw, rolled up, titles), job counts, job percentiles, job failures per day, top
# companies (raw, rolled up, names), and the company <select> of the filter form.
ADMIN_QUERIES = 2 + 6 + 3 + 3 + 1
# Session, user, then the photos' titles and the export's raw and rolled-up rows, streamed.
ADMIN_CSV_QUERIES = 2 + 3


@pytest.mark.django_db
def test_admin_page_and_csv_query_counts_are_constant(admin_client, jobs, django_assert_num_queries):
    def count():
        with django_assert_num_queries(ADMIN_QUERIES):
            assert admin_client.get(reverse("admin:analytics"), RANGE_QUERY).status_code == 200
        with django_assert_num_queries(ADMIN_CSV_QUERIES):
            response = admin_client.get(reverse("admin:analytics_csv"), RANGE_QUERY)
            assert response.status_code == 200
            b"".join(response.streaming_content)

    admin_client.get(reverse("admin:analytics"), RANGE_QUERY)  # uncounted: warms per-process caches
    count()
    for i in range(30):
        visit((jobs.pa1, jobs.pa2, jobs.pb1)[i % 3], NOW - timedelta(days=3 + i % 5), ttf=i * 10, os=f"OS{i}")
    count()
    rollup_view_sessions(older_than_days=8, now=NOW)
    count()


@pytest.mark.django_db
def test_daily_totals_are_read_only_in_the_admin(admin_client, data):
    rollup_view_sessions(older_than_days=8, now=NOW)
    response = admin_client.get(reverse("admin:viewer_viewsessiondaily_changelist"))
    assert response.status_code == 200 and "Anna &amp; Boris" in response.content.decode()
