"""The combined per-project marker and the album page that uses it."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from arv.testing.factories import PHONE
from content import services as content_services
from content.validators import validate_image
from markers import album, jobs, mindar
from markers.models import Job, ProjectMarker

FIXTURES = Path(__file__).parent / "fixtures" / "mindar"


@pytest.fixture(autouse=True)
def _database_queue(monkeypatch):
    """These tests read the queue to see what was queued: use the database queue even when the
    suite runs with REDIS_URL set."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "ORM", "default")


def queued_album_tasks() -> list:
    from django_q.models import OrmQ

    return [q.task["args"] for q in OrmQ.objects.all() if q.task["func"] == "markers.tasks.rebuild_project_marker"]


def ready(tenants, name, project=None, with_video=True, tmp_path=None):
    from arv.testing import media
    from content.validators import validate_video

    image = validate_image(SimpleUploadedFile(name, (FIXTURES / name).read_bytes()))
    video = validate_video(SimpleUploadedFile("v.mp4", media.mp4_bytes(tmp_path))) if with_video else None
    portrait = content_services.create_portrait(
        project=project or tenants.project_a, uploaded_by=tenants.owner, title=name, image=image, video=video
    )
    for job in Job.objects.filter(portrait=portrait):
        jobs.run_job(job_id=job.pk)
    portrait.refresh_from_db()
    return portrait


@pytest.mark.django_db
def test_the_album_marker_merges_the_photos_markers_and_follows_changes(
    tenants, tmp_path, django_capture_on_commit_callbacks
):
    first = ready(tenants, "coffee_1000.jpg", tmp_path=tmp_path)
    second = ready(tenants, "chelsea_1000.jpg", tmp_path=tmp_path)
    marker = album.rebuild_project_marker(project=tenants.project_a)
    assert marker.targets == [str(first.unique_id), str(second.unique_id)]
    info = mindar.read_mind(marker.output.read())
    assert [(t.width, t.height) for t in info.targets] == [(1000, 667), (1000, 665)]
    # Nothing changed: nothing rebuilt.
    name = marker.output.name
    assert album.rebuild_project_marker(project=tenants.project_a).output.name == name
    # A photo switched off leaves the album; its old file is gone.
    with django_capture_on_commit_callbacks(execute=True):
        content_services.update_portrait(portrait=first, is_active=False)
    assert queued_album_tasks()[-1] == (tenants.project_a.pk,)
    marker = album.rebuild_project_marker(project=tenants.project_a)
    assert marker.targets == [str(second.unique_id)]
    assert not marker.output.storage.exists(name)
    tenants.a.refresh_from_db()
    used_with_album = tenants.a.storage_used_bytes
    with django_capture_on_commit_callbacks(execute=True):
        content_services.delete_portrait(portrait=second)
    assert len(queued_album_tasks()) == 2
    marker = album.rebuild_project_marker(project=tenants.project_a)
    assert marker.targets == [] and not marker.output
    tenants.a.refresh_from_db()
    assert tenants.a.storage_used_bytes < used_with_album


@pytest.mark.django_db
def test_a_new_marker_triggers_an_album_rebuild(tenants, tmp_path, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        portrait = ready(tenants, "coffee_1000.jpg", tmp_path=tmp_path)
    assert queued_album_tasks() == [(tenants.project_a.pk,)]
    from markers.tasks import rebuild_project_marker

    assert rebuild_project_marker(tenants.project_a.pk) == "1 targets"
    assert ProjectMarker.objects.get(project=tenants.project_a).targets == [str(portrait.unique_id)]


@pytest.mark.django_db
def test_album_page_lists_every_playable_photo(client, tenants, tmp_path, django_assert_max_num_queries):
    from arv.testing.factories import warm_process_caches

    first = ready(tenants, "coffee_1000.jpg", tmp_path=tmp_path)
    ready(tenants, "chelsea_1000.jpg", with_video=False, tmp_path=tmp_path)  # nothing to play: skipped
    album.rebuild_project_marker(project=tenants.project_a)
    warm_process_caches()
    url = reverse("viewer:album", args=[tenants.project_a.public_id])
    # project+company+connection+marker, portraits, their playable videos
    with django_assert_max_num_queries(3):
        response = client.get(url, HTTP_USER_AGENT=PHONE)
    assert response.status_code == 200
    import json
    import re

    config = json.loads(
        re.search(r'id="ar-config" type="application/json">(.*?)</script>', response.content.decode(), re.S).group(1)
    )
    assert [t["portrait"] for t in config["targets"]] == [str(first.unique_id)]
    assert config["targets"][0]["index"] == 0 and config["markerUrl"].endswith(".mind")
    # The combined marker through the album's own route: the stored bytes, cacheable forever.
    marker = client.get(config["markerUrl"])
    assert marker.status_code == 200 and marker["Cache-Control"] == "public, max-age=31536000, immutable"
    tenants.project_a.refresh_from_db()
    stored = tenants.project_a.combined_marker.output
    assert b"".join(marker.streaming_content) == stored.storage.open(stored.name).read()
    assert client.get(config["markerUrl"].replace("album-", "album-0")).status_code == 404
    tenants.project_a.archive()
    assert client.get(config["markerUrl"]).status_code == 404  # a paused album serves nothing


@pytest.mark.django_db
def test_album_of_an_archived_project_is_not_shown(client, tenants):
    tenants.project_a.archive()
    response = client.get(reverse("viewer:album", args=[tenants.project_a.public_id]))
    assert response.status_code == 200 and b"paused" in response.content
    assert client.get("/p/00000000-0000-4000-8000-000000000000/").status_code == 404
