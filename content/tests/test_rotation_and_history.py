"""Rotation settings and the audit trail of video changes, through the portal."""

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from content import services
from content.models import Rotation, Video, VideoEvent


@pytest.fixture
def three_videos(tenants, make_portrait):
    portrait = make_portrait(tenants.project_a, with_video=True)
    first = portrait.videos.get()
    first.is_active = False
    first.save()
    for order, title in ((1, "Second"), (2, "Third")):
        name = first.file.storage.save(f"{portrait.storage_dir}/video-{order}.mp4", first.file.open("rb"))
        Video.objects.create(portrait=portrait, file=name, title=title, rotation_order=order, status="ready")
    return portrait


@pytest.mark.django_db
def test_activation_and_schedule_changes_are_recorded_with_who_and_what(client, tenants, three_videos):
    portrait = three_videos
    second = portrait.videos.get(title="Second")
    client.force_login(tenants.editor)
    client.post(reverse("portal:video_activate", args=[portrait.unique_id, second.pk]))
    client.post(
        reverse("portal:video_edit", args=[portrait.unique_id, second.pk]),
        {"title": "Second", "schedule_start": "2026-12-24T18:00", "schedule_end": "2026-12-26T10:00"},
    )
    client.post(reverse("portal:video_delete", args=[portrait.unique_id, second.pk]))
    events = list(VideoEvent.objects.filter(portrait=portrait).order_by("at", "id"))
    assert [e.action for e in events] == ["activated", "scheduled", "deleted"]
    assert all(e.by == tenants.editor and e.video_label == "Second" for e in events)
    assert events[1].changes["schedule_start"][0] is None and events[1].changes["schedule_start"][1].startswith(
        "2026-12-24"
    )
    assert events[2].video is None  # the video is gone, its name stays in the trail
    html = client.get(reverse("portal:portrait_detail", args=[portrait.unique_id])).content.decode()
    assert "History" in html and "chosen to play" in html and "schedule changed" in html and "eddie" in html


@pytest.mark.django_db
def test_rotation_form_saves_and_starts_now(client, tenants, three_videos):
    portrait = three_videos
    client.force_login(tenants.owner)
    url = reverse("portal:portrait_rotation", args=[portrait.unique_id])
    response = client.post(
        url, {"kind": "cyclic", "every": "day", "at": "09:00", "weekday": "0", "monthday": "1", "cron": ""}
    )
    assert response.status_code == 302
    rotation = Rotation.objects.get(portrait=portrait)
    assert (rotation.kind, rotation.every, rotation.at, rotation.base_index) == ("cyclic", "day", time(9, 0), 0)
    assert timezone.now() - rotation.anchor < timezone.timedelta(seconds=10)
    event = VideoEvent.objects.get(action="rotation")
    assert event.changes["kind"] == ["none", "cyclic"]
    response = client.post(
        url,
        {"kind": "cyclic", "every": "cron", "at": "09:00", "weekday": "0", "monthday": "1", "cron": "*/1 * * * *"},
        follow=True,
    )
    assert "more often than every 15 minutes" in response.content.decode()
    response = client.post(
        url,
        {"kind": "cyclic", "every": "month", "at": "09:00", "weekday": "0", "monthday": "45", "cron": ""},
        follow=True,
    )
    assert "less than or equal to 31" in response.content.decode()
    rotation.refresh_from_db()
    assert rotation.every == "day"


@pytest.mark.django_db
def test_the_viewer_follows_the_rotation_in_the_company_time_zone(client, tenants, three_videos, monkeypatch):
    from django.core.files.base import ContentFile

    from arv.testing.factories import warm_process_caches
    from markers.models import Job

    portrait = three_videos
    tenants.a.timezone = "Europe/Berlin"
    tenants.a.save()
    marker = portrait.image.storage.save(f"{portrait.storage_dir}/m.mind", ContentFile(b"x"))
    Job.objects.create(portrait=portrait, kind="mindar", status="ready", output=marker)
    berlin = ZoneInfo("Europe/Berlin")
    Rotation.objects.create(
        portrait=portrait, kind="cyclic", every="day", at=time(9, 0), anchor=datetime(2026, 3, 27, 12, tzinfo=berlin)
    )
    warm_process_caches()
    titles = {v.file.url: v.title for v in portrait.videos.all()}

    def playing_at(moment):
        monkeypatch.setattr(timezone, "now", lambda: moment)
        response = client.get(
            reverse("viewer:page", args=[portrait.unique_id]), HTTP_USER_AGENT="Mozilla/5.0 (iPhone) Mobile"
        )
        import json
        import re

        config = json.loads(
            re.search(r'id="ar-config" type="application/json">(.*?)</script>', response.content.decode(), re.S).group(
                1
            )
        )
        return config["targets"][0]["videoUrl"]

    urls = [playing_at(datetime(2026, 3, d, 10, tzinfo=berlin)) for d in (27, 28, 29, 30)]
    assert len(set(urls)) == 3 and urls[0] == urls[3]
    assert playing_at(datetime(2026, 3, 29, 8, 59, tzinfo=berlin)) == urls[1]  # DST day, before 09:00 local
    assert set(titles) >= set(urls)


@pytest.mark.django_db
def test_rebase_keeps_what_plays(tenants, three_videos):
    portrait = three_videos
    berlin = ZoneInfo("Europe/Berlin")
    Rotation.objects.create(
        portrait=portrait, kind="cyclic", every="day", at=time(9, 0), anchor=datetime(2026, 1, 1, 12, tzinfo=berlin)
    )
    later = datetime(2026, 6, 1, 12, tzinfo=berlin)
    from content.schedules import choose_video

    before = choose_video(list(portrait.videos.all()), later, portrait.rotation_rule()).pk
    assert services.rebase_rotations(now=datetime(2026, 5, 1, tzinfo=berlin)) == 1
    portrait = type(portrait).objects.get(pk=portrait.pk)
    rotation = portrait.rotation
    assert rotation.anchor > datetime(2026, 4, 30, tzinfo=berlin) and rotation.base_index > 100
    assert choose_video(list(portrait.videos.all()), later, portrait.rotation_rule()).pk == before


ROTATION_FORM = {"kind": "cyclic", "every": "cron", "at": "09:00", "weekday": "0", "monthday": "1"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("cron", "message"),
    [
        # The review's two rules: a 500 on save, and one that validated against a fixed 2026 date.
        ("0 0 31 2 *", "does not fire in the coming year (an impossible date such as 31 February"),
        ("0 * * 1 * 0 2026", "does not fire in the coming year"),
        ("0 0 1 1 * 0 2099", "does not fire in the coming year"),
    ],
)
def test_rules_that_never_fire_are_refused_with_a_message(client, tenants, three_videos, cron, message):
    client.force_login(tenants.editor)
    url = reverse("portal:portrait_rotation", args=[three_videos.unique_id])
    response = client.post(url, {**ROTATION_FORM, "cron": cron}, follow=True)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Rotation.objects.filter(portrait=three_videos).exists()


@pytest.mark.django_db
def test_a_rule_past_its_last_boundary_keeps_the_page_playing(client, tenants, three_videos):
    """The review's sequence: the January-2026-only rule was saved while it validated; after
    January the viewer page answered 500. Now it stays on the video the rotation had reached."""
    import json
    import re

    from django.core.files.base import ContentFile

    from arv.testing.factories import warm_process_caches
    from markers.models import Job

    portrait = three_videos
    marker = portrait.image.storage.save(f"{portrait.storage_dir}/m.mind", ContentFile(b"x"))
    Job.objects.create(portrait=portrait, kind="mindar", status="ready", output=marker)
    Rotation.objects.create(
        portrait=portrait,
        kind="cyclic",
        every="cron",
        cron="0 * * 1 * 0 2026",
        anchor=datetime(2026, 1, 31, 21, 30, tzinfo=ZoneInfo("UTC")),
    )
    warm_process_caches()
    response = client.get(reverse("viewer:page", args=[portrait.unique_id]), HTTP_USER_AGENT="Mozilla/5.0 (iPhone)")
    assert response.status_code == 200
    found = re.search(r'id="ar-config" type="application/json">(.*?)</script>', response.content.decode(), re.S)
    config = json.loads(found.group(1))
    # Boundaries at 22:00 and 23:00 on 31 January, then none: the third video for good.
    assert config["targets"][0]["videoUrl"] == portrait.videos.get(title="Third").file.url
    assert services.rebase_rotations() == 1
