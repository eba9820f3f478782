"""/api/v1/portraits/<uuid>/videos/: add (multipart), update (title, schedule, active), delete."""


import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from arv.testing import media
from arv.testing.api import errors_of, stored_files, token_client
from companies.models import PendingUpload
from content.models import Video
from content.tests.test_validators import BAD_VIDEOS
from markers.models import Job


def videos_url(portrait) -> str:
    return f"/api/v1/portraits/{portrait.unique_id}/videos/"


def video_url(video) -> str:
    return f"{videos_url(video.portrait)}{video.pk}/"


def add(client, portrait, data: bytes, **fields):
    payload = {"video": SimpleUploadedFile("clip.mp4", data), **fields}
    return client.post(videos_url(portrait), payload, format="multipart")




@pytest.mark.django_db
def test_add_stores_the_video_and_the_first_one_plays(tenants, make_portrait, tmp_path, private_tmp):
    portrait = make_portrait(tenants.project_a)
    files_before = len(stored_files())
    response = add(
        token_client(tenants.editor),
        portrait,
        media.mp4_bytes(tmp_path),
        title="Dance",
        schedule_start="2031-01-01T00:00:00Z",
        schedule_end="2031-02-01T00:00:00Z",
    )
    assert response.status_code == 201, response.json()
    video = portrait.videos.get()
    assert video.title == "Dance" and video.is_active and video.duration > 0
    assert video.schedule_start.isoformat() == "2031-01-01T00:00:00+00:00"
    assert Job.objects.filter(video=video, kind="video").exists()
    assert len(stored_files()) == files_before + 1
    assert list(private_tmp.iterdir()) == []
    body = response.json()
    assert body["id"] == video.pk and body["is_active"] is True and body["status"] == "processing"
    assert body["url"].startswith("http://testserver/media/")


@pytest.mark.django_db
def test_add_with_activate_takes_over(tenants, make_portrait, tmp_path):
    portrait = make_portrait(tenants.project_a, with_video=True)
    first = portrait.videos.get()
    first.activate()
    response = add(token_client(tenants.owner), portrait, media.mp4_bytes(tmp_path), activate="true")
    assert response.status_code == 201
    first.refresh_from_db()
    assert not first.is_active and Video.objects.get(pk=response.json()["id"]).is_active


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(BAD_VIDEOS))
def test_add_refuses_bad_videos_and_stores_nothing(tenants, make_portrait, private_tmp, case):
    portrait = make_portrait(tenants.project_a)
    files_before = stored_files()
    data, message = BAD_VIDEOS[case]
    errors = errors_of(add(token_client(tenants.owner), portrait, data))
    assert list(errors) == ["video"] and message in errors["video"][0]
    assert not Video.objects.exists() and not PendingUpload.objects.exists()
    assert stored_files() == files_before and list(private_tmp.iterdir()) == []


@pytest.mark.django_db
def test_add_checks_the_other_fields_and_cleans_up_the_validated_video(tenants, make_portrait, tmp_path, private_tmp):
    portrait = make_portrait(tenants.project_a)
    errors = errors_of(
        add(
            token_client(tenants.owner),
            portrait,
            media.mp4_bytes(tmp_path),
            schedule_start="2031-02-01T00:00:00Z",
            schedule_end="2031-01-01T00:00:00Z",
            activate="maybe",
        )
    )
    assert sorted(errors) == ["activate"]
    errors = errors_of(
        add(
            token_client(tenants.owner),
            portrait,
            media.mp4_bytes(tmp_path),
            schedule_start="2031-02-01T00:00:00Z",
            schedule_end="2031-01-01T00:00:00Z",
        )
    )
    assert errors == {"schedule_end": ["The video must stop playing after it starts."]}
    assert not Video.objects.exists() and list(private_tmp.iterdir()) == []
    errors = errors_of(token_client(tenants.owner).post(videos_url(portrait), {"title": "x"}, format="multipart"))
    assert list(errors) == ["video"]


@pytest.mark.django_db
def test_add_is_scoped_and_needs_write_access(tenants, make_portrait, tmp_path):
    theirs = make_portrait(tenants.project_b)
    ours = make_portrait(tenants.project_a)
    data = media.mp4_bytes(tmp_path)
    assert add(token_client(tenants.owner), theirs, data).status_code == 404
    response = add(token_client(tenants.viewer), ours, data)
    assert response.status_code == 403 and "viewer" in response.json()["detail"]
    assert not Video.objects.exists()


@pytest.mark.django_db
def test_update_title_schedule_and_active(tenants, make_portrait):
    portrait = make_portrait(tenants.project_a, with_video=True)
    video = portrait.videos.get()
    other = Video.objects.create(portrait=portrait, file=video.file.name, title="Other", is_active=True)
    client = token_client(tenants.editor)
    response = client.patch(
        video_url(video),
        {"title": "Renamed", "schedule_start": "2031-01-01T00:00:00Z", "is_active": True},
        format="json",
    )
    assert response.status_code == 200, response.json()
    video.refresh_from_db()
    other.refresh_from_db()
    assert video.title == "Renamed" and video.schedule_start is not None and video.is_active
    assert not other.is_active
    assert response.json()["is_active"] is True and response.json()["title"] == "Renamed"
    response = client.patch(video_url(video), {"is_active": False}, format="json")
    video.refresh_from_db()
    assert response.status_code == 200 and not video.is_active and video.title == "Renamed"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"schedule_end": "2030-01-01T00:00:00Z"}, "schedule_end"),  # before the stored start
        ({"title": "t" * 201}, "title"),
        ({"is_active": "yes please"}, "is_active"),
        ({"schedule_start": 12}, "schedule_start"),
    ],
)
def test_update_refuses_bad_input(tenants, make_portrait, payload, field):
    from django.utils.dateparse import parse_datetime

    portrait = make_portrait(tenants.project_a, with_video=True)
    video = portrait.videos.get()
    video.schedule_start = parse_datetime("2031-01-01T00:00:00Z")
    video.save()
    assert list(errors_of(token_client(tenants.owner).patch(video_url(video), payload, format="json"))) == [field]
    video.refresh_from_db()
    assert video.schedule_end is None and video.title == "Clip"


@pytest.mark.django_db
def test_videos_are_found_only_through_their_own_portrait(tenants, make_portrait):
    ours = make_portrait(tenants.project_a, with_video=True)
    sibling = make_portrait(tenants.project_a)
    theirs = make_portrait(tenants.project_b, with_video=True)
    client = token_client(tenants.owner)
    their_video = theirs.videos.get()
    our_video = ours.videos.get()
    cases = [
        f"{videos_url(theirs)}{their_video.pk}/",  # another company's portrait
        f"{videos_url(ours)}{their_video.pk}/",  # another company's video under our portrait
        f"{videos_url(sibling)}{our_video.pk}/",  # our video under the wrong portrait
        f"{videos_url(ours)}99999999999999999999999/",  # out of the integer range
    ]
    for path in cases:
        assert client.patch(path, {"title": "x"}, format="json").status_code == 404, path
        assert client.delete(path).status_code == 404, path
    assert Video.objects.count() == 2 and their_video.title == "Clip"


@pytest.mark.django_db
def test_delete_removes_the_video_and_its_file(tenants, make_portrait, django_capture_on_commit_callbacks):
    portrait = make_portrait(tenants.project_a, with_video=True)
    video = portrait.videos.get()
    assert token_client(tenants.viewer).delete(video_url(video)).status_code == 403
    assert Video.objects.filter(pk=video.pk).exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = token_client(tenants.owner).delete(video_url(video))
    assert response.status_code == 204
    assert not Video.objects.exists()
    assert [p.name for p in stored_files()] == ["photo.jpg"]


@pytest.mark.django_db
def test_api_changes_name_their_author_in_the_videos_history(tenants, make_portrait, tmp_path):
    """The audit trail of a photo's videos says who changed what, through the API as in the portal."""
    from content.models import VideoEvent

    portrait = make_portrait(tenants.project_a, with_video=True)
    video = portrait.videos.get()
    editor = token_client(tenants.editor)
    assert editor.patch(video_url(video), {"title": "Renamed", "is_active": False}, format="json").status_code == 200
    response = add(token_client(tenants.owner), portrait, media.mp4_bytes(tmp_path))
    assert response.status_code == 201, response.content
    assert token_client(tenants.owner).delete(video_url(video)).status_code == 204
    history = [(e.action, e.by) for e in VideoEvent.objects.filter(portrait=portrait).order_by("pk")]
    assert history == [
        (VideoEvent.Action.SCHEDULED, tenants.editor),
        (VideoEvent.Action.DEACTIVATED, tenants.editor),
        (VideoEvent.Action.ADDED, tenants.owner),
        (VideoEvent.Action.DELETED, tenants.owner),
    ]
