"""Shared pieces of the viewer's browser tests: the engines to run, clips, the upload, checks.

Every browser test is parametrised by engine (Blink, Gecko, WebKit, see arv/testing/drivers.py);
an engine that cannot run here is skipped with the exact reason.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from arv.testing.clips import CATALOGUE, Clip, corner_error, render_clip
from arv.testing.drivers import ENGINES, unavailable

REPO_ROOT = Path(__file__).resolve().parents[2]
MINDAR_FIXTURES = REPO_ROOT / "markers" / "tests" / "fixtures" / "mindar"
START_TIMEOUT = 90  # camera, marker, runtime and WebGL warm-up in software: 3–10 s measured
FOUND_TIMEOUT = 90  # found 1–3 s after scanning in the measured runs


def engine_params(*engines: str):
    return [pytest.param(name, id=name) for name in (engines or ENGINES)]


def require(engine: str) -> None:
    reason = unavailable(engine)
    if reason:
        pytest.skip(f"{engine} cannot run here: {reason}")
    for package in ("mind-ar", "three"):
        if not (REPO_ROOT / "node_modules" / package / "package.json").exists():
            pytest.skip(f"node_modules/{package} is missing: run 'npm install --ignore-scripts'")


_clip_cache: dict[tuple[str, str], Clip] = {}


def clip_of(photo: Path, pose: str, tmp_path_factory) -> Clip:
    """A clip of *photo* in one of the catalogue's poses, rendered once per test session."""
    key = (str(photo), pose)
    if key not in _clip_cache:
        folder = tmp_path_factory.mktemp(f"clip-{photo.stem}-{pose}")
        _clip_cache[key] = render_clip(photo, CATALOGUE[pose], folder)
    return _clip_cache[key]


def send_beacon(browser, proxy) -> None:
    """What leaving the page does (viewer.js posts every session's running totals on pagehide),
    without leaving it, and wait until the post has reached the server: a beacon sent while the
    page navigates away or the browser closes may be cut off with it."""
    from arv.testing.processes import wait_for

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
