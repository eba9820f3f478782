"""/api/v1/portraits/: list with filters, multipart upload, retrieve, update, delete."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from arv.testing import media
from arv.testing.api import errors_of, stored_files, token_client
from arv.testing.factories import jpeg_bytes
from companies.models import PendingUpload
from companies.storage import storage_for_company
from content.models import Portrait, Video
from content.tests.test_validators import BAD_IMAGES, BAD_VIDEOS
from markers.models import Job

PORTRAITS = "/api/v1/portraits/"


def url(portrait, suffix: str = "") -> str:
    return f"{PORTRAITS}{portrait.unique_id}/{suffix}"


def upload(client, project="weddings", *, image=("photo.jpg", None), video=None, **fields):
    data = {"project": project, **fields}
    if image is not None:
        data["image"] = SimpleUploadedFile(image[0], image[1] if image[1] is not None else jpeg_bytes())
    if video is not None:
        data["video"] = SimpleUploadedFile(video[0], video[1])
    return client.post(PORTRAITS, data, format="multipart")




def assert_nothing_stored(company):
    assert not Portrait.objects.exists() and not Video.objects.exists() and not PendingUpload.objects.exists()
    assert stored_files() == []
    company.refresh_from_db()
    assert company.storage_used_bytes == 0


# --- Upload --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_upload_with_a_video_stores_everything_and_queues_the_jobs(
    tenants, tmp_path, private_tmp, django_capture_on_commit_callbacks
):
    client = token_client(tenants.editor)
    with django_capture_on_commit_callbacks() as callbacks:
        response = upload(
            client,
            image=("Kiss.JPG", jpeg_bytes(1200, 900)),
            video=("kiss.mp4", media.mp4_bytes(tmp_path)),
            title="Anna & Ivan <3",
            video_title="First dance",
            customer_name="Анна",
            customer_email="anna@example.com",
            order_reference="ORD-7",
            expires_at="2031-01-01T00:00:00Z",
        )
    assert response.status_code == 201, response.json()
    portrait = Portrait.objects.get()
    assert portrait.company == tenants.a and portrait.project == tenants.project_a
    assert portrait.uploaded_by == tenants.editor and portrait.title == "Anna & Ivan <3"
    assert portrait.customer_name == "Анна" and portrait.order_reference == "ORD-7"
    assert portrait.original_filename == "Kiss.JPG" and (portrait.image_width, portrait.image_height) == (1200, 900)
    video = portrait.videos.get()
    assert video.title == "First dance" and video.is_active
    assert len(stored_files()) == 2 and len(callbacks) == 4
    assert sorted(Job.objects.values_list("kind", flat=True)) == ["mindar", "nft", "preview", "video"]
    assert list(private_tmp.iterdir()) == []

    body = response.json()
    assert response["Location"] == f"http://testserver{url(portrait)}"
    assert body["id"] == str(portrait.unique_id) and body["project"] == "weddings"
    assert body["status"] == "processing" and body["viewer_url"] == portrait.public_url
    assert body["qr_png_url"] == f"http://testserver{url(portrait, 'qr.png')}"
    assert body["qr_svg_url"] == f"http://testserver{url(portrait, 'qr.svg')}"
    assert body["markers"]["mindar"]["status"] == "pending" and body["markers"]["nft"]["status"] == "pending"
    assert body["image_url"].startswith("http://testserver/media/") and body["image_url"].endswith(".jpg")
    assert [v["title"] for v in body["videos"]] == ["First dance"]


@pytest.mark.django_db
def test_upload_without_a_title_is_named_after_the_file(tenants):
    response = upload(token_client(tenants.owner), image=("IMG_0042.jpg", None))
    assert response.status_code == 201 and response.json()["title"] == "IMG_0042.jpg"
    assert Portrait.objects.get().videos.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(BAD_IMAGES))
def test_bad_images_are_refused_on_the_image_field_and_nothing_is_stored(tenants, case):
    data, message = BAD_IMAGES[case]
    errors = errors_of(upload(token_client(tenants.owner), image=("photo.jpg", data or b"")))
    assert list(errors) == ["image"] and message in errors["image"][0]
    assert_nothing_stored(tenants.a)


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(BAD_VIDEOS))
def test_bad_videos_are_refused_on_the_video_field_and_nothing_is_stored(tenants, private_tmp, case):
    data, message = BAD_VIDEOS[case]
    errors = errors_of(upload(token_client(tenants.owner), video=("clip.mp4", data)))
    assert list(errors) == ["video"] and message in errors["video"][0]
    assert_nothing_stored(tenants.a)
    assert list(private_tmp.iterdir()) == []


@pytest.mark.django_db
def test_a_good_video_with_a_bad_image_leaves_no_temporary_file(tenants, tmp_path, private_tmp):
    response = upload(
        token_client(tenants.owner), image=("p.jpg", b"not an image"), video=("v.mp4", media.mp4_bytes(tmp_path))
    )
    assert list(errors_of(response)) == ["image"]
    assert_nothing_stored(tenants.a)
    assert list(private_tmp.iterdir()) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"image": None, "project": None}, ["image", "project"]),
        ({"project": "schools"}, ["project"]),  # another company's project does not exist
        ({"project": "../../etc"}, ["project"]),
        ({"title": "t" * 201}, ["title"]),
        ({"title": "a\x00b"}, ["title"]),
        ({"customer_email": "not-an-email"}, ["customer_email"]),
        ({"published_at": "2031-01-02T00:00:00Z", "expires_at": "2031-01-01T00:00:00Z"}, ["expires_at"]),
        ({"published_at": "yesterday"}, ["published_at"]),
    ],
)
def test_bad_fields_are_named_and_nothing_is_stored(tenants, fields, expected):
    data = {"project": "weddings", "image": SimpleUploadedFile("p.jpg", jpeg_bytes())}
    data.update({k: v for k, v in fields.items() if v is not None})
    for name in [k for k, v in fields.items() if v is None]:
        del data[name]
    errors = errors_of(token_client(tenants.owner).post(PORTRAITS, data, format="multipart"))
    assert sorted(errors) == expected
    assert_nothing_stored(tenants.a)


@pytest.mark.django_db
def test_uploads_must_be_multipart(tenants):
    response = token_client(tenants.owner).post(PORTRAITS, {"project": "weddings"}, format="json")
    assert response.status_code == 415


@pytest.mark.django_db
def test_size_limits_are_the_portals(tenants, settings):
    settings.UPLOAD_MAX_MB = 1
    settings.VIDEO_MAX_MB = 1
    client = token_client(tenants.owner)
    big = b"\xff\xd8\xff" + b"\x00" * (1024 * 1024 + 1)
    errors = errors_of(upload(client, image=("big.jpg", big)))
    assert errors["image"] == ["The file is 1.0\xa0MB; the limit is 1.0\xa0MB."]
    # A body larger than every file limit together is refused before it is read.
    huge = b"\x00" * (3 * 1024 * 1024 + 1)
    response = upload(client, image=("huge.jpg", huge))
    assert response.status_code == 413 and response.json()["code"] == "too_large"
    assert_nothing_stored(tenants.a)


@pytest.mark.django_db
def test_quota_and_storage_failures_leave_nothing(tenants, monkeypatch):
    tenants.a.storage_quota_bytes = 100_000
    tenants.a.save()
    client = token_client(tenants.owner)
    errors = errors_of(upload(client))
    assert "Not enough storage left" in errors["non_field_errors"][0]
    assert_nothing_stored(tenants.a)

    tenants.a.storage_quota_bytes = 10**9
    tenants.a.save()
    storage = storage_for_company(tenants.a)

    def broken_save(name, content, max_length=None):
        raise OSError("disk full")

    monkeypatch.setattr(storage, "save", broken_save)
    response = upload(client)
    assert response.status_code == 503
    assert response.json() == {
        "detail": "The file storage is not reachable right now, so nothing was saved. "
        "Please try again in a few minutes.",
        "code": "unavailable",
    }
    assert_nothing_stored(tenants.a)


@pytest.mark.django_db
def test_viewers_and_read_only_companies_cannot_upload(tenants):
    response = upload(token_client(tenants.viewer))
    assert response.status_code == 403 and "viewer" in response.json()["detail"]
    tenants.a.is_active = False
    tenants.a.save()
    response = upload(token_client(tenants.owner))
    assert response.status_code == 403 and "deactivated" in response.json()["detail"]
    assert_nothing_stored(tenants.a)


# --- List ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_list_is_scoped_and_takes_constant_queries(tenants, make_portrait, django_assert_num_queries):
    for i in range(3):
        portrait = make_portrait(tenants.project_a, title=f"Photo {i}", with_video=True)
        Job.objects.create(portrait=portrait, kind="mindar", status="ready", report={"score": 70 + i})
    make_portrait(tenants.project_b, title="Not ours")
    client = token_client(tenants.viewer)
    # token + user, memberships, count, page of portraits (project, company, storage connection
    # joined), their marker jobs, their videos
    with django_assert_num_queries(6):
        body = client.get(PORTRAITS).json()
    assert body["count"] == 3
    assert [p["title"] for p in body["results"]] == ["Photo 2", "Photo 1", "Photo 0"]
    assert [p["markers"]["mindar"]["score"] for p in body["results"]] == [72, 71, 70]
    for i in range(3, 12):
        make_portrait(tenants.project_a, title=f"Photo {i}", with_video=True)
    with django_assert_num_queries(6):
        body = client.get(PORTRAITS, {"page_size": 10}).json()
    assert body["count"] == 12 and len(body["results"]) == 10


@pytest.mark.django_db
def test_list_filters(tenants, make_portrait):
    from companies.models import Project

    other = Project.objects.create(company=tenants.a, name="Schools", slug="schools-a")
    old = make_portrait(tenants.project_a, title="Old one", customer_name="Ivanova")
    Portrait.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=30))
    make_portrait(tenants.project_a, title="Hidden", is_active=False, status=Portrait.Status.READY)
    make_portrait(other, title="Class of 2031", order_reference="ORD-2031")
    client = token_client(tenants.owner)

    def titles(**params):
        response = client.get(PORTRAITS, params)
        assert response.status_code == 200, response.json()
        return sorted(p["title"] for p in response.json()["results"])

    assert titles() == ["Class of 2031", "Hidden", "Old one"]
    assert titles(project="schools-a") == ["Class of 2031"]
    assert titles(project="schools") == []  # company B's slug: nothing, not B's photos
    assert titles(status="ready") == ["Hidden"]
    assert titles(active="false") == ["Hidden"]
    assert titles(active="true") == ["Class of 2031", "Old one"]
    assert titles(search="ivanOVA") == ["Old one"]
    assert titles(search="ORD-2031") == ["Class of 2031"]
    assert titles(search="") == ["Class of 2031", "Hidden", "Old one"]
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert titles(created_after=since) == ["Class of 2031", "Hidden"]
    assert titles(created_before=since) == ["Old one"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "gone"}, "status"),
        ({"active": "perhaps"}, "active"),
        ({"created_after": "last week"}, "created_after"),
        ({"search": "x" * 101}, "search"),
        ({"search": "nul\x00byte"}, "search"),
        ({"project": "not a slug"}, "project"),
    ],
)
def test_list_refuses_bad_filters_by_name(tenants, params, field):
    assert list(errors_of(token_client(tenants.owner).get(PORTRAITS, params))) == [field]


# --- Retrieve, update, delete --------------------------------------------------------------------------


@pytest.mark.django_db
def test_retrieve_shows_markers_with_download_urls(tenants, make_portrait, django_assert_num_queries):
    from django.core.files.base import ContentFile

    portrait = make_portrait(tenants.project_a, title="Anna", with_video=True)
    name = storage_for_company(tenants.a).save(f"{portrait.storage_dir}/marker.mind", ContentFile(b"mind"))
    Job.objects.create(
        portrait=portrait,
        kind="mindar",
        status="ready",
        output=name,
        report={"score": 83, "warnings": [{"code": "low_contrast", "message": "x"}]},
    )
    client = token_client(tenants.viewer)
    with django_assert_num_queries(5):  # token + user, memberships, portrait, its marker jobs, its videos
        body = client.get(url(portrait)).json()
    marker = body["markers"]["mindar"]
    assert marker["status"] == "ready" and marker["score"] == 83
    assert marker["url"] == "http://testserver" + storage_for_company(tenants.a).url(name)
    assert marker["warnings"] == [
        {"code": "low_contrast", "text": "The photo is low in contrast; a brighter, crisper print tracks better."}
    ]
    assert body["videos"][0]["url"].endswith("/video.mp4") and body["videos"][0]["is_active"] is False
    assert client.get(marker["url"]).status_code == 200


@pytest.mark.django_db
def test_a_storage_that_cannot_give_urls_does_not_break_the_answer(tenants, make_portrait, monkeypatch):
    portrait = make_portrait(tenants.project_a, with_video=True)
    storage = storage_for_company(tenants.a)

    def no_url(name):
        raise ConnectionError("signing service down")

    monkeypatch.setattr(storage, "url", no_url)
    response = token_client(tenants.owner).get(url(portrait))
    assert response.status_code == 200
    body = response.json()
    assert body["image_url"] is None and body["videos"][0]["url"] is None
    assert body["viewer_url"] == portrait.public_url


@pytest.mark.django_db
def test_other_companies_portraits_do_not_exist(tenants, make_portrait):
    theirs = make_portrait(tenants.project_b, title="Theirs")
    client = token_client(tenants.owner)
    for method, kwargs in [("get", {}), ("patch", {"data": {"title": "Mine"}, "format": "json"}), ("delete", {})]:
        response = getattr(client, method)(url(theirs), **kwargs)
        assert response.status_code == 404, method
        assert response.json() == {"detail": "Not found.", "code": "not_found"}
    theirs.refresh_from_db()
    assert theirs.title == "Theirs"
    assert client.get(f"{PORTRAITS}00000000-0000-0000-0000-000000000000/").status_code == 404


@pytest.mark.django_db
def test_update_changes_the_fields_sent(tenants, make_portrait):
    portrait = make_portrait(tenants.project_a, title="Old", customer_name="Keep")
    client = token_client(tenants.editor)
    response = client.patch(
        url(portrait), {"title": "New <title>", "is_active": False, "order_reference": "R-1"}, format="json"
    )
    assert response.status_code == 200
    portrait.refresh_from_db()
    assert (portrait.title, portrait.is_active, portrait.order_reference) == ("New <title>", False, "R-1")
    assert portrait.customer_name == "Keep"
    assert response.json()["title"] == "New <title>" and response.json()["is_active"] is False


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": None}, "title"),
        ({"is_active": "sometimes"}, "is_active"),
        ({"expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),  # before the stored published_at
        ({"customer_phone": "1" * 41}, "customer_phone"),
    ],
)
def test_update_refuses_bad_input_and_changes_nothing(tenants, make_portrait, payload, field):
    portrait = make_portrait(tenants.project_a, title="Same", published_at=timezone.now())
    errors = errors_of(token_client(tenants.owner).patch(url(portrait), payload, format="json"))
    assert list(errors) == [field]
    portrait.refresh_from_db()
    assert portrait.title == "Same" and portrait.expires_at is None and portrait.is_active


@pytest.mark.django_db
def test_viewers_cannot_change_or_delete(tenants, make_portrait):
    portrait = make_portrait(tenants.project_a, title="Same")
    client = token_client(tenants.viewer)
    assert client.patch(url(portrait), {"title": "No"}, format="json").status_code == 403
    assert client.delete(url(portrait)).status_code == 403
    portrait.refresh_from_db()
    assert portrait.title == "Same"


@pytest.mark.django_db
def test_delete_removes_the_rows_and_files_and_gives_the_quota_back(
    tenants, make_portrait, django_capture_on_commit_callbacks
):
    portrait = make_portrait(tenants.project_a, with_video=True)
    tenants.a.storage_used_bytes = portrait.stored_bytes + portrait.videos.get().stored_bytes
    tenants.a.save()
    assert len(stored_files()) == 2
    with django_capture_on_commit_callbacks(execute=True):
        response = token_client(tenants.owner).delete(url(portrait))
    assert response.status_code == 204 and response.content == b""
    assert not Portrait.objects.exists() and not Video.objects.exists()
    assert stored_files() == []
    tenants.a.refresh_from_db()
    assert tenants.a.storage_used_bytes == 0
