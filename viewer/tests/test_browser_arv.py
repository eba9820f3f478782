"""The `arv` engine on the real viewer page in Blink, Gecko and WebKit: a photo whose company chose
the arv engine, uploaded and processed like any other, opened with the fake camera (a clip with a
known truth). Found, corners within tolerance, the video playing on the photo, no false positive,
and the fallback chain: arv cannot start → MindAR finds the photo. (Without a camera: one test
for MindAR and arv pages, in test_browser.py.)

Each test runs once per engine; an engine that cannot run here is skipped with the reason."""

import pytest

from arv.testing.clips import clip_of
from arv.testing.drivers import camera_proxy, launch
from viewer.tests.browser import (
    COUNT_CORNER_UPDATES,
    FOUND_TIMEOUT,
    NOT_FOUND_WAIT,
    OTHER_PHOTO,
    PHOTO,
    START_TIMEOUT,
    corner_errors,
    engine_params,
    open_viewer,
    page_errors,
    send_beacon,
    session_of,
    set_viewer_engine,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# What only MindAR's runtime and marker would download: never needed when arv serves the visit.
MINDAR_ONLY = ("/vendor/mind-ar/", "/vendor/three/", ".mind")

# A marker that does not download: the chain must skip arv as "did not load" and go on to MindAR.
BREAK_ARVM = """(() => {
  const fetch = window.fetch;
  window.fetch = function (input, init) {
    const url = typeof input === "string" ? input : input.url;
    if (/\\.arvm(\\?|$)/.test(url)) return Promise.resolve(new Response("gone", { status: 503 }));
    return fetch.call(this, input, init);
  };
})();"""

# A tracker worker that dies as it starts (as on a browser whose worker cannot run our modules):
# the arv attempt fails after its marker loaded, and MindAR takes over.
BREAK_ARV_WORKER = """(() => {
  const Native = window.Worker;
  window.Worker = function (url, options) {
    if (String(url).includes("/arv/worker")) {
      const blob = new Blob(["throw new Error('arv worker broken by the test');"], { type: "text/javascript" });
      return new Native(URL.createObjectURL(blob), options);
    }
    return new Native(url, options);
  };
  window.Worker.prototype = Native.prototype;
})();"""


@pytest.fixture
def arv_upload(ready_upload):
    return set_viewer_engine(ready_upload, "arv")


def mindar_requests(proxy) -> list[str]:
    return [e.path for e in proxy.exchanges if any(part in e.path for part in MINDAR_ONLY)]


@pytest.mark.parametrize(
    ("pose", "screen", "tolerance"), [("frontal", (640, 480), 12), ("drift", (390, 844), 30)], ids=["frontal", "drift"]
)
def test_arv_finds_the_photo_and_plays_its_video_on_it(
    live_server, arv_upload, engine, pose, screen, tolerance, tmp_path, tmp_path_factory
):
    clip = clip_of(PHOTO, pose, tmp_path_factory)
    with camera_proxy(live_server.url, clip=clip.folder) as proxy, launch(engine, tmp_path, viewport=screen) as browser:
        open_viewer(browser, proxy, arv_upload)
        browser.wait_for("document.body.dataset.arState === 'found'", timeout=FOUND_TIMEOUT)
        browser.wait_for("document.body.dataset.video === 'playing'", timeout=15)
        assert (browser.attr("arEngine"), browser.attr("arVariant"), browser.attr("arFailed")) == ("arv", "", None)
        browser.pause(1.0)
        errors = corner_errors(browser, clip)
        assert max(errors) <= tolerance, errors
        assert browser.evaluate(COUNT_CORNER_UPDATES) >= 3
        assert float(browser.attr("arFps")) > 0
        # The video is on the photo: shown, and moved onto the print by a matrix3d.
        placed = browser.evaluate(
            "(() => { const v = [...document.querySelectorAll('#ar-container video')].find((e) => e.loop);"
            " return v ? [getComputedStyle(v).visibility, v.style.transform.startsWith('matrix3d')] : null; })()"
        )
        assert placed == ["visible", True]
        assert page_errors(browser) == []
        send_beacon(browser, proxy)
        assert mindar_requests(proxy) == []  # neither MindAR's runtime nor its .mind was downloaded
        assert any(e.path.endswith(".arvm") and e.status == 200 for e in proxy.exchanges)
    session = session_of(arv_upload, proxy, video_played=True)
    assert session.found and session.time_to_found_ms > 0
    assert (session.engine, session.variant, session.fallbacks) == ("arv", "", 0)


def test_arv_does_not_take_another_photo_for_it(live_server, arv_upload, engine, tmp_path, tmp_path_factory):
    clip = clip_of(OTHER_PHOTO, "drift", tmp_path_factory)
    with camera_proxy(live_server.url, clip=clip.folder) as proxy, launch(engine, tmp_path) as browser:
        open_viewer(browser, proxy, arv_upload)
        assert (browser.attr("arState"), browser.attr("arEngine")) == ("scanning", "arv")
        frames_before = browser.evaluate("window.__arvFakeCamera.loops * 90 + window.__arvFakeCamera.frame")
        # Watched all along: any "found" in between would have left its trace in the state history.
        browser.evaluate(
            "(() => { window.__states = [];"
            " new MutationObserver(() => window.__states.push(document.body.dataset.arState)).observe("
            "document.body, {attributes: true, attributeFilter: ['data-ar-state']}); return true; })()"
        )
        browser.pause(NOT_FOUND_WAIT)
        assert browser.attr("arState") == "scanning"
        assert "found" not in browser.evaluate("window.__states")
        assert browser.attr("arCorners") is None
        assert (
            browser.evaluate("window.__arvFakeCamera.loops * 90 + window.__arvFakeCamera.frame") - frames_before > 100
        )
        assert float(browser.attr("arFps")) > 0


# The fallback tests run in Blink and Gecko (MindAR's own chain is tested in all three).
@pytest.mark.parametrize(
    ("breakage", "failed"),
    [(BREAK_ARVM, "arv"), (BREAK_ARV_WORKER, "arv")],
    ids=["marker-does-not-load", "worker-dies"],
)
@pytest.mark.parametrize("engine", engine_params("chromium", "firefox"), indirect=True)
def test_when_arv_cannot_start_mindar_finds_the_photo(
    live_server, arv_upload, engine, breakage, failed, tmp_path, tmp_path_factory
):
    clip = clip_of(PHOTO, "frontal", tmp_path_factory)
    with (
        camera_proxy(live_server.url, clip=clip.folder, init_scripts=(breakage,)) as proxy,
        launch(engine, tmp_path) as browser,
    ):
        open_viewer(browser, proxy, arv_upload)
        browser.wait_for("document.body.dataset.arState === 'found'", timeout=FOUND_TIMEOUT + START_TIMEOUT)
        assert browser.attr("arFailed") == failed
        assert (browser.attr("arEngine"), browser.attr("arVariant")) == ("mindar", "webgl2")
        assert max(corner_errors(browser, clip, samples=3)) <= 12
        send_beacon(browser, proxy)
    session = session_of(arv_upload, proxy, video_played=True)
    assert (session.engine, session.variant, session.fallbacks) == ("mindar", "webgl2", 1)
    assert session.found and session.error == ""
