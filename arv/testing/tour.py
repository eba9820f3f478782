"""The page tour's browser side: open each page in Chromium and say what is wrong with it.

A page fails when it logs a console error or throws, violates its Content-Security-Policy, has a
request answered with 4xx/5xx or failing (its own document excepted, whose status must be the one
expected), scrolls sideways, squeezes a text into a column narrower than a character, hides a
button in a box scrolled or clipped sideways, shows a broken image, or shows nothing at all; a
Russian page fails on a message of the catalogue left in English, and a studio's branded page on
any trace of the platform (its name, its icon). Each page is screenshotted per width so a person
can review the lot.

One browser; one context per role and language (its session and language cookies), one tab in
it, resized for each width: a tour of hundreds of page loads stays within minutes.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from arv.testing.browser import CHROMIUM, CHROMIUM_FLAGS
from arv.testing.routes import Visit

WIDTHS = (1280, 390)
HEIGHTS = {1280: 800, 390: 844}
LANGUAGES = ("en", "ru")
# A page that reports itself busy (the AR viewer's data-ar-state="loading") gets this long.
BUSY_TIMEOUT_S = 30
# A page with no visible text yet (a script still rendering it) is looked at again until then.
EMPTY_TIMEOUT_S = 5
# A page whose layout looks wrong is looked at again until then, in case a script is still at work.
SETTLE_TIMEOUT_S = 2

# Collects the page's CSP violations from its first line on (init scripts are not subject to the
# page's policy).
CSP_LISTENER = """
window.__tourCsp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__tourCsp.push(`${e.effectiveDirective} blocked ${e.blockedURI || "inline code"}`
    + (e.sourceFile ? ` (${e.sourceFile}:${e.lineNumber})` : ""));
});
"""

# Everything measured inside the page, in one evaluation. Narrow text: a text of two or more
# characters broken over three or more lines none of which is wider than its font size, which
# is what a table column squeezed to one letter looks like (normal wrapping keeps lines wide).
PAGE_STATE = """
() => {
  const doc = document.documentElement;
  const describe = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += "#" + el.id;
    if (el.classList.length) s += "." + [...el.classList].join(".");
    return s;
  };
  const narrow = [];
  const walker = document.createTreeWalker(document.body || doc, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.nodeValue.trim();
    if (text.length < 2 || !node.parentElement) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const lines = [...range.getClientRects()].filter((r) => r.width > 0 && r.height > 0);
    if (lines.length < 3) continue;
    const fontSize = parseFloat(getComputedStyle(node.parentElement).fontSize) || 16;
    const widest = Math.max(...lines.map((r) => r.width));
    if (widest <= fontSize) {
      narrow.push(`${describe(node.parentElement)} "${text.slice(0, 40)}" is ${Math.round(widest)} px wide`
        + ` over ${lines.length} lines`);
    }
  }
  // A select squeezed so that its choice shows a letter or two (a role picker in a narrow column).
  const measure = document.createElement("canvas").getContext("2d");
  for (const select of document.querySelectorAll("select")) {
    const option = select.selectedOptions[0];
    const box = select.getBoundingClientRect();
    if (!option || box.width <= 1 || box.height <= 1) continue;
    const style = getComputedStyle(select);
    measure.font = style.font;
    const need = measure.measureText(option.text.trim()).width;
    // Room for the text: the box less its padding and the drop-down arrow.
    const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 16;
    if (need > room && room < 2.5 * parseFloat(style.fontSize)) {
      const shown = Math.max(0, Math.round(room));
      narrow.push(`${describe(select)} shows ${shown} px of "${option.text.trim().slice(0, 30)}"`);
    }
  }
  const broken = [...document.images]
    .filter((img) => img.complete && img.naturalWidth === 0 && img.getAttribute("src"))
    .map((img) => img.currentSrc || img.src);
  // Buttons (and disclosure toggles) out of reach: cut off by a box that scrolls or clips sideways
  // (a table's last column on a phone), as the page is first shown.
  const clipped = [];
  for (const el of document.querySelectorAll("button, input[type=submit], a.button, [role=button], summary")) {
    const box = el.getBoundingClientRect();
    if (box.width <= 1 || box.height <= 1 || getComputedStyle(el).visibility === "hidden") continue;
    // What the visitor sees of a block-level link is its text, not the whole line it spans.
    let r = box;
    if (el.tagName === "A" && getComputedStyle(el).display === "block") {
      const range = document.createRange();
      range.selectNodeContents(el);
      const inner = range.getBoundingClientRect();
      if (inner.width > 1) r = inner;
    }
    for (let box = el.parentElement; box && box !== document.body; box = box.parentElement) {
      if (!/auto|scroll|hidden|clip/.test(getComputedStyle(box).overflowX)) continue;
      const b = box.getBoundingClientRect();
      if (r.left < b.left - 1 || r.right > b.right + 1) {
        clipped.push(`${describe(el)} "${(el.innerText || el.value || "").trim().slice(0, 30)}"`);
        break;
      }
    }
  }
  const text = document.body ? document.body.innerText.trim() : "";
  return {
    overflow: doc.scrollWidth - doc.clientWidth,
    // The outermost elements sticking out on the right: the culprits, not their children.
    widest: doc.scrollWidth > doc.clientWidth
      ? [...document.querySelectorAll("body *")]
        .filter((el) => el.getBoundingClientRect().right > doc.clientWidth + 1
          && el.parentElement.getBoundingClientRect().right <= doc.clientWidth + 1)
        .slice(0, 3).map(describe)
      : [],
    narrow: narrow.slice(0, 5),
    clipped: clipped.slice(0, 5),
    broken,
    visibleText: text.length,
    busy: document.body ? document.body.dataset.arState === "loading" : false,
    csp: window.__tourCsp || [],
    title: document.title,
  };
}
"""


# On a Russian page: visible texts (and the labels people read: placeholders, aria-label, title)
# that are exactly one of the catalogue's English messages whose translation differs. Such a text
# escaped translation: a string translated once at import time, a template not marked up, a
# message without its Russian.
UNTRANSLATED = """
(english) => {
  const wanted = new Set(english);
  const found = new Set();
  const walker = document.createTreeWalker(document.body || document.documentElement, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.nodeValue.trim();
    const parent = node.parentElement;
    // Code is literal (the column names orders.csv must have), whatever the page's language.
    if (!text || !wanted.has(text) || !parent) continue;
    if (parent.closest("script, style, noscript, template, code, kbd, samp, pre")) continue;
    if (parent.getClientRects().length) found.add(text);
  }
  for (const el of document.querySelectorAll("[placeholder], [aria-label], [title], input[type=submit][value]")) {
    for (const name of ["placeholder", "aria-label", "title", "value"]) {
      const text = (el.getAttribute(name) || "").trim();
      if (wanted.has(text) && (name !== "value" || el.type === "submit")) found.add(`${text} (${name})`);
    }
  }
  return [...found].slice(0, 10);
}
"""

# A studio's page must not show the platform: its name anywhere in the document (title, text,
# alt texts, metadata) or its icon (linked, or asked for by the page).
BRAND_STATE = """
(platform) => ({
  named: document.documentElement.outerHTML.toLowerCase().includes(platform.toLowerCase()),
  icons: [...document.querySelectorAll("link[rel~=icon]")].map((link) => link.href),
})
"""
# The API reference is English for everyone: Swagger UI has no Russian, and the OpenAPI schema's
# summaries and tags are written for developers (some happen to equal portal messages).
UNTRANSLATED_EXEMPT = ("/api/docs/",)
PLATFORM_ICON = re.compile(r"/favicon\.ico|/img/favicon[^/]*$")


def english_messages(language: str) -> list[str]:
    """The catalogue's English messages that *language* translates differently: shown as they
    are on a page in *language*, they escaped translation. Messages with placeholders, and
    one-word messages of two letters or fewer ("OK"), cannot be told from data."""
    import gettext

    from django.conf import settings

    catalogue = gettext.translation("django", localedir=str(settings.LOCALE_PATHS[0]), languages=[language])
    english = set()
    for key, translated in catalogue._catalog.items():
        msgid = key[0] if isinstance(key, tuple) else key
        msgid = msgid.split("\x04", 1)[-1].strip()
        if not msgid or "%" in msgid or "{" in msgid or len(msgid) <= 2 or translated.strip() == msgid:
            continue
        english.add(msgid)
    return sorted(english)


@dataclass(frozen=True)
class Problem:
    visit: Visit
    width: int
    language: str
    kind: str
    detail: str

    def __str__(self) -> str:
        v = self.visit
        return f"{v.path} [{v.role}, {self.language}, {self.width} px] {self.kind}: {self.detail}"


@dataclass
class _Recorder:
    """What the tab reported while one page was being looked at."""

    document: str = ""
    events: list[tuple[str, str]] = field(default_factory=list)
    # The page's own requests: an answer that arrives after the tour moved on (a beacon sent
    # while leaving) belongs to the page that asked, not to the next one.
    requests: set = field(default_factory=set)

    def add(self, kind: str, detail: str) -> None:
        self.events.append((kind, detail))


@dataclass
class TourResult:
    problems: list[Problem] = field(default_factory=list)
    # Findings reported for review without failing the tour (see Tour.look()).
    notes: list[Problem] = field(default_factory=list)
    loads: int = 0
    seconds: float = 0.0
    screenshots: int = 0


def session_cookies(client) -> list[dict]:
    """The log-in of a Django test client (``force_login``), for a browser context."""
    from django.conf import settings

    morsel = client.cookies.get(settings.SESSION_COOKIE_NAME)
    return [{"name": settings.SESSION_COOKIE_NAME, "value": morsel.value}] if morsel else []


def _screenshot_name(visit: Visit, width: int, language: str) -> str:
    # A page on another name (a studio's domain) is told apart by the name, not the test's port.
    where = visit.path.split("://", 1)[-1]
    where = re.sub(r"^([^/:]+):\d+", r"\1", where) if "://" in visit.path else where
    slug = re.sub(r"[^A-Za-z0-9]+", "-", where).strip("-") or "root"
    return f"{visit.role}--{slug}--{language}-{width}.jpg"


@contextlib.contextmanager
def browser(*, local_names: Iterable[str] = (), secure_origins: Iterable[str] = ()) -> Iterator[object]:
    """Headless Chromium (the system one); its camera requests are refused, as by a visitor who
    taps "Block": the AR page shows how to allow the camera. *local_names* (a studio's own
    viewer domain) resolve to this machine, where the test's server answers them; the plain-HTTP
    *secure_origins* count as secure, as they are over HTTPS in production (else the browser
    ignores their Cross-Origin-Opener-Policy, with a console error, and refuses the camera)."""
    from playwright.sync_api import sync_playwright

    # Scrollbars drawn over the page, as on phones: a classic 15 px bar would make a 390 px
    # window lay out 375 px wide.
    flags = [f for f in CHROMIUM_FLAGS if f != "--use-fake-ui-for-media-stream"] + ["--hide-scrollbars"]
    rules = ", ".join(f"MAP {name} 127.0.0.1" for name in local_names)
    if rules:
        flags.append(f"--host-resolver-rules={rules}")
    origins = ",".join(secure_origins)
    if origins:
        flags.append(f"--unsafely-treat-insecure-origin-as-secure={origins}")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=False, args=flags)
        try:
            yield instance
        finally:
            instance.close()


class Tour:
    def __init__(
        self,
        browser,
        base_url: str,
        artifacts: Path | None,
        *,
        screenshot_languages=("en",),
        branded: Iterable[str] = (),
        platform_name: str = "",
        other_hosts: Iterable[str] = (),
    ):
        """*branded*: paths (or full URLs) of a studio's public pages, where *platform_name* and
        the platform's icon must appear nowhere. *other_hosts*: names other than the server's
        that visits use in full URLs (a studio's domain); they get the language cookie too."""
        self.browser = browser
        self.base_url = base_url.rstrip("/")
        self.artifacts = artifacts
        self.screenshot_languages = screenshot_languages
        self.branded = set(branded)
        self.platform_name = platform_name
        self.other_hosts = tuple(other_hosts)
        self._english = {language: english_messages(language) for language in LANGUAGES if language != "en"}
        from django.urls import reverse

        self._back_office = reverse("admin:index")
        self.result = TourResult()
        self._recorder = _Recorder()
        if artifacts:
            artifacts.mkdir(parents=True, exist_ok=True)

    # --- Listening to the tab ---------------------------------------------------------------

    def _on_console(self, message) -> None:
        if message.type != "error":
            return
        location = (message.location or {}).get("url", "")
        # Chromium logs the page's own expected 403/404/410 as a failed resource: not a fault.
        if message.text.startswith("Failed to load resource") and location == self._recorder.document:
            return
        self._recorder.add("console error", f"{message.text} ({location})" if location else message.text)

    def _on_page_error(self, error) -> None:
        self._recorder.add("uncaught exception", str(error))

    def _on_request(self, request) -> None:
        self._recorder.requests.add(request)

    def _on_response(self, response) -> None:
        if response.request not in self._recorder.requests:
            return
        if response.status >= 400 and response.url != self._recorder.document:
            self._recorder.add("failed request", f"{response.status} {response.request.method} {response.url}")

    def _on_request_failed(self, request) -> None:
        failure = request.failure or ""
        # Cancelled by the page or by leaving it (a video's preload, a beacon): not an error.
        if "ERR_ABORTED" in failure or request not in self._recorder.requests:
            return
        self._recorder.add("failed request", f"{failure} {request.method} {request.url}")

    def _tab(self, context):
        tab = context.new_page()
        tab.on("console", self._on_console)
        tab.on("pageerror", self._on_page_error)
        tab.on("request", self._on_request)
        tab.on("response", self._on_response)
        tab.on("requestfailed", self._on_request_failed)
        return tab

    # --- Touring ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def tab(self, cookies: Iterable[dict], language: str) -> Iterator[object]:
        """A tab in a fresh context holding *cookies* (a log-in) and the language cookie."""
        host = self.base_url.split("://", 1)[1].split(":")[0]
        context = self.browser.new_context(viewport={"width": WIDTHS[0], "height": HEIGHTS[WIDTHS[0]]})
        try:
            context.add_init_script(CSP_LISTENER)
            context.add_cookies(
                [
                    *({**c, "domain": host, "path": "/"} for c in cookies),
                    *(
                        {"name": "django_language", "value": language, "domain": name, "path": "/"}
                        for name in (host, *self.other_hosts)
                    ),
                ]
            )
            yield self._tab(context)
        finally:
            context.close()

    def run(self, visits: Iterable[Visit], cookies: Mapping[str, list[dict]]) -> TourResult:
        """Tour every visit at every width and language; *cookies* are each role's log-in."""
        started = time.monotonic()
        by_role: dict[str, list[Visit]] = {}
        for visit in visits:
            by_role.setdefault(visit.role, []).append(visit)
        for role, role_visits in by_role.items():
            for language in LANGUAGES:
                with self.tab(cookies.get(role, []), language) as tab:
                    for visit in role_visits:
                        for width in WIDTHS:
                            self.look(tab, visit, width, language)
        self.result.seconds = time.monotonic() - started
        return self.result

    def look(self, tab, visit: Visit, width: int, language: str) -> list[Problem]:
        """Open one page at one width and report its problems."""
        tab.set_viewport_size({"width": width, "height": HEIGHTS[width]})
        # A full URL: the page on another name of this server (a studio's domain).
        url = visit.path if "://" in visit.path else self.base_url + visit.path
        self._recorder = _Recorder(document=url)
        found: list[Problem] = []

        def problem(kind: str, detail: str) -> None:
            found.append(Problem(visit, width, language, kind, detail))

        response = tab.goto(url, wait_until="load")
        self.result.loads += 1
        # The browser followed redirects (a reset link): the final document is the page.
        self._recorder.document = tab.url
        if response is None:
            problem("no response", url)
        elif response.status != visit.status:
            problem("status", f"{response.status}, expected {visit.status}")
        state = self._settle(tab)
        if state["overflow"] > 0:
            problem("horizontal overflow", f"{state['overflow']} px wider than the window: {state['widest']}")
        for entry in state["narrow"]:
            problem("narrow text", entry)
        for entry in state["clipped"]:
            problem("button out of reach", entry)
        for src in state["broken"]:
            problem("broken image", src)
        if state["visibleText"] == 0:
            problem("blank page", "no visible text")
        for entry in state["csp"]:
            problem("CSP violation", entry)
        for kind, detail in self._recorder.events:
            problem(kind, detail)
        if language in self._english and not visit.path.startswith(UNTRANSLATED_EXEMPT):
            # The back office's column and filter titles are its models' field names, many of them
            # never marked for translation (changing them means a migration in every app): what
            # the check finds there is listed in the summary for staff-facing follow-up, not failed.
            back_office = visit.path.startswith(self._back_office)
            for text in tab.evaluate(UNTRANSLATED, self._english[language]):
                if back_office:
                    self.result.notes.append(Problem(visit, width, language, "untranslated", text))
                else:
                    problem("untranslated", text)
        if visit.path in self.branded:
            brand = tab.evaluate(BRAND_STATE, self.platform_name)
            if brand["named"]:
                problem("platform on a studio's page", f"{self.platform_name!r} in the document")
            if not brand["icons"]:
                problem("platform on a studio's page", "no icon of the studio's: the browser asks for /favicon.ico")
            asked = [r.url for r in self._recorder.requests if PLATFORM_ICON.search(r.url.split("?")[0])]
            for url in [*brand["icons"], *asked]:
                if PLATFORM_ICON.search(url.split("?")[0]):
                    problem("platform on a studio's page", f"the platform's icon {url}")
        if self.artifacts and language in self.screenshot_languages:
            # JPEG: a full-page PNG of a long page costs three times as long to encode.
            path = self.artifacts / _screenshot_name(visit, width, language)
            tab.screenshot(path=str(path), full_page=True, type="jpeg", quality=80)
            self.result.screenshots += 1
        self.result.problems += found
        return found

    def _settle(self, tab) -> dict:
        """The page's state once it has rendered. A busy AR page and a page whose script still
        renders it (Swagger UI) are looked at again, within bounds; so is a page whose layout
        looks wrong, in case a script was still moving things: only what persists is reported,
        and clean pages pay nothing for it."""
        start = time.monotonic()
        while True:
            state = tab.evaluate(PAGE_STATE)
            waited = time.monotonic() - start
            busy = state["busy"] and waited < BUSY_TIMEOUT_S
            empty = state["visibleText"] == 0 and waited < EMPTY_TIMEOUT_S
            odd = _layout_trouble(state) and waited < SETTLE_TIMEOUT_S
            if not (busy or empty or odd):
                return state
            tab.wait_for_timeout(250)


def _layout_trouble(state: dict) -> bool:
    return bool(state["overflow"] > 0 or state["narrow"] or state["clipped"] or state["broken"])
