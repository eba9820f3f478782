"""The whole product in real browsers — Blink, Gecko and WebKit: upload a photo and a video through
the portal, let the pipeline make them ready, then open the QR code's URL with a fake camera that
films the printed photo (a clip with a known truth, arv/testing/clips.py).

Each test runs once per engine; an engine that cannot run here is skipped with the reason."""

from datetime import timedelta

import pytest
from django.utils import timezone

from arv.testing.browser import chromium, make_camera_clip, missing_browser_tools
from arv.testing.clips import clip_of
from arv.testing.drivers import camera_proxy, launch
from viewer.models import ViewSession
from viewer.tests.browser import (
    COUNT_CORNER_UPDATES,
    FOUND_TIMEOUT,
    NOT_FOUND_WAIT,
    OTHER_PHOTO,
    PHOTO,
    REPO_ROOT,
    START_TIMEOUT,
    break_tfjs_webgl,
    corner_errors,
    open_viewer,
    page_errors,
    send_beacon,
    session_of,
    set_viewer_engine,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

INSTAGRAM = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 Instagram 320.0.0.0"
)


# The drift clip is watched on an upright phone's screen (390×844): the 640×480 camera is cropped to
# fill it, and the corners must still be in the camera's own pixels.
@pytest.mark.parametrize(
    ("pose", "screen", "tolerance"), [("frontal", (640, 480), 12), ("drift", (390, 844), 30)], ids=["frontal", "drift"]
)
def test_the_printed_photo_is_found_and_its_video_plays_on_it(
    live_server, ready_upload, engine, pose, screen, tolerance, tmp_path, tmp_path_factory
):
    clip = clip_of(PHOTO, pose, tmp_path_factory)
    with camera_proxy(live_server.url, clip=clip.folder) as proxy, launch(engine, tmp_path, viewport=screen) as browser:
        open_viewer(browser, proxy, ready_upload)
        browser.wait_for("document.body.dataset.arState === 'found'", timeout=FOUND_TIMEOUT)
        browser.wait_for("document.body.dataset.video === 'playing'", timeout=15)
        assert browser.attr("arEngine") == "mindar"
        assert browser.attr("arVariant") == "webgl2"
        # The tracked corners are where the clip put the photo, in the camera video's pixels.
        browser.pause(1.5)  # a few tracked frames: the smoothed pose settles
        errors = corner_errors(browser, clip)
        assert max(errors) <= tolerance, errors
        # Rewritten while tracked (viewer.js writes them 10 times a second; a main thread busy with
        # software WebGL on this 2-core machine runs fewer timers, so only "repeatedly" is asserted
        # here, and the measured rates are in docs/viewer-testing.md).
        assert browser.evaluate(COUNT_CORNER_UPDATES) >= 3
        assert float(browser.attr("arFps")) > 0
        assert page_errors(browser) == []
        send_beacon(browser, proxy)
    session = session_of(ready_upload, proxy, video_played=True)
    assert session.found and session.time_to_found_ms > 0
    assert (session.engine, session.variant, session.fallbacks) == ("mindar", "webgl2", 0)


def test_another_photo_keeps_scanning(live_server, ready_upload, engine, tmp_path, tmp_path_factory):
    clip = clip_of(OTHER_PHOTO, "drift", tmp_path_factory)
    with camera_proxy(live_server.url, clip=clip.folder) as proxy, launch(engine, tmp_path) as browser:
        open_viewer(browser, proxy, ready_upload)
        assert browser.attr("arState") == "scanning"
        frames_before = browser.evaluate("window.__arvFakeCamera.loops * 90 + window.__arvFakeCamera.frame")
        browser.pause(NOT_FOUND_WAIT)
        assert browser.attr("arState") == "scanning"
        assert browser.attr("arCorners") is None
        # The wait only means something if the camera was being analysed all along.
        assert (
            browser.evaluate("window.__arvFakeCamera.loops * 90 + window.__arvFakeCamera.frame") - frames_before > 100
        )
        assert float(browser.attr("arFps")) > 0
        # After ~15 s without the photo, the way out appears.
        browser.wait_for("!document.querySelector('[data-show-after-timeout]').hidden", timeout=10)
        assert browser.text_visible("Just play the video")


# The same for a company on MindAR (the default) and on the arv engine.
@pytest.mark.parametrize("viewer_engine", ["mindar", "arv"])
@pytest.mark.parametrize(
    ("camera", "error", "text"),
    [("deny", "camera-denied", "The camera is blocked"), ("none", "no-camera", "No camera was found")],
)
def test_without_a_camera_the_page_says_why(
    live_server, ready_upload, viewer_engine, engine, camera, error, text, tmp_path
):
    portrait = set_viewer_engine(ready_upload, viewer_engine)
    with camera_proxy(live_server.url, camera=camera) as proxy, launch(engine, tmp_path) as browser:
        open_viewer(browser, proxy, portrait)
        assert browser.evaluate("[document.body.dataset.arState, document.body.dataset.arError]") == ["error", error]
        assert browser.text_visible(text)
        assert browser.text_visible("Play the video")


def test_an_in_app_browser_is_asked_to_open_the_system_browser(live_server, ready_upload, engine, tmp_path):
    with (
        camera_proxy(live_server.url, camera="none", user_agent=INSTAGRAM) as proxy,
        launch(engine, tmp_path) as browser,
    ):
        browser.goto(proxy.url + ready_upload.get_public_url())
        browser.wait_for("!document.querySelector('[data-inapp]').hidden", timeout=START_TIMEOUT)
        assert browser.text_visible("Open this page in your browser")
        assert browser.attr("arState") == "loading"  # nothing starts behind the panel
        browser.evaluate("document.querySelector('[data-action=dismiss-inapp]').click()")
        browser.wait_for("document.body.dataset.arState === 'error'", timeout=START_TIMEOUT)
        assert browser.attr("arError") == "no-camera"  # "try here anyway" went on to the camera


def test_an_expired_photo_gets_the_410_page(live_server, ready_upload, engine, tmp_path):
    ready_upload.expires_at = timezone.now() - timedelta(days=1)
    ready_upload.save()
    with camera_proxy(live_server.url) as proxy, launch(engine, tmp_path) as browser:
        browser.goto(proxy.url + ready_upload.get_public_url())
        assert proxy.status_of(ready_upload.get_public_url()) == 410
        assert browser.text_visible("This living photo has ended")


# --- The fallback chain ---------------------------------------------------------------------------
def test_when_webgl2_fails_the_viewer_retries_on_webgl1_and_finds_the_photo(
    live_server, ready_upload, engine, tmp_path, tmp_path_factory
):
    clip = clip_of(PHOTO, "frontal", tmp_path_factory)
    broken = break_tfjs_webgl(2)
    with (
        camera_proxy(live_server.url, clip=clip.folder, init_scripts=(broken,)) as proxy,
        launch(engine, tmp_path) as browser,
    ):
        open_viewer(browser, proxy, ready_upload)
        browser.wait_for("document.body.dataset.arState === 'found'", timeout=FOUND_TIMEOUT)
        assert browser.attr("arFailed") == "mindar/webgl2"
        assert (browser.attr("arEngine"), browser.attr("arVariant")) == ("mindar", "webgl1")
        assert max(corner_errors(browser, clip, samples=3)) <= 12
        assert any("Failed to link vertex and fragment shaders" in m for m in browser.console())
        send_beacon(browser, proxy)
    session = session_of(ready_upload, proxy, video_played=True)
    assert (session.engine, session.variant, session.fallbacks) == ("mindar", "webgl1", 1)
    assert session.found and session.error == ""


def test_when_every_engine_fails_the_video_plays_full_screen(
    live_server, ready_upload, engine, tmp_path, tmp_path_factory
):
    clip = clip_of(PHOTO, "frontal", tmp_path_factory)
    broken = break_tfjs_webgl(1, 2)
    with (
        camera_proxy(live_server.url, clip=clip.folder, init_scripts=(broken,)) as proxy,
        launch(engine, tmp_path) as browser,
    ):
        browser.goto(proxy.url + ready_upload.get_public_url())
        browser.wait_for("document.body.dataset.arState === 'error'", timeout=START_TIMEOUT * 2)
        assert browser.attr("arError") == "unsupported"
        assert browser.attr("arFailed") == "mindar/webgl2 mindar/webgl1"
        assert browser.attr("arEngine") == "fallback"
        browser.wait_for(
            "document.querySelector('[data-fallback] video').currentTime > 0", timeout=30, allow_error=True
        )
        assert browser.visible("[data-fallback] video")
        send_beacon(browser, proxy)
    session = session_of(ready_upload, proxy, video_played=True)
    assert (session.engine, session.variant, session.fallbacks) == ("fallback", "", 2)
    assert session.error == "unsupported"


# --- A studio's own domain (Chromium only: its host-resolver rules map the studio's names here) ---
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
    reason = missing_browser_tools(REPO_ROOT)
    if reason:
        pytest.skip(reason)
    clip = make_camera_clip(PHOTO, tmp_path / "camera.mjpeg")
    with chromium(clip, tmp_path / "profile", extra_args=flags) as context:
        problems = []
        context.on("console", lambda m: m.type == "error" and problems.append(m.text))
        context.on("requestfailed", lambda r: problems.append(f"{r.url}: {r.failure}"))
        page = context.new_page()
        page.goto(f"http://ar.alpha.test:{port}{ready_upload.get_public_url()}")
        assert page.is_visible("text=Studio Lumière")
        page.wait_for_selector("body[data-ar-state='found']", state="attached", timeout=FOUND_TIMEOUT * 1000)
        page.wait_for_selector("body[data-video='playing']", state="attached", timeout=15_000)
        page.close()
        other = context.new_page()
        response = other.goto(f"http://ar.beta.test:{port}{ready_upload.get_public_url()}")
        assert response.status == 404 and other.is_visible("text=Nothing here")
        other.close()
    # A 404 logs one console error in Chromium (the favicon, the other studio's page); nothing
    # else may fail.
    assert [p for p in problems if "404" not in p] == []
    session = ViewSession.objects.get(portrait=ready_upload)
    assert session.found and session.video_played
