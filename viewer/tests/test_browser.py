"""The whole product in a real browser: upload a photo and a video through the portal, let the
pipeline make them ready, then open the QR code's URL in headless Chromium whose fake camera
films the printed photo."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from arv.testing.browser import chromium, make_camera_clip, missing_browser_tools
from content.models import Portrait
from content.tests import media
from markers import services
from markers.models import Job

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "markers" / "tests" / "fixtures" / "mindar"
START_TIMEOUT_MS = 60_000
FOUND_TIMEOUT_MS = 60_000
NOT_FOUND_WAIT_MS = 30_000


@pytest.fixture
def ready_upload(client, tenants, tmp_path):
    """coffee_1000.jpg and a short clip, uploaded through the portal and processed."""
    reason = missing_browser_tools(REPO_ROOT)
    if reason:
        pytest.skip(reason)
    client.force_login(tenants.owner)
    response = client.post(
        reverse("portal:portrait_upload", args=[tenants.project_a.slug]),
        {
            "title": "Coffee",
            "image": SimpleUploadedFile("coffee.jpg", (FIXTURES / "coffee_1000.jpg").read_bytes()),
            "video": SimpleUploadedFile("clip.mp4", media.mp4_bytes(tmp_path, seconds=3, size=(640, 360))),
        },
    )
    assert response.status_code == 302
    portrait = Portrait.objects.get()
    for job in Job.objects.filter(portrait=portrait):
        services.run_job(job_id=job.pk)
    portrait.refresh_from_db()
    assert portrait.status == "ready"
    return portrait


def open_page(context, url):
    page = context.new_page()
    page.goto(url)
    # Selectors, not wait_for_function: the page's CSP forbids the eval Playwright would use.
    page.wait_for_selector("body:not([data-ar-state='loading'])", state="attached", timeout=START_TIMEOUT_MS)
    return page


def test_the_printed_photo_is_found_and_its_video_plays(live_server, ready_upload, tmp_path):
    clip = make_camera_clip(FIXTURES / "coffee_1000.jpg", tmp_path / "camera.mjpeg")
    with chromium(clip, tmp_path / "profile") as context:
        violations = []
        context.on("console", lambda m: "Content Security Policy" in m.text and violations.append(m.text))
        page = open_page(context, live_server.url + ready_upload.get_public_url())
        page.wait_for_selector("body[data-ar-state='found']", state="attached", timeout=FOUND_TIMEOUT_MS)
        page.wait_for_selector("body[data-video='playing']", state="attached", timeout=15_000)
        page.close()  # pagehide sends the beacon
    assert violations == []  # the strict policy lets MindAR, three.js and the video run
    from viewer.models import ViewSession

    session = ViewSession.objects.get(portrait=ready_upload)
    assert session.found and session.time_to_found_ms > 0 and session.video_played


def test_another_photo_keeps_scanning(live_server, ready_upload, tmp_path):
    clip = make_camera_clip(FIXTURES / "chelsea_1000.jpg", tmp_path / "camera.mjpeg")
    with chromium(clip, tmp_path / "profile") as context:
        page = open_page(context, live_server.url + ready_upload.get_public_url())
        assert page.evaluate("document.body.dataset.arState") == "scanning"
        page.wait_for_timeout(NOT_FOUND_WAIT_MS)
        assert page.evaluate("document.body.dataset.arState") == "scanning"
        # After ~15 s without the photo, the way out appears.
        assert page.is_visible("text=Just play the video")


def test_a_denied_camera_explains_how_to_allow_it(live_server, ready_upload, tmp_path):
    clip = make_camera_clip(FIXTURES / "coffee_1000.jpg", tmp_path / "camera.mjpeg")
    with chromium(clip, tmp_path / "profile", allow_camera=False) as context:
        page = open_page(context, live_server.url + ready_upload.get_public_url())
        assert page.evaluate("[document.body.dataset.arState, document.body.dataset.arError]") == [
            "error",
            "camera-denied",
        ]
        assert page.is_visible("text=The camera is blocked")
        assert page.is_visible('text="Play the video"')


def test_an_expired_photo_gets_the_410_page(live_server, ready_upload, tmp_path):
    ready_upload.expires_at = timezone.now() - timedelta(days=1)
    ready_upload.save()
    clip = make_camera_clip(FIXTURES / "coffee_1000.jpg", tmp_path / "camera.mjpeg")
    with chromium(clip, tmp_path / "profile") as context:
        page = context.new_page()
        response = page.goto(live_server.url + ready_upload.get_public_url())
        assert response.status == 410
        assert page.is_visible("text=This living photo has ended")


def test_the_photo_plays_on_the_studios_own_domain_with_its_brand(live_server, ready_upload, tmp_path, serve_domains):
    """The same page and flow on ar.alpha.test (resolved to this machine by Chromium itself): the
    runtime, the marker, the video and the beacon all load from the studio's domain under the
    strict policy; another studio's domain does not show the photo."""
    from urllib.parse import urlsplit

    from arv.testing.domains import give_domain
    from companies.models import Company

    Company.objects.filter(pk=ready_upload.company_id).update(brand_name="Studio Lumière", brand_accent_color="#ffd400")
    give_domain(ready_upload.company, "ar.alpha.test")
    give_domain(Company.objects.exclude(pk=ready_upload.company_id).get(), "ar.beta.test")
    port = urlsplit(live_server.url).port
    flags = (
        "--host-resolver-rules=MAP ar.alpha.test 127.0.0.1, MAP ar.beta.test 127.0.0.1",
        # The camera needs a secure context; in production the studio's domain is served over https.
        f"--unsafely-treat-insecure-origin-as-secure=http://ar.alpha.test:{port},http://ar.beta.test:{port}",
    )
    clip = make_camera_clip(FIXTURES / "coffee_1000.jpg", tmp_path / "camera.mjpeg")
    with chromium(clip, tmp_path / "profile", extra_args=flags) as context:
        problems = []
        context.on("console", lambda m: m.type == "error" and problems.append(m.text))
        context.on("requestfailed", lambda r: problems.append(f"{r.url}: {r.failure}"))
        page = open_page(context, f"http://ar.alpha.test:{port}{ready_upload.get_public_url()}")
        assert page.is_visible("text=Studio Lumière")
        page.wait_for_selector("body[data-ar-state='found']", state="attached", timeout=FOUND_TIMEOUT_MS)
        page.wait_for_selector("body[data-video='playing']", state="attached", timeout=15_000)
        page.close()
        other = context.new_page()
        response = other.goto(f"http://ar.beta.test:{port}{ready_upload.get_public_url()}")
        assert response.status == 404 and other.is_visible("text=Nothing here")
        other.close()
    # A 404 logs one console error in Chromium (the favicon, the other studio's page); nothing
    # else may fail.
    assert [p for p in problems if "404" not in p] == []
    from viewer.models import ViewSession

    session = ViewSession.objects.get(portrait=ready_upload)
    assert session.found and session.video_played
