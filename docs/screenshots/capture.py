"""Take the README's screenshots from a running ARV with the demo data, in headless Chromium.

    make run                      # in another terminal; wait for "ARV is up"
    .venv/bin/python docs/screenshots/capture.py http://127.0.0.1:8000 DEMO_PASSWORD ADMIN_PASSWORD

Writes, next to this file: portal-photo.png (the demo photo's page in the portal), viewer-phone.png
(the viewer on a 390 px phone whose camera films the printed demo photo: found, video playing) and
back-office.png (the back office's first page), each reduced to a 256-colour palette. Logs in as
`demo` and `admin` with the passwords `make run` printed on its first run (they are random). The
phone's camera is a generated clip of the demo photo on a table (arv/testing/browser.py), as in the
viewer's browser tests. The unmute button's emoji needs a
colour emoji font (Debian: fonts-noto-color-emoji), as every phone has.
"""

from __future__ import annotations

import io
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from arv.testing.browser import CHROMIUM, CHROMIUM_FLAGS, make_camera_clip  # noqa: E402

OUT = Path(__file__).resolve().parent
DEMO_PHOTO = ROOT / "companies" / "demo" / "coffee.jpg"
FOUND_TIMEOUT_MS = 90_000


def save(png: bytes, name: str) -> None:
    """A palette PNG: a tenth of the size, and screenshots of pages lose nothing visible."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        small.save(OUT / name, optimize=True)
    print(f"{OUT / name}: {(OUT / name).stat().st_size // 1024} KB")


def log_in(page, base: str, username: str, password: str, *, admin: bool = False) -> None:
    page.goto(base + ("/admin/login/" if admin else "/accounts/login/"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("input[type=submit], button[type=submit]:not(.linklike)")


def main(base: str, demo_password: str, admin_password: str) -> None:
    from playwright.sync_api import sync_playwright

    base = base.rstrip("/")
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        clip = make_camera_clip(DEMO_PHOTO, Path(tmp) / "camera.mjpeg", seconds=8, size=(480, 640))
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=False,
            args=[*CHROMIUM_FLAGS, "--hide-scrollbars", f"--use-file-for-fake-video-capture={clip}"],
        )

        portal = browser.new_context(viewport={"width": 1280, "height": 900})
        page = portal.new_page()
        log_in(page, base, "demo", demo_password)
        page.goto(base + "/portal/projects/demo-project/")
        page.click("text=Coffee (demo)")
        page.wait_for_load_state("load")
        viewer_url = page.locator("a[target=_blank]").first.get_attribute("href")
        save(page.screenshot(), "portal-photo.png")

        phone = browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, device_scale_factor=1
        )
        phone.grant_permissions(["camera"])
        page = phone.new_page()
        # The link names SITE_URL; the phone opens the same page on the server being captured.
        page.goto(base + re.sub(r"^https?://[^/]+", "", viewer_url))
        page.wait_for_selector("body[data-ar-state='found']", state="attached", timeout=FOUND_TIMEOUT_MS)
        page.wait_for_selector("body[data-video='playing']", state="attached", timeout=30_000)
        page.wait_for_timeout(1500)  # a few frames of video on the print
        save(page.screenshot(), "viewer-phone.png")

        office = browser.new_context(viewport={"width": 1280, "height": 800})
        page = office.new_page()
        log_in(page, base, "admin", admin_password, admin=True)
        page.wait_for_url(re.compile(r"/admin/$"))
        save(page.screenshot(), "back-office.png")
        browser.close()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
