import json
import uuid

import pytest
from django.urls import reverse

from arv.testing.factories import PHONE
from viewer.models import ViewSession

ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
)


def post(client, portrait, payload, **headers):
    headers.setdefault("HTTP_USER_AGENT", PHONE)
    body = payload if isinstance(payload, bytes | str) else json.dumps(payload)
    return client.post(
        reverse("viewer:beacon", args=[portrait.unique_id]), body, content_type="application/json", **headers
    )


@pytest.mark.django_db
def test_a_visit_is_recorded_and_only_grows(client, ready_portrait):
    sid = str(uuid.uuid4())
    assert (
        post(client, ready_portrait, {"session": sid, "duration_seconds": 3}, REMOTE_ADDR="203.0.113.77").status_code
        == 204
    )
    post(client, ready_portrait, {"session": sid, "duration_seconds": 9, "found": True, "time_to_found_ms": 2400})
    post(
        client,
        ready_portrait,
        {
            "session": sid,
            "duration_seconds": 30,
            "video_played": True,
            "watch_seconds": 21,
            "found": True,
            "time_to_found_ms": 1,
        },
    )
    post(client, ready_portrait, {"session": sid, "duration_seconds": 5, "watch_seconds": 2})  # late, stale post
    session = ViewSession.objects.get()
    assert (
        session.duration_seconds,
        session.found,
        session.time_to_found_ms,
        session.video_played,
        session.watch_seconds,
    ) == (30, True, 2400, True, 21)
    assert (session.device_type, session.os, session.browser) == ("mobile", "iOS", "Mobile Safari")
    assert session.company == ready_portrait.company and session.project == ready_portrait.project
    assert session.ip_address == "203.0.113.0"  # anonymised to /24


@pytest.mark.django_db
def test_tablets_and_ipv6_and_no_ip_setting(client, ready_portrait, settings):
    post(
        client,
        ready_portrait,
        {"session": str(uuid.uuid4())},
        HTTP_USER_AGENT=ANDROID_TABLET,
        REMOTE_ADDR="2001:db8:1234:5678::1",
    )
    session = ViewSession.objects.get()
    assert session.device_type == "tablet" and session.ip_address == "2001:db8:1234::"
    settings.VIEWER_IP_STORAGE = "none"
    post(client, ready_portrait, {"session": str(uuid.uuid4())}, REMOTE_ADDR="198.51.100.5")
    assert ViewSession.objects.order_by("-id").first().ip_address is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"not json",
        b"[1, 2]",
        {"session": "not-a-uuid"},
        {"session": str(uuid.uuid4()), "duration_seconds": -1},
        {"session": str(uuid.uuid4()), "duration_seconds": "10"},
        {"session": str(uuid.uuid4()), "watch_seconds": 10**9},
        {"session": str(uuid.uuid4()), "found": "yes"},
        {"session": str(uuid.uuid4()), "duration_seconds": True},
        {"session": str(uuid.uuid4()), "engine": "<script>"},
        {"session": str(uuid.uuid4()), "error": "x" * 100},
        b"{" + b'"a": 1,' * 1000 + b"}",
    ],
)
def test_bad_payloads_are_400_and_record_nothing(client, ready_portrait, payload):
    assert post(client, ready_portrait, payload).status_code == 400
    assert not ViewSession.objects.exists()


@pytest.mark.django_db
def test_bots_and_unknown_photos_and_foreign_sessions(client, ready_portrait, tenants, make_portrait):
    sid = str(uuid.uuid4())
    assert post(client, ready_portrait, {"session": sid}, HTTP_USER_AGENT="curl/8.0").status_code == 204
    assert not ViewSession.objects.exists()
    response = client.post(
        "/v/00000000-0000-4000-8000-000000000000/beacon",
        json.dumps({"session": sid}),
        content_type="application/json",
        HTTP_USER_AGENT=PHONE,
    )
    assert response.status_code == 404
    post(client, ready_portrait, {"session": sid})
    other = make_portrait(tenants.project_b)
    assert post(client, other, {"session": sid, "found": True}).status_code == 409
    assert ViewSession.objects.get().found is False


@pytest.mark.django_db
def test_get_is_not_allowed_and_no_csrf_is_needed(ready_portrait):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    assert client.get(reverse("viewer:beacon", args=[ready_portrait.unique_id])).status_code == 405
    assert post(client, ready_portrait, {"session": str(uuid.uuid4())}).status_code == 204


@pytest.mark.django_db
def test_beacons_are_rate_limited_per_ip(client, ready_portrait, settings):
    from django.core.cache import cache

    cache.clear()
    settings.BEACON_RATE_PER_MINUTE = 3
    codes = [
        post(client, ready_portrait, {"session": str(uuid.uuid4())}, REMOTE_ADDR="192.0.2.9").status_code
        for _ in range(5)
    ]
    assert codes == [204, 204, 204, 429, 429]
    assert post(client, ready_portrait, {"session": str(uuid.uuid4())}, REMOTE_ADDR="192.0.2.10").status_code == 204
    cache.clear()


def _expire(portrait):
    from datetime import timedelta

    from django.utils import timezone

    portrait.expires_at = timezone.now() - timedelta(minutes=1)
    portrait.save()


def _deactivate(portrait):
    portrait.is_active = False
    portrait.save()


def _unpublish(portrait):
    from datetime import timedelta

    from django.utils import timezone

    portrait.published_at = timezone.now() + timedelta(days=1)
    portrait.save()


def _deactivate_company(portrait):
    portrait.company.set_active(False)


def _expire_subscription(portrait):
    from datetime import timedelta

    from django.utils import timezone

    portrait.company.subscription_expires_at = timezone.now() - timedelta(minutes=1)
    portrait.company.save()


def _pause_project(portrait):
    portrait.project.status = "paused"
    portrait.project.save()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_expire, "expired"),
        (_deactivate, "inactive"),
        (_unpublish, "unpublished"),
        (_deactivate_company, "inactive"),
        (_expire_subscription, "expired"),
        (_pause_project, "inactive"),
    ],
)
def test_a_photo_the_page_would_not_play_records_no_visit(client, ready_portrait, change, reason):
    from django.core.cache import cache

    cache.clear()
    sid = str(uuid.uuid4())
    assert post(client, ready_portrait, {"session": sid}).status_code == 204  # while it plays
    change(ready_portrait)
    response = post(client, ready_portrait, {"session": str(uuid.uuid4())})
    assert response.status_code == 403
    assert response.json() == {"error": f"this photo is not playing ({reason})", "reason": reason}
    # Neither a new session nor more data on the old one.
    assert post(client, ready_portrait, {"session": sid, "found": True}).status_code == 403
    assert ViewSession.objects.count() == 1 and ViewSession.objects.get().found is False
