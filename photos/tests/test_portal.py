import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from arv.testing import media
from arv.testing.qr import decode_qr
from content.models import Portrait, Video
from markers.models import Job


@pytest.mark.django_db
def test_project_page_lists_searches_and_paginates_with_constant_queries(
    client, tenants, make_portrait, django_assert_max_num_queries
):
    for i in range(3):
        make_portrait(tenants.project_a, title=f"Photo {i}", customer_name="Ivanova" if i == 1 else "")
    make_portrait(tenants.project_b, title="Not ours")
    client.force_login(tenants.owner)
    url = reverse("portal:project_detail", args=[tenants.project_a.slug])
    client.get(url)
    # session, user, memberships, project, count, page of portraits
    with django_assert_max_num_queries(6):
        html = client.get(url).content.decode()
    assert "Photo 0" in html and "Photo 2" in html and "Not ours" not in html
    for i in range(3, 30):
        make_portrait(tenants.project_a, title=f"Photo {i}")
    with django_assert_max_num_queries(6):
        html = client.get(url).content.decode()
    assert "Page 1 of 2" in html
    html = client.get(url, {"q": "ivanova"}).content.decode()
    assert "Photo 1" in html and "Photo 2" not in html
    assert client.get(url, {"page": "999"}).status_code == 200
    assert client.get(url, {"page": "<script>"}).status_code == 200


@pytest.mark.django_db
def test_portrait_page_shows_videos_qr_and_actions(client, tenants, make_portrait, django_assert_max_num_queries):
    portrait = make_portrait(tenants.project_a, title="Anna & Ivan", with_video=True)
    Job.objects.create(
        portrait=portrait,
        kind="mindar",
        status="ready",
        report={"score": 83, "warnings": [{"code": "large_plain_areas", "message": "x"}]},
    )
    client.force_login(tenants.owner)
    url = reverse("portal:portrait_detail", args=[portrait.unique_id])
    client.get(url)
    with django_assert_max_num_queries(7):
        html = client.get(url).content.decode()
    assert "Anna &amp; Ivan" in html
    assert portrait.public_url in html
    assert "Trackability: <strong>83</strong> / 100" in html
    assert "Large plain areas" in html
    assert "Clip" in html and "Regenerate marker" in html


@pytest.mark.django_db
def test_status_endpoint(client, tenants, make_portrait):
    portrait = make_portrait(tenants.project_a, with_video=True)
    Job.objects.create(
        portrait=portrait, kind="mindar", status="failed", error="The uploaded file is missing from the storage."
    )
    client.force_login(tenants.viewer)
    data = client.get(reverse("portal:portrait_status", args=[portrait.unique_id])).json()
    assert data["status"] == "processing"
    assert data["jobs"] == [
        {
            "kind": "mindar",
            "video": None,
            "status": "failed",
            "label": "Failed",
            "error": "The uploaded file is missing from the storage.",
        }
    ]
    assert data["marker"]["status"] == "failed"


@pytest.mark.django_db
def test_qr_codes_encode_the_public_url(client, tenants, make_portrait, settings):
    settings.SITE_URL = "https://ar.example.com"
    portrait = make_portrait(tenants.project_a)
    client.force_login(tenants.viewer)
    response = client.get(reverse("portal:portrait_qr_png", args=[portrait.unique_id]), {"download": "1"})
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("attachment;")
    assert decode_qr(Image.open(io.BytesIO(response.content))) == f"https://ar.example.com/v/{portrait.unique_id}/"
    svg = client.get(reverse("portal:portrait_qr_svg", args=[portrait.unique_id]))
    assert svg["Content-Type"] == "image/svg+xml" and svg.content.startswith(b"<?xml")


@pytest.mark.django_db
@pytest.mark.parametrize(("fmt", "width_mm"), [("a4", 210), ("card", 100), ("bogus", 210)])
def test_print_sheet_has_the_photo_a_scannable_qr_and_the_url(client, tenants, make_portrait, fmt, width_mm):
    pdfium = pytest.importorskip("pypdfium2")
    portrait = make_portrait(tenants.project_a)
    client.force_login(tenants.owner)
    response = client.get(reverse("portal:portrait_print_sheet", args=[portrait.unique_id]), {"format": fmt})
    assert response["Content-Type"] == "application/pdf"
    page = pdfium.PdfDocument(response.content)[0]
    assert round(page.get_width() / 72 * 25.4) == width_mm
    text = page.get_textpage().get_text_range().replace("\r", "").replace("\n", " ")
    assert "Scan the QR code, then point your camera at the photo." in text
    assert portrait.public_url in text.replace(" ", "")
    # The QR code sits in the bottom-left corner, below the photo. OpenCV's detector is fussy about
    # module size, so look at a few resolutions the way a phone would at different distances.
    decoded = set()
    for scale in (2, 3, 4, 6):
        rendered = page.render(scale=scale).to_pil()
        w, h = rendered.size
        decoded.add(decode_qr(rendered.crop((0, int(h * 0.6), w // 2, h))))
    assert portrait.public_url in decoded


@pytest.mark.django_db
def test_print_sheet_in_russian(client, tenants, make_portrait):
    pdfium = pytest.importorskip("pypdfium2")
    portrait = make_portrait(tenants.project_a)
    client.force_login(tenants.owner)
    response = client.get(reverse("portal:portrait_print_sheet", args=[portrait.unique_id]), HTTP_ACCEPT_LANGUAGE="ru")
    text = pdfium.PdfDocument(response.content)[0].get_textpage().get_text_range()
    assert "наведите" in text


@pytest.mark.django_db
def test_print_sheet_of_a_damaged_photo_explains_instead_of_failing(client, tenants, make_portrait):
    from django.core.files.base import ContentFile

    portrait = make_portrait(tenants.project_a)
    storage = portrait.image.storage
    storage.delete(portrait.image.name)
    storage.save(portrait.image.name, ContentFile(b"not a photo any more"))
    client.force_login(tenants.owner)
    response = client.get(reverse("portal:portrait_print_sheet", args=[portrait.unique_id]), follow=True)
    assert response.redirect_chain == [(portrait.get_absolute_url(), 302)]
    assert "could not be read to make its print sheet" in response.content.decode()


@pytest.mark.django_db
def test_edit_portrait_and_bad_input(client, tenants, make_portrait):
    portrait = make_portrait(tenants.project_a)
    client.force_login(tenants.editor)
    url = reverse("portal:portrait_edit", args=[portrait.unique_id])
    response = client.post(
        url,
        {
            "title": "New",
            "customer_email": "not-an-email",
            "published_at": "2026-05-02T10:00",
            "expires_at": "2026-05-01T10:00",
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Enter a valid email address." in html and "must stop being shown after it starts" in html
    response = client.post(url, {"title": "New title", "customer_name": "Anna", "is_active": ""})
    assert response.status_code == 302
    portrait.refresh_from_db()
    assert (portrait.title, portrait.customer_name, portrait.is_active) == ("New title", "Anna", False)


@pytest.mark.django_db
def test_video_management(client, tenants, make_portrait, tmp_path, django_capture_on_commit_callbacks):
    portrait = make_portrait(tenants.project_a, with_video=True)
    first = portrait.videos.get()
    client.force_login(tenants.editor)
    url = reverse("portal:video_add", args=[portrait.unique_id])
    response = client.post(url, {"video": SimpleUploadedFile("b.mp4", media.mp4_bytes(tmp_path)), "title": "Second"})
    assert response.status_code == 302
    second = portrait.videos.get(title="Second")
    assert not second.is_active and second.rotation_order == 1
    assert Job.objects.filter(video=second, kind="video").exists()

    response = client.post(url, {"video": SimpleUploadedFile("t.mp4", b"plain text")}, follow=True)
    assert "not a video we can use" in response.content.decode()
    assert portrait.videos.count() == 2

    client.post(reverse("portal:video_activate", args=[portrait.unique_id, second.pk]))
    assert list(portrait.videos.filter(is_active=True)) == [second]
    client.post(reverse("portal:video_activate", args=[portrait.unique_id, second.pk]), {"active": "0"})
    assert not portrait.videos.filter(is_active=True).exists()

    edit = reverse("portal:video_edit", args=[portrait.unique_id, second.pk])
    response = client.post(
        edit, {"title": "S", "schedule_start": "2026-12-24T18:00", "schedule_end": "2026-12-24T10:00"}
    )
    assert "must stop playing after it starts" in response.content.decode()
    response = client.post(
        edit, {"title": "S", "schedule_start": "2026-12-24T18:00", "schedule_end": "2026-12-26T10:00"}
    )
    assert response.status_code == 302
    second.refresh_from_db()
    assert second.schedule_start.day == 24 and second.schedule_end.day == 26

    client.post(reverse("portal:video_move", args=[portrait.unique_id, second.pk]), {"direction": "up"})
    assert list(portrait.videos.values_list("pk", flat=True)) == [second.pk, first.pk]

    tenants.a.refresh_from_db()
    used = tenants.a.storage_used_bytes
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("portal:video_delete", args=[portrait.unique_id, second.pk]))
    assert not Video.objects.filter(pk=second.pk).exists()
    tenants.a.refresh_from_db()
    assert tenants.a.storage_used_bytes == used - second.stored_bytes


@pytest.mark.django_db
def test_regenerate_requeues_the_marker(client, tenants, make_portrait):
    portrait = make_portrait(tenants.project_a)
    job = Job.objects.create(portrait=portrait, kind="mindar", status="failed", error="x", attempts=5)
    client.force_login(tenants.owner)
    client.post(reverse("portal:portrait_regenerate", args=[portrait.unique_id]))
    job.refresh_from_db()
    assert (job.status, job.attempts, job.error) == ("pending", 0, "")
    assert Portrait.objects.get(pk=portrait.pk).status == "processing"


@pytest.mark.django_db
def test_a_photo_can_be_switched_to_the_arv_engine_and_nothing_else(client, tenants, make_portrait):
    portrait = make_portrait(tenants.project_a)
    client.force_login(tenants.editor)
    url = reverse("portal:portrait_edit", args=[portrait.unique_id])
    response = client.post(url, {"title": "T", "viewer_engine": "three.js; DROP TABLE"})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    portrait.refresh_from_db()
    assert portrait.viewer_engine == ""
    assert client.post(url, {"title": "T", "viewer_engine": "arv"}).status_code == 302
    portrait.refresh_from_db()
    assert portrait.viewer_engine == "arv" and portrait.engine == "arv"
    # Another company cannot switch it back, nor can a viewer of this one.
    for user in (tenants.outsider, tenants.viewer):
        client.force_login(user)
        assert client.post(url, {"title": "T", "viewer_engine": "mindar"}).status_code in (403, 404)
    portrait.refresh_from_db()
    assert portrait.viewer_engine == "arv"
