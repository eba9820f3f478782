"""View statistics through the API: the analytics selectors (tested with known numbers in
test_analytics.py) behind two endpoints."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from arv.testing.api import errors_of, token_client
from content.models import Portrait
from viewer.models import ViewSession


def visit(portrait, *, found=False, ms=None, played=False, watched=0, device="mobile", days_ago=0):
    return ViewSession.objects.create(
        session_id=uuid.uuid4(),
        company=portrait.company,
        project=portrait.project,
        portrait=portrait,
        created_at=timezone.now() - timedelta(days=days_ago),
        found=found,
        time_to_found_ms=ms,
        video_played=played,
        watch_seconds=watched,
        device_type=device,
    )


@pytest.fixture
def five_visits(tenants, make_portrait):
    """Five visits of one portrait: three found it (1.0 s, 3.0 s, 2.0 s), two played (10 s, 20 s)."""
    portrait = make_portrait(tenants.project_a)
    Portrait.objects.filter(pk=portrait.pk).update(created_at=timezone.now() - timedelta(days=30))
    portrait.refresh_from_db()
    visit(portrait, found=True, ms=1000, played=True, watched=10)
    visit(portrait, found=True, ms=3000, played=True, watched=20, device="tablet")
    visit(portrait, found=True, ms=2000)
    visit(portrait, device="desktop", days_ago=10)
    visit(portrait, found=False, ms=9999)  # a time without "found" is ignored
    return portrait


@pytest.mark.django_db
def test_portrait_analytics(tenants, five_visits):
    Portrait.objects.filter(pk=five_visits.pk).update(views_count=7)
    client = token_client(tenants.viewer)
    url = f"/api/v1/portraits/{five_visits.unique_id}/analytics/"
    body = client.get(url).json()
    assert body["views_count"] == 7 and body["sessions"] == 5 and body["found_share"] == 0.6
    assert body["median_time_to_found_ms"] == 2000 and body["average_watch_seconds"] == 15.0
    assert body["plays"] == 2 and body["play_rate"] == 0.4 and body["median_is_exact"] is True
    assert body["devices"] == {"mobile": 3, "tablet": 1, "desktop": 1, "other": 0}
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    recent = client.get(url, {"start": yesterday}).json()
    assert recent["sessions"] == 4 and recent["devices"]["desktop"] == 0 and recent["start"] == yesterday
    assert client.get(url, {"end": yesterday}).json()["sessions"] == 1
    assert list(errors_of(client.get(url, {"start": "a while ago"}))) == ["start"]
    assert list(errors_of(client.get(url, {"start": yesterday, "end": "2001-01-01"}))) == ["end"]


@pytest.mark.django_db
def test_project_analytics_adds_up_its_portraits(tenants, five_visits, make_portrait):
    second = make_portrait(tenants.project_a)
    visit(second, found=True, ms=4000, played=True, watched=30)
    from companies.models import Project

    Project.objects.filter(pk=tenants.project_a.pk).update(created_at=timezone.now() - timedelta(days=30))
    Portrait.objects.filter(pk=five_visits.pk).update(views_count=7)
    Portrait.objects.filter(pk=second.pk).update(views_count=2)
    theirs = make_portrait(tenants.project_b)
    visit(theirs, found=True, ms=1, played=True, watched=999)
    body = token_client(tenants.owner).get("/api/v1/projects/weddings/analytics/").json()
    assert body["views_count"] == 9 and body["sessions"] == 6 and body["found"] == 4
    assert body["median_time_to_found_ms"] == 2500 and body["average_watch_seconds"] == 20.0


@pytest.mark.django_db
def test_analytics_of_other_companies_do_not_exist(tenants, make_portrait):
    theirs = make_portrait(tenants.project_b)
    client = token_client(tenants.owner)
    assert client.get(f"/api/v1/portraits/{theirs.unique_id}/analytics/").status_code == 404
    assert client.get("/api/v1/projects/schools/analytics/").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        # The review's request: a 500 before (the day after 9999-12-31 is no date).
        ({"end": "9999-12-31"}, "end", "Choose dates between 2000-01-01 and 2999-12-31."),
        ({"start": "2026-01-01", "end": "9999-12-31"}, "end", "Choose dates between 2000-01-01 and 2999-12-31."),
        ({"start": "0001-01-01"}, "start", "Choose dates between 2000-01-01 and 2999-12-31."),
        ({"start": "1999-12-31", "end": "2000-01-02"}, "start", "Choose dates between 2000-01-01 and 2999-12-31."),
        ({"start": "2020-01-01", "end": "2026-01-01"}, "end", "Choose a range of at most 366 days."),
        ({"start": "2001-01-01"}, "start", "Choose a range of at most 366 days."),
        ({"start": "2026-03-10", "end": "2026-03-01"}, "end", "The start date must not be after the end date."),
        ({"start": "yesterday"}, "start", "Date has wrong format."),
        ({"end": "2026-02-30"}, "end", "Date has wrong format."),
        ({"end": ""}, "end", "Date has wrong format."),
        ({"end": "2026-01-01T00:00:00Z"}, "end", "Date has wrong format."),
    ],
)
@pytest.mark.parametrize("scope", ["portrait", "project"])
def test_bad_periods_are_400_naming_the_parameter(tenants, five_visits, query, field, message, scope):
    url = (
        f"/api/v1/portraits/{five_visits.unique_id}/analytics/"
        if scope == "portrait"
        else f"/api/v1/projects/{five_visits.project.slug}/analytics/"
    )
    errors = errors_of(token_client(tenants.viewer).get(url, query))
    assert list(errors) == [field]
    assert errors[field][0].startswith(message)


@pytest.mark.django_db
def test_without_dates_a_long_lived_portrait_gets_its_last_366_days(tenants, five_visits):
    Portrait.objects.filter(pk=five_visits.pk).update(created_at=timezone.now() - timedelta(days=3000))
    body = token_client(tenants.viewer).get(f"/api/v1/portraits/{five_visits.unique_id}/analytics/").json()
    today = timezone.localdate()
    assert body["end"] == today.isoformat()
    assert body["start"] == (today - timedelta(days=365)).isoformat() and body["sessions"] == 5
    # The longest period there is, in full.
    start = (today - timedelta(days=365)).isoformat()
    body = token_client(tenants.viewer).get(
        f"/api/v1/portraits/{five_visits.unique_id}/analytics/", {"start": start, "end": today.isoformat()}
    )
    assert body.status_code == 200
