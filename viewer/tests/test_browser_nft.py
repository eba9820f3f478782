"""The AR.js NFT page in a real browser: a company set to AR.js uploads a photo through the portal,
the pipeline makes its .iset/.fset/.fset3 with our generator, and headless Chromium, whose fake
camera films the printed photo, opens the QR code's URL. The AR.js runtime must load our three
files, find the photo and play its video on it, and must never find it in another photo."""

import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from arv.testing.browser import chromium, make_camera_clip, missing_browser_tools, wait_until
from content.models import Portrait
from markers import services
from markers.models import Job
from viewer.models import ViewSession

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "markers" / "tests" / "fixtures" / "nft"
START_TIMEOUT_MS = 60_000  # camera, ARToolKit's wasm and the marker load: 2-3 s measured
FOUND_TIMEOUT_MS = 60_000  # found within a second of the marker loading in the measured runs
NOT_FOUND_WAIT_MS = 30_000
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
    reason = missing_browser_tools(REPO_ROOT)
    if reason:
        pytest.skip(reason)
    if not (REPO_ROOT / "node_modules" / "@ar-js-org" / "ar.js" / "package.json").exists():
        pytest.skip("node_modules/@ar-js-org/ar.js is missing: run 'npm install --ignore-scripts'")
    tenants.a.viewer_engine = "nft"
    tenants.a.save()
    client.force_login(tenants.owner)
    response = client.post(
        reverse("portal:portrait_upload", args=[tenants.project_a.slug]),
        {
            "title": "Coffee",
            "image": SimpleUploadedFile("coffee.jpg", (FIXTURES / "coffee.jpg").read_bytes()),
            "video": SimpleUploadedFile("clip.mp4", green_clip(tmp_path)),
        },
    )
    assert response.status_code == 302
    portrait = Portrait.objects.get()
    for job in Job.objects.filter(portrait=portrait):
        services.run_job(job_id=job.pk)
    portrait.refresh_from_db()
    assert portrait.status == "ready"
    assert portrait.jobs.get(kind="nft").status == "ready"
    return portrait


def open_page(context, url):
    page = context.new_page()
    page.goto(url)
    wait_until(page, "document.body.dataset.arState !== 'loading'", timeout=START_TIMEOUT_MS)
    return page


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
PRINT_ON_SCREEN = """() => {
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
}"""


def assert_video_covers_the_print(page) -> None:
    """The video plane lies on the print, inside its 12 px white border (times the screen's
    scale), give or take the clip's drift and the pose smoothing: photo-shaped, so the video is
    cropped to cover it, never stretched beyond it."""
    seen = page.evaluate(PRINT_ON_SCREEN)
    video = pixel_box(page.screenshot())
    assert video is not None, "the video plane was not drawn"
    scale, printed = seen["scale"], seen["print"]
    for side in range(4):
        inset = video[side] - printed[side] if side < 2 else printed[side] - video[side]
        assert -8 <= inset <= 12 * scale + 12, (side, seen, video)
    left, top, right, bottom, count = video
    assert count >= 0.8 * (right - left) * (bottom - top), video


def test_the_printed_photo_is_found_and_its_video_covers_it(live_server, nft_upload, tmp_path):
    clip = make_camera_clip(FIXTURES / "coffee.jpg", tmp_path / "camera.mjpeg")
    with chromium(clip, tmp_path / "profile") as context:
        page = open_page(context, live_server.url + nft_upload.get_public_url())
        # The runtime read our files: the marker's size and DPI as the NFT job made them.
        assert page.evaluate("document.body.dataset.nftMarker") == "1000x667@72"
        wait_until(page, "document.body.dataset.arState === 'found'", timeout=FOUND_TIMEOUT_MS)
        wait_until(page, "document.body.dataset.video === 'playing'", timeout=15_000)
        page.wait_for_timeout(1_500)  # a few tracked frames, so the smoothed pose has settled
        assert_video_covers_the_print(page)
        page.close()  # pagehide sends the beacon
    session = ViewSession.objects.get(portrait=nft_upload)
    assert session.engine == "nft"
    assert session.found and session.time_to_found_ms > 0 and session.video_played


def test_another_photo_is_never_found(live_server, nft_upload, tmp_path):
    clip = make_camera_clip(FIXTURES / "chelsea.jpg", tmp_path / "camera.mjpeg")
    with chromium(clip, tmp_path / "profile") as context:
        page = open_page(context, live_server.url + nft_upload.get_public_url())
        assert page.evaluate("document.body.dataset.arState") == "scanning"
        assert page.evaluate("document.body.dataset.nftMarker") == "1000x667@72"
        page.wait_for_timeout(NOT_FOUND_WAIT_MS)
        assert page.evaluate("document.body.dataset.arState") == "scanning"
        # After ~15 s without the photo, the way out appears, as on the MindAR page.
        assert page.is_visible("text=Just play the video")


def test_a_denied_camera_explains_how_to_allow_it(live_server, nft_upload, tmp_path):
    clip = make_camera_clip(FIXTURES / "coffee.jpg", tmp_path / "camera.mjpeg")
    with chromium(clip, tmp_path / "profile", allow_camera=False) as context:
        page = open_page(context, live_server.url + nft_upload.get_public_url())
        assert page.evaluate("[document.body.dataset.arState, document.body.dataset.arError]") == [
            "error",
            "camera-denied",
        ]
        assert page.is_visible("text=The camera is blocked")


def test_without_webgl_the_video_plays_full_screen(live_server, nft_upload, tmp_path):
    clip = make_camera_clip(FIXTURES / "coffee.jpg", tmp_path / "camera.mjpeg")
    with chromium(clip, tmp_path / "profile") as context:
        # A browser without WebGL: every WebGL context request fails.
        context.add_init_script(
            "const getContext = HTMLCanvasElement.prototype.getContext;"
            "HTMLCanvasElement.prototype.getContext = function (kind, ...rest) {"
            "  return String(kind).startsWith('webgl') ? null : getContext.call(this, kind, ...rest); };"
        )
        page = open_page(context, live_server.url + nft_upload.get_public_url())
        assert page.evaluate("[document.body.dataset.arState, document.body.dataset.arError]") == [
            "error",
            "unsupported",
        ]
        wait_until(page, "document.querySelector('[data-fallback] video').currentTime > 0", timeout=15_000)
        assert page.is_visible("[data-fallback] video")


def test_a_missing_marker_file_shows_the_load_error_at_once(live_server, nft_upload, tmp_path):
    from arv.storage import storage_for_company

    job = nft_upload.jobs.get(kind="nft")
    storage_for_company(nft_upload.company).delete(job.output_names()[2])  # the .fset3
    clip = make_camera_clip(FIXTURES / "coffee.jpg", tmp_path / "camera.mjpeg")
    with chromium(clip, tmp_path / "profile") as context:
        page = open_page(context, live_server.url + nft_upload.get_public_url())
        assert page.evaluate("[document.body.dataset.arState, document.body.dataset.arError]") == [
            "error",
            "load-failed",
        ]
        assert page.is_visible("text=Something did not load")


def test_a_phone_held_upright_sees_the_video_on_the_print(live_server, nft_upload, tmp_path):
    """An upright screen and a camera that is not 4:3: AR.js letterboxes the camera into its 4:3
    frame, and the page must lay the 3D layer over that frame for the video to land on the print."""
    clip = make_camera_clip(FIXTURES / "coffee.jpg", tmp_path / "camera.mjpeg", size=(480, 640))
    with chromium(clip, tmp_path / "profile") as context:
        page = context.new_page()
        page.set_viewport_size({"width": 480, "height": 640})
        page.goto(live_server.url + nft_upload.get_public_url())
        wait_until(page, "document.body.dataset.arState !== 'loading'", timeout=START_TIMEOUT_MS)
        wait_until(page, "document.body.dataset.arState === 'found'", timeout=FOUND_TIMEOUT_MS)
        page.wait_for_timeout(1_500)  # a few tracked frames, so the smoothed pose has settled
        camera = page.evaluate("(v => [v.videoWidth, v.videoHeight])(document.querySelector('#ar-container video'))")
        assert camera[0] / camera[1] != 4 / 3, camera
        assert_video_covers_the_print(page)
