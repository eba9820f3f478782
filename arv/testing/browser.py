"""Chromium alone, with Chromium's own fake camera: for pages that only Chromium needs to open.

This module is the Chromium recipe measured for this project's machines: Debian's Chromium driven
by Playwright (never a downloaded browser), WebGL through SwiftShader, and a video file played as
the camera by Chromium itself (``--use-file-for-fake-video-capture``, fed by
:func:`make_camera_clip`), with :func:`static_server` for pages outside the app. MindAR needs
WebGL, and ``--use-gl=swiftshader`` would switch it off, so the flags below are exactly the ones
that worked. Its users: the MindAR runtime page (markers), the arv engine's own test page
(viewer), the page tour and the batch upload page (Playwright pages of the app), the screenshots.

The viewer's pages in the three engines (Blink, Gecko, WebKit) go through :mod:`arv.testing.drivers`
instead, whose fake camera is a script (``fakecam.js``) playing a clip with a known truth
(:mod:`arv.testing.clips`); its Chromium is launched with :data:`CHROMIUM` and
:data:`CHROMIUM_ENGINE_FLAGS` from here.

Typical use::

    reason = missing_browser_tools(repo_root)
    if reason:
        pytest.skip(reason)
    clip = make_camera_clip(photo, tmp_path / "camera.mjpeg")
    with static_server({"/": repo_root}) as base_url, chromium(clip, tmp_path / "profile") as ctx:
        page = ctx.new_page()
        page.goto(f"{base_url}/page.html")
"""

from __future__ import annotations

import contextlib
import http.server
import importlib.util
import shutil
import subprocess
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")

# How Chromium runs here, whatever plays its camera: headless, WebGL in software, nothing
# fetched in the background.
CHROMIUM_ENGINE_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--enable-unsafe-swiftshader",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
)

# With Chromium's own fake camera (its clip is added per launch) and a phone-camera-sized window.
CHROMIUM_FLAGS = (
    *CHROMIUM_ENGINE_FLAGS,
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--window-size=640,480",
)


def chromium_unavailable() -> str | None:
    """Why Chromium cannot be driven here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is not installed (Debian package 'chromium')"
    if importlib.util.find_spec("playwright") is None:
        return "the Python package 'playwright' is not installed (requirements-dev.txt)"
    return None


def missing_node_modules(repo_root: Path, packages: tuple[str, ...] = ("mind-ar", "three")) -> str | None:
    """Why the pages cannot load their runtime from ``node_modules``, or None."""
    for package in packages:
        if not (repo_root / "node_modules" / package / "package.json").exists():
            return f"node_modules/{package} is missing: run 'npm install --ignore-scripts'"
    return None


def missing_browser_tools(repo_root: Path) -> str | None:
    """Why a browser test cannot run here, or None when everything it needs is installed."""
    reason = chromium_unavailable()
    if reason:
        return reason
    if shutil.which("ffmpeg") is None:
        return "ffmpeg is not installed (Debian package 'ffmpeg')"
    return missing_node_modules(repo_root)


@contextlib.contextmanager
def chromium(camera_clip: Path, profile_dir: Path, *, allow_camera: bool = True, extra_args: tuple[str, ...] = ()):
    """A Playwright ``BrowserContext`` whose camera plays ``camera_clip``; camera access granted
    unless ``allow_camera`` is False (then the page's camera request is refused, as when a
    visitor taps "Block"). ``extra_args`` go to Chromium as they are (e.g.
    ``--host-resolver-rules=MAP ar.studio.test 127.0.0.1`` to visit a studio's domain).

    ``profile_dir`` must be a fresh directory: Chromium keeps state there between runs.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # The flags carry --headless=new themselves; Playwright's own headless switch would add
        # a second, different one.
        flags = [f for f in CHROMIUM_FLAGS if allow_camera or f != "--use-fake-ui-for-media-stream"]
        context = playwright.chromium.launch_persistent_context(
            str(profile_dir),
            executable_path=str(CHROMIUM),
            headless=False,
            args=[*flags, *extra_args, f"--use-file-for-fake-video-capture={camera_clip.resolve()}"],
            viewport={"width": 640, "height": 480},
        )
        try:
            if allow_camera:
                context.grant_permissions(["camera"])
            yield context
        finally:
            context.close()


def make_camera_clip(
    photo: Path, out: Path, *, seconds: int = 6, fps: int = 15, size: tuple[int, int] = (640, 480)
) -> Path:
    """A 640x480 MJPEG clip of ``photo`` printed on white paper, lying on a table in front of a
    slightly moving hand-held camera: a brown noisy background, the print about 400 px wide with
    a white border, turned a few degrees and drifting by up to 10 px, light noise on top.

    ``size`` changes the camera's frame (e.g. ``(480, 640)``, a phone held upright); the print
    keeps the same share of it: at most 5/8 of its width and 19/24 of its height."""
    width, height = size
    table = f"color=c=0x6b4f3a:s={width}x{height}:r={fps}:d={seconds},noise=alls=25:allf=t,boxblur=2,format=rgba"
    printed = (
        f"[1:v]scale=w={width * 5 // 8}:h={height * 19 // 24}:force_original_aspect_ratio=decrease,"
        "pad=iw+24:ih+24:12:12:color=white,format=rgba,"
        "rotate=0.07:c=none:ow=rotw(0.07):oh=roth(0.07)[print]"
    )
    scene = (
        "[0:v][print]overlay=x='(W-w)/2+10*sin(t*1.3)':y='(H-h)/2+7*cos(t)':shortest=1,"
        "eq=brightness=0.02:contrast=0.95,noise=alls=6:allf=t,format=yuvj420p"
    )
    ffmpeg = shutil.which("ffmpeg") or "ffmpeg"
    # The arguments are built here from test-controlled paths, never from outside input.
    subprocess.run(
        [
            ffmpeg,
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            table,
            "-loop",
            "1",
            "-framerate",
            str(fps),
            "-i",
            str(photo),
            "-filter_complex",
            f"{printed};{scene}",
            "-t",
            str(seconds),
            "-r",
            str(fps),
            "-c:v",
            "mjpeg",
            "-q:v",
            "3",
            "-f",
            "mjpeg",
            str(out),
        ],
        check=True,
    )
    return out


class _RoutedHandler(http.server.SimpleHTTPRequestHandler):
    routes: Mapping[str, Path] = {}

    def translate_path(self, path: str) -> str:
        path = path.split("?", 1)[0].split("#", 1)[0]
        # Longest prefix first, so "/data/" wins over "/".
        for prefix in sorted(self.routes, key=len, reverse=True):
            if path.startswith(prefix):
                root = self.routes[prefix].resolve()
                target = (root / path[len(prefix) :].lstrip("/")).resolve()
                if target == root or root in target.parents:
                    return str(target)
        return str(Path("/nonexistent"))

    def log_message(self, format: str, *args) -> None:  # keep test output clean
        pass


@contextlib.contextmanager
def static_server(routes: Mapping[str, Path]) -> Iterator[str]:
    """Serve directories on 127.0.0.1 (a free port) in a background thread; yields the base URL.

    ``routes`` maps URL prefixes to directories, e.g. ``{"/": repo, "/data/": tmp_path}``.
    Paths that escape their directory are not served.
    """
    handler = type("Handler", (_RoutedHandler,), {"routes": dict(routes)})
    handler.extensions_map = {
        **handler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".mind": "application/octet-stream",
    }
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def wait_until(page, expression: str, *, timeout: float) -> None:
    """Poll *expression* (JavaScript, evaluated from outside) until it is truthy.

    Playwright's own ``wait_for_function`` evaluates its predicate inside the page with eval,
    which the viewer's Content-Security-Policy rightly forbids; ``page.evaluate`` runs through the
    DevTools protocol, which the policy does not govern. *timeout* is in milliseconds.
    """
    import time

    deadline = time.monotonic() + timeout / 1000
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{expression!r} still false after {timeout / 1000:.0f} s")
        page.wait_for_timeout(100)
