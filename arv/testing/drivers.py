"""One small interface over three browser engines, so a viewer test is written once and run in
Blink (Debian's Chromium, driven by Playwright), Gecko (Firefox ESR, driven over WebDriver BiDi
by the client below) and WebKit (WebKitGTK's MiniBrowser, driven by Selenium and WebKitWebDriver).

    with camera_proxy(live_server.url, clip=clip.folder) as proxy, launch("firefox", tmp_path) as browser:
        browser.goto(proxy.url + "/v/<uuid>/")
        browser.wait_for("document.body.dataset.arState === 'found'", timeout=60)
        corners = browser.evaluate("JSON.parse(document.body.dataset.arCorners)")

Every page goes through :func:`camera_proxy`, a reverse proxy in front of the app that inserts the
fake camera (``fakecam.js``, fed by a clip from ``clips.py``) and any test scripts as the first
scripts of each HTML page, serves the clip's frames from the page's own origin (the viewer's CSP
allows them), and records each response's status and size. So the camera, a refused or missing
camera, a fake User-Agent and init scripts (such as a broken WebGL backend) are the same in the
three engines, whatever each driver can do.

:func:`unavailable` says why an engine cannot run here (then its tests are skipped with that
reason, never passed). Waits are bounded; Firefox and WebKit run on a private Xvfb display
(Firefox headless has no WebGL without one; MiniBrowser has no headless mode).

This is the entry point for the viewer's tests (and the viewer benchmarks in ``bench/``). Pages
that only Chromium opens, with Chromium's own fake camera and a static server, use
:mod:`arv.testing.browser`, which also holds the Chromium binary and flags both launch with.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import http.server
import importlib.util
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from arv.testing.browser import CHROMIUM, CHROMIUM_ENGINE_FLAGS, chromium_unavailable
from arv.testing.processes import free_port, stop

ENGINES = ("chromium", "firefox", "webkit")
FIREFOX = Path("/usr/lib/firefox-esr/firefox-esr")
MINIBROWSER = Path("/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser")
WEBKIT_DRIVER = Path("/usr/bin/WebKitWebDriver")
XVFB = "Xvfb"
FAKECAM = Path(__file__).with_name("fakecam.js")
PREFIX = "/__arv_test__/"
VIEWPORT = (640, 480)


class BrowserError(RuntimeError):
    pass


class ScriptLost(BrowserError):
    """The page went away under a script (WebKitWebDriver: "Could not parse script result" when
    the document is replaced or still being set up while it runs): polling again is safe."""


def unavailable(engine: str) -> str | None:
    """Why *engine* cannot run on this machine, or None."""
    if engine == "chromium":
        return chromium_unavailable()
    if shutil.which(XVFB) is None:
        return "Xvfb is not installed (Debian package 'xvfb'); Firefox and WebKitGTK need a display for WebGL"
    if engine == "firefox":
        if not FIREFOX.exists():
            return f"{FIREFOX} is not installed (Debian package 'firefox-esr')"
        if importlib.util.find_spec("websocket") is None:
            return "the Python package 'websocket-client' is not installed (requirements-dev.txt)"
        return None
    if engine == "webkit":
        if not MINIBROWSER.exists():
            return (
                f"{MINIBROWSER} is not installed (Debian package 'libwebkit2gtk-4.1-0', pulled by 'webkit2gtk-driver')"
            )
        if not WEBKIT_DRIVER.exists():
            return f"{WEBKIT_DRIVER} is not installed (Debian package 'webkit2gtk-driver')"
        if importlib.util.find_spec("selenium") is None:
            return "the Python package 'selenium' is not installed (requirements-dev.txt)"
        return None
    return f"unknown browser engine {engine!r}"


# --- A private X display ------------------------------------------------------------------------
_display_lock = threading.Lock()
_display: tuple[subprocess.Popen, str] | None = None


def x_display() -> str:
    """The DISPLAY of an Xvfb this process started (once, stopped at exit)."""
    global _display
    with _display_lock:
        if _display and _display[0].poll() is None:
            return _display[1]
        read, write = os.pipe()
        process = subprocess.Popen(
            [XVFB, "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
            pass_fds=(write,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        os.close(write)
        with os.fdopen(read) as pipe:
            number = pipe.readline().strip()
        if not number:
            stop(process, timeout=10)
            raise BrowserError("Xvfb did not start")
        _display = (process, f":{number}")
        import atexit

        atexit.register(stop, process, timeout=10)
        return _display[1]


# --- The test proxy -------------------------------------------------------------------------------
@dataclass
class Exchange:
    method: str
    path: str
    status: int
    bytes: int
    content_encoding: str
    cache_control: str


@dataclass
class CameraProxy:
    url: str
    upstream: str
    exchanges: list[Exchange] = field(default_factory=list)

    def status_of(self, path: str) -> int | None:
        """The status of the last response for *path* (the path part of a URL, query ignored)."""
        for exchange in reversed(self.exchanges):
            if exchange.path.split("?", 1)[0] == path:
                return exchange.status
        return None


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    proxy: CameraProxy
    files: dict[str, Path]
    head_html: bytes

    def log_message(self, format, *args):  # keep the test output clean
        pass

    def do_GET(self):
        self._handle()

    def do_HEAD(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        try:
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the browser went away (a page closed mid-download)

    def _handle(self):
        path = self.path.split("?", 1)[0]
        if path.startswith(PREFIX):
            local = self.files.get(path[len(PREFIX) :])
            if local is None or not local.is_file():
                self._send(404, [("Content-Type", "text/plain")], b"not found")
                return
            kind = {".js": "text/javascript", ".json": "application/json", ".jpg": "image/jpeg"}.get(local.suffix, "")
            self._send(
                200,
                [("Content-Type", kind or "application/octet-stream"), ("Cache-Control", "no-store")],
                local.read_bytes(),
            )
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        parts = urlsplit(self.proxy.upstream)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection", "keep-alive")}
        headers["Host"] = f"{parts.hostname}:{parts.port}"
        try:
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        finally:
            connection.close()
        out_headers = [
            (k, v)
            for k, v in response.getheaders()
            if k.lower() not in ("content-length", "connection", "transfer-encoding")
        ]
        content_type = response.getheader("Content-Type", "")
        if content_type.startswith("text/html") and not response.getheader("Content-Encoding"):
            payload = payload.replace(b"<head>", b"<head>" + self.head_html, 1)
        self.proxy.exchanges.append(
            Exchange(
                self.command,
                self.path,
                response.status,
                len(payload),
                response.getheader("Content-Encoding", ""),
                response.getheader("Cache-Control", ""),
            )
        )
        self._send(response.status, out_headers, payload)


@contextlib.contextmanager
def camera_proxy(
    upstream: str,
    *,
    clip: Path | None = None,
    camera: str = "grant",
    user_agent: str = "",
    init_scripts: tuple[str, ...] = (),
) -> Iterator[CameraProxy]:
    """A reverse proxy to *upstream* on 127.0.0.1 that puts the fake camera (playing *clip*, a
    folder made by ``clips.render_clip``; *camera* "grant", "deny" or "none") and *init_scripts*
    (JavaScript sources) first in every HTML page. Same-origin scripts, so the page's CSP allows
    them as it is."""
    from html import escape

    files: dict[str, Path] = {"fakecam.js": FAKECAM}
    work = Path(tempfile.mkdtemp(prefix="arv-proxy-"))
    tags = []
    attrs = {"data-camera": camera}
    if clip is not None:
        for item in clip.iterdir():
            files[f"clip/{item.name}"] = item
        attrs["data-clip"] = PREFIX + "clip/"
    if user_agent:
        attrs["data-user-agent"] = user_agent
    attributes = " ".join(f'{k}="{escape(v)}"' for k, v in attrs.items())
    tags.append(f'<script src="{PREFIX}fakecam.js" {attributes}></script>')
    for index, source in enumerate(init_scripts):
        script = work / f"init-{index}.js"
        script.write_text(source)
        files[script.name] = script
        tags.append(f'<script src="{PREFIX}{script.name}"></script>')
    proxy = CameraProxy(url="", upstream=upstream.rstrip("/"))
    handler = type("Handler", (_ProxyHandler,), {"proxy": proxy, "files": files, "head_html": "".join(tags).encode()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        shutil.rmtree(work, ignore_errors=True)


# --- The browsers ---------------------------------------------------------------------------------
class Browser:
    """What a viewer test does with a browser. ``evaluate`` takes a JavaScript expression and
    returns its value through JSON (so numbers, strings, lists, dicts, None)."""

    engine = ""

    def goto(self, url: str) -> None:
        raise NotImplementedError

    def _evaluate_json(self, expression: str) -> str:
        raise NotImplementedError

    def screenshot(self) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def evaluate(self, expression: str):
        """The value of *expression*, awaited if it is a promise."""
        text = self._evaluate_json(f"(async () => JSON.stringify((await ({expression})) ?? null))()")
        return json.loads(text) if text is not None else None

    def attr(self, name: str) -> str | None:
        """A data attribute of <body>: ``attr("arState")``."""
        return self.evaluate(f"document.body.dataset[{json.dumps(name)}] ?? null")

    def visible(self, selector: str) -> bool:
        """Whether an element matching *selector* is rendered (has a box)."""
        return self.evaluate(
            f"[...document.querySelectorAll({json.dumps(selector)})].some(e => e.getClientRects().length > 0)"
        )

    def text_visible(self, text: str) -> bool:
        """Whether *text* is in a rendered element's text."""
        return self.evaluate(
            "[...document.querySelectorAll('body *')].some(e => e.getClientRects().length > 0 && "
            f"[...e.childNodes].some(n => n.nodeType === 3 && n.textContent.includes({json.dumps(text)})))"
        )

    def wait_for(self, expression: str, *, timeout: float, interval: float = 0.1, allow_error: bool = False):
        """Poll *expression* until truthy and return its value; TimeoutError after *timeout* s.
        A viewer page that reaches its error state meanwhile fails the wait at once (unless
        *allow_error* or the expression is about errors), with the page's console."""
        deadline = time.monotonic() + timeout
        watch_errors = not allow_error and "error" not in expression.lower()
        while True:
            try:
                value = self.evaluate(expression)
                if value:
                    return value
                state = self.evaluate(
                    "document.body ? [document.body.dataset.arState, document.body.dataset.arError] : []"
                )
            except ScriptLost:
                if time.monotonic() > deadline:
                    raise
                time.sleep(interval)
                continue
            if watch_errors and state and state[0] == "error":
                raise AssertionError(
                    f"{self.engine}: the page failed ({state}) waiting for {expression!r}: {self.console()}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.engine}: {expression!r} still false after {timeout:.0f} s (state {state}): {self.console()}"
                )
            time.sleep(interval)

    def pause(self, seconds: float) -> None:
        time.sleep(seconds)

    def console(self) -> list[str]:
        """Console errors and warnings, uncaught errors and CSP violations the page has seen."""
        return self.evaluate("window.__arvConsole || []") or []


class ChromiumBrowser(Browser):
    engine = "chromium"
    FLAGS = CHROMIUM_ENGINE_FLAGS

    def __init__(self, profile: Path, viewport: tuple[int, int]):
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        try:
            self.context = self._playwright.chromium.launch_persistent_context(
                str(profile),
                executable_path=str(CHROMIUM),
                headless=False,  # the flags carry --headless=new
                args=[*self.FLAGS, f"--window-size={viewport[0]},{viewport[1]}"],
                viewport={"width": viewport[0], "height": viewport[1]},
            )
        except Exception:
            self._playwright.stop()
            raise
        self.page = self.context.pages[0] if self.context.pages else self.context.new_page()

    def goto(self, url: str) -> None:
        self.page.goto(url)

    def _evaluate_json(self, expression: str) -> str:
        # page.evaluate goes through the DevTools protocol, which the page's CSP does not govern.
        return self.page.evaluate(expression)

    def screenshot(self) -> bytes:
        return self.page.screenshot()

    def close(self) -> None:
        try:
            self.context.close()
        finally:
            self._playwright.stop()


class _BiDi:
    """A minimal WebDriver BiDi client: commands by id, events kept."""

    def __init__(self, url: str):
        import websocket

        self.ws = websocket.create_connection(url, timeout=60, suppress_origin=True)
        self.next_id = 0
        self.lock = threading.Lock()
        self.replies: dict[int, dict] = {}
        self.events: list[dict] = []
        self.arrived = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                message = json.loads(self.ws.recv())
            except Exception:
                with self.arrived:
                    self.closed = True
                    self.arrived.notify_all()
                return
            with self.arrived:
                if "id" in message:
                    self.replies[message["id"]] = message
                else:
                    self.events.append(message)
                self.arrived.notify_all()

    closed = False

    def send(self, method: str, params: dict, timeout: float = 60) -> dict:
        with self.lock:
            self.next_id += 1
            ident = self.next_id
            self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        with self.arrived:
            while ident not in self.replies:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.closed:
                    raise BrowserError(f"firefox: no answer to {method} within {timeout:.0f} s")
                self.arrived.wait(remaining)
            reply = self.replies.pop(ident)
        if reply.get("type") == "error":
            raise BrowserError(f"firefox: {method}: {reply.get('error')}: {reply.get('message')}")
        return reply["result"]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close()


FIREFOX_PREFS = {
    # getUserMedia would wait for a permission prompt nobody answers (the fake camera needs none,
    # but a real one would).
    "media.navigator.permission.disabled": True,
    "media.autoplay.default": 0,
    "media.autoplay.blocking_policy": 0,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.aboutwelcome.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "app.update.disabledForTesting": True,
    "network.captive-portal-service.enabled": False,
    "browser.safebrowsing.update.enabled": False,
    "extensions.update.enabled": False,
}


class FirefoxBrowser(Browser):
    engine = "firefox"

    def __init__(self, profile: Path, viewport: tuple[int, int]):
        profile.mkdir(parents=True, exist_ok=True)
        (profile / "user.js").write_text(
            "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in FIREFOX_PREFS.items())
        )
        port = free_port()
        env = {**os.environ, "DISPLAY": x_display(), "MOZ_CRASHREPORTER_DISABLE": "1"}
        self.log = profile / "firefox.log"
        self.process = subprocess.Popen(
            [
                str(FIREFOX),
                "--headless",
                "--no-remote",
                "--profile",
                str(profile),
                f"--remote-debugging-port={port}",
                f"--width={viewport[0]}",
                f"--height={viewport[1]}",
                "about:blank",
            ],
            env=env,
            stdout=open(self.log, "ab"),  # noqa: SIM115 - the child's
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self.bidi = self._connect(port)
            self.bidi.send("session.new", {"capabilities": {"alwaysMatch": {"acceptInsecureCerts": True}}})
            tree = self.bidi.send("browsingContext.getTree", {"maxDepth": 0})
            self.context = tree["contexts"][0]["context"]
            self.bidi.send(
                "browsingContext.setViewport",
                {"context": self.context, "viewport": {"width": viewport[0], "height": viewport[1]}},
            )
        except Exception:
            stop(self.process, timeout=10)
            raise

    def _connect(self, port: int) -> _BiDi:
        deadline = time.monotonic() + 60
        while True:
            try:
                return _BiDi(f"ws://127.0.0.1:{port}/session")
            except Exception as exc:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise BrowserError(f"firefox did not open WebDriver BiDi on port {port}: {exc}") from None
                time.sleep(0.2)

    def goto(self, url: str) -> None:
        self.bidi.send("browsingContext.navigate", {"context": self.context, "url": url, "wait": "complete"})

    def _evaluate_json(self, expression: str) -> str | None:
        result = self.bidi.send(
            "script.evaluate",
            {"expression": expression, "target": {"context": self.context}, "awaitPromise": True},
        )
        if result.get("type") == "exception":
            raise BrowserError(f"firefox: {result['exceptionDetails'].get('text')}")
        value = result["result"]
        return value.get("value") if value.get("type") == "string" else None

    def screenshot(self) -> bytes:
        result = self.bidi.send("browsingContext.captureScreenshot", {"context": self.context})
        return base64.b64decode(result["data"])

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.bidi.send("browser.close", {}, timeout=10)
        self.bidi.close()
        stop(self.process, timeout=10)


class WebKitBrowser(Browser):
    engine = "webkit"
    ARGS = (
        "--automation",  # WebKitWebDriver does not add it itself; without it the session hangs
        "--enable-media-stream=true",
        "--enable-webgl=true",
        "--enable-media=true",
        "--media-playback-requires-user-gesture=false",
        "--autoplay-policy=allow",
    )

    def __init__(self, profile: Path, viewport: tuple[int, int]):
        from selenium import webdriver
        from selenium.webdriver.webkitgtk.options import Options
        from selenium.webdriver.webkitgtk.service import Service

        profile.mkdir(parents=True, exist_ok=True)
        options = Options()
        options.binary_location = str(MINIBROWSER)
        for arg in self.ARGS:
            options.add_argument(arg)
        service = Service(
            executable_path=str(WEBKIT_DRIVER),
            port=free_port(),
            env={**os.environ, "DISPLAY": x_display()},
            log_output=str(profile / "webkitwebdriver.log"),
        )
        with warnings.catch_warnings():
            # Selenium's own WebKitGTK driver still passes a deprecated argument to itself.
            warnings.simplefilter("ignore", DeprecationWarning)
            self.driver = webdriver.WebKitGTK(options=options, service=service)
        self.driver.set_page_load_timeout(60)
        self.driver.set_script_timeout(60)
        with contextlib.suppress(Exception):
            self.driver.set_window_size(*viewport)

    def goto(self, url: str) -> None:
        self.driver.get(url)

    def _evaluate_json(self, expression: str) -> str | None:
        from selenium.common.exceptions import WebDriverException

        try:
            return self.driver.execute_script(f"return {expression};")
        except WebDriverException as exc:
            if "Could not parse script result" in str(exc):
                raise ScriptLost(str(exc)) from exc
            raise

    def screenshot(self) -> bytes:
        return self.driver.get_screenshot_as_png()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.driver.quit()


@contextlib.contextmanager
def launch(engine: str, work: Path, *, viewport: tuple[int, int] = VIEWPORT) -> Iterator[Browser]:
    """A fresh browser of *engine* with its profile under *work*; closed afterwards."""
    reason = unavailable(engine)
    if reason:
        raise BrowserError(reason)
    profile = work / f"profile-{engine}-{time.monotonic_ns()}"
    cls = {"chromium": ChromiumBrowser, "firefox": FirefoxBrowser, "webkit": WebKitBrowser}[engine]
    browser = cls(profile, viewport)
    try:
        yield browser
    finally:
        browser.close()
