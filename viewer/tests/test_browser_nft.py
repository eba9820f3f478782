"""The AR.js NFT page in real browsers: a company set to AR.js uploads a photo through the portal,
the pipeline makes its .iset/.fset/.fset3 with our generator, and the browser, whose fake camera
films the printed photo (arv/testing/clips.py), opens the QR code's URL. The AR.js runtime must
load our three files, find the photo and play its video on it, and must never find it in another
photo. Written once over the three-engine driver interface (arv/testing/drivers.py)."""

import dataclasses
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from arv.testing.browser import missing_node_modules
from arv.testing.clips import BORDER, CATALOGUE, clip_of, render_clip
from arv.testing.drivers import camera_proxy, launch
from arv.testing.factories import upload_through_portal
from arv.testing.processes import wait_for
from viewer.models import ViewSession
from viewer.tests.browser import (
    FOUND_TIMEOUT,
    NOT_FOUND_WAIT,
    REPO_ROOT,
    corner_errors,
    open_viewer,
    send_beacon,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

FIXTURES = REPO_ROOT / "markers" / "tests" / "fixtures" / "nft"
GREEN = (0, 255, 0)


def green_clip(tmp_path: Path) -> bytes:
    """A 16:9 clip of one flat colour, so the video plane is easy to find in a screenshot."""
    out = tmp_path / "green.mp4"
    ffmpeg = shutil.which("ffmpeg") or "ffmpeg"
    args = "-nostdin -loglevel error -y -f lavfi -i color=c=0x00ff00:s=640x360:r=15:d=3 -c:v mpeg4 -q:v 2"
    subprocess.run([ffmpeg, *args.split(), str(out)], check=True)
    return out.read_bytes()


@pytest.fixture
def nft_upload(client, tenants, tmp_path):
    """coffee.jpg (1000×667, 72 dpi) and a green clip, uploaded by a company that uses AR.js."""
    reason = missing_node_modules(REPO_ROOT, ("@ar-js-org/ar.js",))
    if reason:
        pytest.skip(reason)
    tenants.a.viewer_engine = "nft"
    tenants.a.save()
    client.force_login(tenants.owner)
    portrait = upload_through_portal(
        client,
        tenants.project_a,
        title="Coffee",
        photo=(FIXTURES / "coffee.jpg").read_bytes(),
        video=green_clip(tmp_path),
    )
    assert portrait.status == "ready"
    assert portrait.jobs.get(kind="nft").status == "ready"
    return portrait


def pixel_box(png: bytes) -> tuple[int, int, int, int, int] | None:
    """(left, top, right, bottom, pixel count) of a screenshot's clearly green pixels: the video."""
    import io

    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    mask = (rgb[:, :, 1] > 180) & (rgb[:, :, 0] < 90) & (rgb[:, :, 2] < 90)
    ys, xs = np.nonzero(mask)
    if not len(xs):
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()), int(mask.sum())


# The print's white border as the camera sees it right now, in screen pixels (the camera <video>'s
# on-screen box, transform included): where the video plane must be, whatever the camera's size.
PRINT_ON_SCREEN = """(() => {
  const video = document.querySelector('#ar-container video');
  const canvas = Object.assign(document.createElement('canvas'), {width: video.videoWidth, height: video.videoHeight});
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  ctx.drawImage(video, 0, 0);
  const {data, width, height} = ctx.getImageData(0, 0, canvas.width, canvas.height);
  let [left, top, right, bottom] = [width, height, -1, -1];
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    const i = (y * width + x) * 4;
    if (data[i] > 215 && data[i + 1] > 215 && data[i + 2] > 215) {
      left = Math.min(left, x); right = Math.max(right, x); top = Math.min(top, y); bottom = Math.max(bottom, y);
    }
  }
  const box = video.getBoundingClientRect();
  const sx = box.width / width, sy = box.height / height;
  return {camera: [width, height], scale: sx,
          print: [box.left + left * sx, box.top + top * sy, box.left + (right + 1) * sx, box.top + (bottom + 1) * sy]};
})()"""


def assert_video_covers_the_print(browser, border: float) -> None:
    """The video plane lies on the print, inside its white border (*border* camera pixels wide,
    times the screen's scale), give or take the pose smoothing:
    photo-shaped, so the video is cropped to cover it, never stretched beyond it."""
    # The first frame of the video may reach the 3D layer a little after 'playing' on a loaded
    # machine (WebKit decodes through GStreamer): look again for a bounded while.
    deadline = time.monotonic() + 10
    while True:
        seen = browser.evaluate(PRINT_ON_SCREEN)
        video = pixel_box(browser.screenshot())
        if video is not None or time.monotonic() > deadline:
            break
        browser.pause(0.5)
    assert video is not None, "the video plane was not drawn"
    scale, printed = seen["scale"], seen["print"]
    for side in range(4):
        inset = video[side] - printed[side] if side < 2 else printed[side] - video[side]
        assert -8 <= inset <= border * scale + 12, (side, seen, video)
    left, top, right, bottom, count = video
    assert count >= 0.8 * (right - left) * (bottom - top), video


def border_of(clip) -> float:
    """The print's white border in camera pixels (clips.BORDER of the longer side of these landscape
    photos), plus a pixel of blur either side."""
    tl, tr, _br, _bl = clip.truth[0]
    return BORDER * (tr[0] - tl[0]) + 2


def test_the_printed_photo_is_found_and_its_video_covers_it(
    live_server, nft_upload, engine, tmp_path, tmp_path_factory
):
    # A still print: the screenshot and the camera frame it is compared with are read moments
    # apart, which a moving print would turn into a race. (The MindAR tests cover the drift.)
    clip = clip_of(FIXTURES / "coffee.jpg", "steady", tmp_path_factory)
    with camera_proxy(live_server.url, clip=clip.folder) as proxy, launch(engine, tmp_path) as browser:
        open_viewer(browser, proxy, nft_upload)
        # The runtime read our files: the marker's size and DPI as the NFT job made them.
        assert browser.attr("nftMarker") == "1000x667@72"
        assert browser.attr("arEngine") == "nft"
        browser.wait_for("document.body.dataset.arState === 'found'", timeout=FOUND_TIMEOUT)
        browser.wait_for("document.body.dataset.video === 'playing'", timeout=15)
        browser.pause(1.5)  # a few tracked frames, so the smoothed pose has settled
        assert_video_covers_the_print(browser, border_of(clip))
        # The contract: the corners AR.js tracks are where the clip put the photo.
        assert max(corner_errors(browser, clip, samples=3)) <= 30
        assert float(browser.attr("arFps")) > 0
        send_beacon(browser, proxy)
    session = wait_for(lambda: ViewSession.objects.filter(portrait=nft_upload, video_played=True).first(), timeout=30)
    assert session.engine == "nft"
    assert session.found and session.time_to_found_ms > 0


def test_another_photo_is_never_found(live_server, nft_upload, engine, tmp_path, tmp_path_factory):
    clip = clip_of(FIXTURES / "chelsea.jpg", "drift", tmp_path_factory)
    with camera_proxy(live_server.url, clip=clip.folder) as proxy, launch(engine, tmp_path) as browser:
        open_viewer(browser, proxy, nft_upload)
        assert browser.attr("arState") == "scanning"
        assert browser.attr("nftMarker") == "1000x667@72"
        browser.pause(NOT_FOUND_WAIT)
        assert browser.attr("arState") == "scanning"
        assert browser.attr("arCorners") is None
        # After ~15 s without the photo, the way out appears, as on the MindAR page.
        browser.wait_for("!document.querySelector('[data-show-after-timeout]').hidden", timeout=10)
        assert browser.text_visible("Just play the video")


def test_a_denied_camera_explains_how_to_allow_it(live_server, nft_upload, engine, tmp_path):
    with camera_proxy(live_server.url, camera="deny") as proxy, launch(engine, tmp_path) as browser:
        open_viewer(browser, proxy, nft_upload)
        assert browser.evaluate("[document.body.dataset.arState, document.body.dataset.arError]") == [
            "error",
            "camera-denied",
        ]
        assert browser.text_visible("The camera is blocked")


NO_WEBGL = (
    "const getContext = HTMLCanvasElement.prototype.getContext;"
    "HTMLCanvasElement.prototype.getContext = function (kind, ...rest) {"
    "  return String(kind).startsWith('webgl') ? null : getContext.call(this, kind, ...rest); };"
)


def test_without_webgl_the_video_plays_full_screen(live_server, nft_upload, engine, tmp_path, tmp_path_factory):
    clip = clip_of(FIXTURES / "coffee.jpg", "frontal", tmp_path_factory)
    with (
        camera_proxy(live_server.url, clip=clip.folder, init_scripts=(NO_WEBGL,)) as proxy,
        launch(engine, tmp_path) as browser,
    ):
        open_viewer(browser, proxy, nft_upload)
        assert browser.evaluate("[document.body.dataset.arState, document.body.dataset.arError]") == [
            "error",
            "unsupported",
        ]
        assert browser.attr("arEngine") == "fallback"
        browser.wait_for(
            "document.querySelector('[data-fallback] video').currentTime > 0", timeout=15, allow_error=True
        )
        assert browser.visible("[data-fallback] video")


def test_a_missing_marker_file_shows_the_load_error_at_once(
    live_server, nft_upload, engine, tmp_path, tmp_path_factory
):
    from companies.storage import storage_for_company

    job = nft_upload.jobs.get(kind="nft")
    storage_for_company(nft_upload.company).delete(job.stored_names()[2])  # the .fset3
    clip = clip_of(FIXTURES / "coffee.jpg", "frontal", tmp_path_factory)
    with camera_proxy(live_server.url, clip=clip.folder) as proxy, launch(engine, tmp_path) as browser:
        open_viewer(browser, proxy, nft_upload)
        assert browser.evaluate("[document.body.dataset.arState, document.body.dataset.arError]") == [
            "error",
            "load-failed",
        ]
        assert browser.text_visible("Something did not load")


def test_a_phone_held_upright_sees_the_video_on_the_print(live_server, nft_upload, engine, tmp_path):
    """An upright screen and a camera that is not 4:3: AR.js letterboxes the camera into its 4:3
    frame, and the page must lay the 3D layer over that frame for the video to land on the print."""
    spec = dataclasses.replace(CATALOGUE["steady"], name="steady-upright", size=(480, 640))
    clip = render_clip(FIXTURES / "coffee.jpg", spec, tmp_path / "clip")
    with (
        camera_proxy(live_server.url, clip=clip.folder) as proxy,
        launch(engine, tmp_path, viewport=(480, 640)) as browser,
    ):
        open_viewer(browser, proxy, nft_upload)
        browser.wait_for("document.body.dataset.arState === 'found'", timeout=FOUND_TIMEOUT)
        browser.wait_for("document.body.dataset.video === 'playing'", timeout=15)
        browser.pause(1.5)  # a few tracked frames, so the smoothed pose has settled
        camera = browser.evaluate("(v => [v.videoWidth, v.videoHeight])(document.querySelector('#ar-container video'))")
        assert camera[0] / camera[1] != 4 / 3, camera
        assert_video_covers_the_print(browser, border_of(clip))
        # Corners in the upright camera's own pixels, out of AR.js's letterbox.
        assert max(corner_errors(browser, clip, samples=3)) <= 30
