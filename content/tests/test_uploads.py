"""Uploads end to end through the portal: stored safely, or refused with nothing left behind."""


import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from arv.testing import media
from arv.testing.api import stored_files
from arv.testing.factories import jpeg_bytes
from companies import quota
from companies.models import PendingUpload
from companies.storage import storage_for_company
from content import services
from content.models import Portrait, Video
from content.tests.test_validators import BAD_IMAGES, BAD_VIDEOS
from content.validators import validate_image, validate_video
from markers.models import Job


def post_upload(client, project, *, image=None, video=None, **data):
    files = {}
    if image is not None:
        files["image"] = SimpleUploadedFile(image[0], image[1], content_type="application/octet-stream")
    if video is not None:
        files["video"] = SimpleUploadedFile(video[0], video[1], content_type="application/octet-stream")
    return client.post(reverse("portal:portrait_upload", args=[project.slug]), {"title": "", **data, **files})


@pytest.mark.django_db
def test_upload_stores_files_at_tenant_first_paths_and_queues_jobs(
    client, tenants, settings, tmp_path, django_capture_on_commit_callbacks
):
    client.force_login(tenants.editor)
    with django_capture_on_commit_callbacks() as callbacks:
        response = post_upload(
            client,
            tenants.project_a,
            image=("Wedding Kiss.JPG", jpeg_bytes(1200, 900)),
            video=("kiss.mp4", media.mp4_bytes(tmp_path)),
            customer_name="Anna",
            order_reference="ORD-7",
        )
    portrait = Portrait.objects.get()
    assert response.status_code == 302 and response["Location"] == portrait.get_absolute_url()
    assert portrait.title == "Wedding Kiss.JPG" and portrait.customer_name == "Anna"
    assert portrait.uploaded_by == tenants.editor and portrait.company == tenants.a
    assert portrait.image.name.startswith(f"alpha/weddings/{portrait.unique_id}/photo-")
    video = portrait.videos.get()
    assert video.is_active and video.file.name.startswith(f"alpha/weddings/{portrait.unique_id}/video-")
    assert len(stored_files()) == 2
    tenants.a.refresh_from_db()
    assert tenants.a.storage_used_bytes == portrait.image_bytes + video.size_bytes > 0
    kinds = sorted(Job.objects.filter(portrait=portrait).values_list("kind", flat=True))
    assert kinds == ["mindar", "nft", "preview", "video"]
    assert portrait.status == Portrait.Status.PROCESSING
    assert len(callbacks) == 4  # one queued task per job, sent only after the commit
    assert not PendingUpload.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(BAD_IMAGES))
def test_bad_images_leave_no_row_and_no_file(client, tenants, settings, case):
    client.force_login(tenants.owner)
    data, message = BAD_IMAGES[case]
    response = post_upload(client, tenants.project_a, image=("photo.jpg", data))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Portrait.objects.exists() and stored_files() == []
    tenants.a.refresh_from_db()
    assert tenants.a.storage_used_bytes == 0


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(BAD_VIDEOS))
def test_bad_videos_leave_no_row_and_no_file(client, tenants, settings, case):
    client.force_login(tenants.owner)
    data, message = BAD_VIDEOS[case]
    response = post_upload(client, tenants.project_a, image=("p.jpg", jpeg_bytes()), video=("v.mp4", data))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Portrait.objects.exists() and stored_files() == []


@pytest.mark.django_db
def test_missing_image_and_xhr_errors_are_json(client, tenants, settings):
    client.force_login(tenants.owner)
    response = client.post(
        reverse("portal:portrait_upload", args=[tenants.project_a.slug]),
        {"title": "x"},
        HTTP_X_REQUESTED_WITH="XMLHttpRequest",
    )
    assert response.status_code == 400
    assert response.json() == {"errors": {"image": ["Choose the photo to upload."]}}


@pytest.mark.django_db
def test_xhr_upload_answers_with_the_redirect(client, tenants):
    client.force_login(tenants.owner)
    response = client.post(
        reverse("portal:portrait_upload", args=[tenants.project_a.slug]),
        {"title": "T", "image": SimpleUploadedFile("p.jpg", jpeg_bytes())},
        HTTP_X_REQUESTED_WITH="XMLHttpRequest",
    )
    assert response.status_code == 200
    assert response.json()["redirect"] == Portrait.objects.get().get_absolute_url()


@pytest.mark.django_db
def test_quota_is_enforced_with_the_usage_in_the_message(client, tenants, settings):
    tenants.a.storage_quota_bytes = 100_000
    tenants.a.storage_used_bytes = 90_000
    tenants.a.save()
    client.force_login(tenants.owner)
    response = post_upload(client, tenants.project_a, image=("p.jpg", jpeg_bytes()))
    html = response.content.decode()
    assert response.status_code == 400
    assert "Not enough storage left" in html and "87.9\xa0KB of your 97.7\xa0KB are in use" in html
    assert not Portrait.objects.exists() and stored_files() == []
    tenants.a.refresh_from_db()
    assert tenants.a.storage_used_bytes == 90_000


@pytest.mark.django_db
def test_storage_failure_midway_leaves_nothing(client, tenants, settings, tmp_path, monkeypatch):
    storage = storage_for_company(tenants.a)
    real_save = storage.save
    calls = []

    def flaky_save(name, content, max_length=None):
        calls.append(name)
        if len(calls) == 2:
            raise OSError("disk full")
        return real_save(name, content, max_length=max_length)

    monkeypatch.setattr(storage, "save", flaky_save)
    client.force_login(tenants.owner)
    response = post_upload(
        client, tenants.project_a, image=("p.jpg", jpeg_bytes()), video=("v.mp4", media.mp4_bytes(tmp_path))
    )
    assert response.status_code == 400
    assert "The file storage is not reachable right now, so nothing was saved" in response.content.decode()
    assert len(calls) == 2
    assert not Portrait.objects.exists() and not Video.objects.exists() and not PendingUpload.objects.exists()
    assert stored_files() == []
    tenants.a.refresh_from_db()
    assert tenants.a.storage_used_bytes == 0


@pytest.mark.django_db
def test_a_crash_between_files_and_rows_is_rolled_back(tenants, settings, monkeypatch):
    image = validate_image(SimpleUploadedFile("p.jpg", jpeg_bytes()))

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # the worst case: not even an Exception

    monkeypatch.setattr(services, "_queue_processing", crash)
    with pytest.raises(KeyboardInterrupt):
        services.create_portrait(project=tenants.project_a, uploaded_by=tenants.owner, title="x", image=image)
    assert not Portrait.objects.exists() and not PendingUpload.objects.exists()
    assert stored_files() == []
    tenants.a.refresh_from_db()
    assert tenants.a.storage_used_bytes == 0


@pytest.mark.django_db
def test_the_sweeper_undoes_uploads_whose_process_died(tenants, settings):
    from datetime import timedelta

    from django.core.files.base import ContentFile
    from django.utils import timezone

    storage = storage_for_company(tenants.a)
    name = storage.save("alpha/weddings/x/photo-abc.jpg", ContentFile(b"half an upload"))
    assert tenants.a.reserve_storage(14)
    PendingUpload.objects.create(
        company=tenants.a, names=[name], reserved_bytes=14, created_at=timezone.now() - timedelta(hours=2)
    )
    fresh = PendingUpload.objects.create(company=tenants.a, names=["alpha/other"], reserved_bytes=0)
    assert quota.sweep_pending_uploads() == 1
    assert not storage.exists(name)
    assert list(PendingUpload.objects.all()) == [fresh]  # an upload still running is left alone
    tenants.a.refresh_from_db()
    assert tenants.a.storage_used_bytes == 0


@pytest.mark.django_db
def test_delete_removes_every_file_and_gives_the_quota_back(
    client, tenants, settings, tmp_path, django_capture_on_commit_callbacks
):
    client.force_login(tenants.owner)
    post_upload(client, tenants.project_a, image=("p.jpg", jpeg_bytes()), video=("v.mp4", media.mp4_bytes(tmp_path)))
    portrait = Portrait.objects.get()
    assert len(stored_files()) == 2
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("portal:portrait_delete", args=[portrait.unique_id]))
    assert response.status_code == 302
    assert not Portrait.objects.exists() and not Video.objects.exists() and not Job.objects.exists()
    assert stored_files() == []
    tenants.a.refresh_from_db()
    assert tenants.a.storage_used_bytes == 0


@pytest.mark.django_db
def test_concurrent_reservations_never_exceed_the_quota(tenants):
    tenants.a.storage_quota_bytes = 1000
    tenants.a.save()
    results = [tenants.a.reserve_storage(300) for _ in range(5)]
    assert results == [True, True, True, False, False]
    tenants.a.refresh_from_db()
    assert tenants.a.storage_used_bytes == 900
    tenants.a.release_storage(5000)
    tenants.a.refresh_from_db()
    assert tenants.a.storage_used_bytes == 0


@pytest.mark.django_db
def test_add_video_first_one_plays_and_only_one_is_active(tenants, make_portrait, tmp_path):
    portrait = make_portrait(tenants.project_a)
    one = validate_video(SimpleUploadedFile("a.mp4", media.mp4_bytes(tmp_path)))
    two = validate_video(SimpleUploadedFile("b.mp4", media.mp4_bytes(tmp_path)))
    first = services.add_video(portrait=portrait, video=one, title="First", by=None)
    second = services.add_video(portrait=portrait, video=two, title="Second", by=None)
    one.cleanup()
    two.cleanup()
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.is_active and not second.is_active
    assert (first.rotation_order, second.rotation_order) == (0, 1)
    services.activate_video(video=second, by=None)
    assert list(portrait.videos.filter(is_active=True)) == [second]


@pytest.mark.django_db
def test_the_database_refuses_two_active_videos(tenants, make_portrait):
    from django.db import IntegrityError, transaction

    portrait = make_portrait(tenants.project_a, with_video=True)
    portrait.videos.update(is_active=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        Video.objects.create(portrait=portrait, file="x.mp4", is_active=True)
