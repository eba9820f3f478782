"""The arv engine (static/viewer/arv/engine.js + worker.js) in real headless Chromium, on its own
test page (viewer/tests/arv_page/arv.html): the fake camera films a printed photo whose compact
marker the page loads. The print must be found with its corners inside the frame and the
element laid on it, the worker must be processing frames, and a clip of another photo must never
be taken for it. The page integration (viewer.js, the fallback chain) is tested elsewhere."""

import json
from pathlib import Path

import pytest

from arv.testing.browser import chromium, make_camera_clip, missing_browser_tools, static_server, wait_until
from markers.mindar import compact_from_mind, compile_mind, decode_image, to_grey
from viewer.tests.browser import MINDAR_FIXTURES, REPO_ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGE_DIR = Path(__file__).parent / "arv_page"
START_TIMEOUT_MS = 30_000
FOUND_TIMEOUT_MS = 30_000  # found ~1 s after the start in the measured runs
FRAMES_BEFORE_VERDICT = 150  # 10 s of a 15 fps clip analysed without a false detection


@pytest.fixture
def workspace(tmp_path):
    reason = missing_browser_tools(REPO_ROOT)
    if reason:
        pytest.skip(reason)
    grey = to_grey(decode_image((MINDAR_FIXTURES / "pictarize.jpg").read_bytes()))
    (tmp_path / "target.arvm").write_bytes(compact_from_mind(compile_mind([grey]).data))
    return tmp_path


def routes(workspace: Path) -> dict[str, Path]:
    return {"/static/": REPO_ROOT / "static", "/page/": PAGE_DIR, "/data/": workspace}


def open_page(context, base_url: str, marker: str = "/data/target.arvm"):
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{base_url}/page/arv.html?marker={marker}")
    wait_until(page, "document.body.dataset.state !== 'loading'", timeout=START_TIMEOUT_MS)
    return page, errors


def dataset(page) -> dict:
    return page.evaluate("({...document.body.dataset})")


def test_the_printed_photo_is_found_and_the_video_laid_on_it(workspace):
    clip = make_camera_clip(MINDAR_FIXTURES / "pictarize.jpg", workspace / "camera.mjpeg")
    with static_server(routes(workspace)) as base_url, chromium(clip, workspace / "profile") as context:
        page, errors = open_page(context, base_url)
        assert dataset(page)["state"] == "started", dataset(page)
        found = "Number(document.body.dataset.found) > 0 && document.body.dataset.corners"
        wait_until(page, found, timeout=FOUND_TIMEOUT_MS)
        # Let it track for a moment: the corners keep coming, the worker keeps processing.
        frames = int(dataset(page)["frames"])
        wait_until(page, f"Number(document.body.dataset.frames) > {frames + 20}", timeout=10_000)
        data = dataset(page)
        corners = json.loads(data["corners"])
        assert len(corners) == 4
        # The print fills about 5/8 x 19/24 of the 640x480 frame, centred: every corner is inside
        # the frame and the quadrilateral is a large part of it.
        assert all(0 <= x <= 640 and 0 <= y <= 480 for x, y in corners), corners
        xs, ys = [x for x, _ in corners], [y for _, y in corners]
        assert max(xs) - min(xs) > 250 and max(ys) - min(ys) > 250, corners
        stats = page.evaluate("window.arvEngine.stats()")
        assert stats["source"] in {"videoframe", "bitmap", "canvas"}
        assert stats["processing"]["width"] == 640
        # The element laid on the photo covers the same region of the page.
        box = page.evaluate(
            "(() => { const el = document.getElementById('photo-video'); const r = el.getBoundingClientRect();"
            " return [r.left, r.top, r.right, r.bottom, getComputedStyle(el).visibility]; })()"
        )
        assert box[4] == "visible"
        assert abs(box[0] - min(xs)) < 25 and abs(box[2] - max(xs)) < 25, (box, corners)
        assert abs(box[1] - min(ys)) < 25 and abs(box[3] - max(ys)) < 25, (box, corners)
        assert "runtimeError" not in data
        assert errors == []


HIDE = """(() => {
  Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
  document.dispatchEvent(new Event("visibilitychange"));
})()"""
SHOW = """(() => {
  Object.defineProperty(document, "visibilityState", { value: "visible", configurable: true });
  document.dispatchEvent(new Event("visibilitychange"));
})()"""


def test_a_hidden_page_stops_the_camera_and_the_worker_and_resumes_when_visible(workspace):
    clip = make_camera_clip(MINDAR_FIXTURES / "pictarize.jpg", workspace / "camera.mjpeg", seconds=8)
    with static_server(routes(workspace)) as base_url, chromium(clip, workspace / "profile") as context:
        page, errors = open_page(context, base_url)
        wait_until(page, "Number(document.body.dataset.found) > 0", timeout=FOUND_TIMEOUT_MS)
        page.evaluate(HIDE)
        stats = page.evaluate("window.arvEngine.stats()")
        assert (stats["running"], stats["cameraOn"], stats["workerOn"]) == (False, False, False)
        assert page.evaluate("document.querySelector('#ar video').srcObject") is None
        assert dataset(page)["lost"] == "1", "the photo is reported lost when the page hides"
        frames = int(dataset(page)["frames"])
        page.wait_for_timeout(1000)
        assert int(dataset(page)["frames"]) == frames, "nothing is processed while hidden"
        page.evaluate(SHOW)
        wait_until(page, "Number(document.body.dataset.found) > 1", timeout=FOUND_TIMEOUT_MS)
        stats = page.evaluate("window.arvEngine.stats()")
        assert (stats["running"], stats["cameraOn"], stats["workerOn"]) == (True, True, True)
        assert int(dataset(page)["frames"]) > frames
        # stop() releases everything for good
        page.evaluate("window.arvEngine.stop()")
        stats = page.evaluate("window.arvEngine.stats()")
        assert (stats["running"], stats["cameraOn"], stats["workerOn"]) == (False, False, False)
        assert page.evaluate("document.querySelectorAll('#ar video').length") == 0
        assert errors == []


def test_another_photo_is_not_taken_for_it(workspace):
    clip = make_camera_clip(MINDAR_FIXTURES / "coffee_1000.jpg", workspace / "camera.mjpeg", seconds=12)
    with static_server(routes(workspace)) as base_url, chromium(clip, workspace / "profile") as context:
        page, errors = open_page(context, base_url)
        assert dataset(page)["state"] == "started", dataset(page)
        wait_until(page, f"Number(document.body.dataset.frames) >= {FRAMES_BEFORE_VERDICT}", timeout=60_000)
        data = dataset(page)
        assert data["found"] == "0"
        assert "corners" not in data
        assert errors == []


def test_a_missing_marker_is_a_load_failure(workspace):
    clip = make_camera_clip(MINDAR_FIXTURES / "pictarize.jpg", workspace / "camera.mjpeg", seconds=2)
    with static_server(routes(workspace)) as base_url, chromium(clip, workspace / "profile") as context:
        page, _ = open_page(context, base_url, marker="/data/missing.arvm")
        assert dataset(page)["state"] == "error"
        assert dataset(page)["error"] == "load-failed"
        # A .mind is not a compact marker either.
        (workspace / "target.mind").write_bytes(b"\x82\xa1v\x02")
        page, _ = open_page(context, base_url, marker="/data/target.mind")
        assert (dataset(page)["state"], dataset(page)["error"]) == ("error", "load-failed")


def test_a_refused_camera_is_reported_as_such(workspace):
    clip = make_camera_clip(MINDAR_FIXTURES / "pictarize.jpg", workspace / "camera.mjpeg", seconds=2)
    refused = chromium(clip, workspace / "profile", allow_camera=False)
    with static_server(routes(workspace)) as base_url, refused as context:
        page, _ = open_page(context, base_url)
        assert (dataset(page)["state"], dataset(page)["error"]) == ("error", "camera-denied")
