"""What the viewer's browser tests share: the engines to run, the photos, opening the page, the
checks on what it reports and on the analytics row its beacon leaves.

Every browser test is parametrised by engine (Blink, Gecko, WebKit, see arv/testing/drivers.py)
through the ``engine`` fixture of ``viewer/tests/conftest.py``, which also uploads the photo
(``ready_upload``); an engine that cannot run here is skipped with the exact reason. What is not
about the viewer (the drivers, the clips and their cache, the upload through the portal) is in
``arv/testing``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from arv.testing.browser import missing_node_modules
from arv.testing.clips import Clip, corner_error
from arv.testing.drivers import ENGINES, unavailable
from arv.testing.processes import wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]
MINDAR_FIXTURES = REPO_ROOT / "markers" / "tests" / "fixtures" / "mindar"
PHOTO = MINDAR_FIXTURES / "coffee_1000.jpg"
OTHER_PHOTO = MINDAR_FIXTURES / "chelsea_1000.jpg"
# Camera, marker, runtime and WebGL warm-up in software: 3–10 s measured with MindAR, 2–3 s with
# AR.js (its wasm and the marker).
START_TIMEOUT = 90
FOUND_TIMEOUT = 90  # found 1–3 s after scanning in the measured runs (AR.js: within a second)
NOT_FOUND_WAIT = 20  # seconds of scanning another photo; ~5 s is enough to find the right one


def engine_params(*engines: str):
    return [pytest.param(name, id=name) for name in (engines or ENGINES)]


def require(engine: str) -> None:
    reason = unavailable(engine)
    if reason:
        pytest.skip(f"{engine} cannot run here: {reason}")
    reason = missing_node_modules(REPO_ROOT)
    if reason:
        pytest.skip(reason)


def set_viewer_engine(portrait, viewer_engine: str):
    """*portrait*, its company switched to *viewer_engine* ("mindar", the default, "arv", "nft")."""
    from companies.models import Company

    Company.objects.filter(pk=portrait.company_id).update(viewer_engine=viewer_engine)
    portrait.refresh_from_db()
    return portrait


def open_viewer(browser, proxy, portrait) -> None:
    """Open *portrait*'s public page through the camera proxy and wait until it has started (or
    failed: the tests of the error states look at that)."""
    browser.goto(proxy.url + portrait.get_public_url())
    browser.wait_for("document.body.dataset.arState !== 'loading'", timeout=START_TIMEOUT, allow_error=True)


def page_errors(browser) -> list[str]:
    """Uncaught errors and CSP violations, less one known, harmless probe: Long.js (inside
    TensorFlow.js) tries to compile a tiny WebAssembly module in a try/catch and falls back to
    plain JavaScript when the page's strict CSP refuses it."""
    return [
        m
        for m in browser.console()
        if m.startswith(("csp", "uncaught", "unhandled")) and m != "csp: script-src wasm-eval"
    ]


def session_of(portrait, proxy, **expected):
    """The visit's analytics row once the beacon has said *expected* (posts are asynchronous)."""
    from viewer.models import ViewSession

    try:
        return wait_for(lambda: ViewSession.objects.filter(portrait=portrait, **expected).first(), timeout=30)
    except AssertionError:
        posts = [(e.status, e.bytes) for e in proxy.exchanges if e.path.endswith("/beacon")]
        rows = list(ViewSession.objects.filter(portrait=portrait).values())
        raise AssertionError(f"no session with {expected}: beacon posts {posts}, rows {rows}") from None


def send_beacon(browser, proxy) -> None:
    """What leaving the page does (viewer.js posts every session's running totals on pagehide),
    without leaving it, and wait until the post has reached the server: a beacon sent while the
    page navigates away or the browser closes may be cut off with it."""

    def posts() -> int:
        return sum(1 for e in proxy.exchanges if e.method == "POST" and e.path.endswith("/beacon"))

    before = posts()
    browser.evaluate("window.dispatchEvent(new Event('pagehide'))")
    wait_for(lambda: posts() > before, timeout=30)


CORNERS_AND_FRAME = (
    "[document.body.dataset.arCorners ? JSON.parse(document.body.dataset.arCorners) : null, "
    "window.__arvFakeCamera.frame]"
)


def corner_errors(browser, clip: Clip, *, samples: int = 6, lag_seconds: float = 1.5) -> list[float]:
    """For a few readings of ``data-ar-corners``: the distance (px) of the worst corner to where the
    clip really put the photo, in the frame the camera showed then or in the frames just before it
    (the engine reports the frame it processed last, and smooths its pose)."""
    fps = clip.spec.fps
    errors = []
    for _ in range(samples):
        corners, frame = browser.evaluate(CORNERS_AND_FRAME)
        assert corners is not None, "data-ar-corners is absent while the photo is tracked"
        assert len(corners) == 4 and all(len(p) == 2 for p in corners), corners
        count = len(clip.truth)
        window = range(frame, frame - int(lag_seconds * fps) - 1, -1) if count > 1 else [0]
        errors.append(min(corner_error(corners, clip.truth[i % count]) for i in window if clip.truth[i % count]))
        time.sleep(0.3)
    return errors


COUNT_CORNER_UPDATES = """new Promise((resolve) => {
  let writes = 0;
  const observer = new MutationObserver((records) => { writes += records.length; });
  observer.observe(document.body, {attributes: true, attributeFilter: ['data-ar-corners']});
  setTimeout(() => { observer.disconnect(); resolve(writes); }, 2000);
})"""

# Makes WebGL report a failed link for TensorFlow.js's programs (recognised by the helpers every
# TF.js fragment shader defines), as iOS 27 does: "Failed to link vertex and fragment shaders".
# Three.js's programs still link, so the page itself still renders.
BREAK_TFJS_WEBGL = """(() => {
  const versions = %s;
  const sources = new WeakMap(), broken = new WeakSet();
  const protos = {1: WebGLRenderingContext.prototype, 2: WebGL2RenderingContext.prototype};
  for (const v of versions) {
    const p = protos[v];
    const shaderSource = p.shaderSource, attachShader = p.attachShader, getProgramParameter = p.getProgramParameter;
    p.shaderSource = function (shader, source) {
      sources.set(shader, source);
      return shaderSource.call(this, shader, source);
    };
    p.attachShader = function (program, shader) {
      if (/setOutput|isnan_custom/.test(sources.get(shader) || "")) broken.add(program);
      return attachShader.call(this, program, shader);
    };
    p.getProgramParameter = function (program, name) {
      if (name === this.LINK_STATUS && broken.has(program)) return false;
      return getProgramParameter.call(this, program, name);
    };
  }
})();"""


def break_tfjs_webgl(*versions: int) -> str:
    return BREAK_TFJS_WEBGL % list(versions)
