"""The batch flow in a real browser, with a real worker: upload a ZIP in the portal, read the
review table, confirm, watch the live progress reach "ready", download the PDF and the CSV.

Production settings (DEBUG off, the real Content-Security-Policy); the pages are looked at on a
phone (390 px) and a desktop (1280 px) screen: no console error, nothing wider than the screen.
"""

import time
from pathlib import Path

import pytest
from django.db import connection

from arv.testing.browser import CHROMIUM, missing_browser_tools
from arv.testing.processes import database_url, start_qcluster, stop
from content.models import Batch
from content.tests import batch_data

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REPO_ROOT = Path(__file__).resolve().parents[2]
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking")
SCREENS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}


def wait_for(page, expression: str, *, seconds: float) -> None:
    """Poll from outside the page (its CSP forbids the eval Playwright's waits would use)."""
    from playwright.sync_api import Error

    deadline = time.monotonic() + seconds
    while True:
        try:
            if page.evaluate(expression):
                return
        except Error:
            pass  # the page reloaded itself (it does when the batch moves on): look again
        if time.monotonic() > deadline:
            raise AssertionError(f"{expression!r} still false after {seconds} s; page: {page.url}")
        page.wait_for_timeout(250)


def look(page, name: str, shots: Path, problems: list) -> None:
    """The page at both widths: a screenshot each, and nothing wider than the screen."""
    for screen, size in SCREENS.items():
        page.set_viewport_size(size)
        page.wait_for_timeout(100)
        page.screenshot(path=str(shots / f"{name}-{screen}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 0:
            problems.append(f"{name} is {overflow}px wider than a {screen} screen")
    page.set_viewport_size(SCREENS["desktop"])


def test_upload_review_confirm_progress_and_downloads(live_server, tenants, tmp_path, settings):
    reason = missing_browser_tools(REPO_ROOT)
    if reason:
        pytest.skip(reason)
    settings.SITE_URL = live_server.url  # web and worker print the same viewer URLs
    files = batch_data.pairs(tmp_path, 3)
    files["orders.csv"] = (
        "Фото;Видео;Название;Номер заказа\n"
        "guest0.jpg;guest0.mp4;Аня;A-1\nguest1.jpg;guest1.mp4;=Ivan;A-2\nguest2.jpg;;Still;A-3\nnobody.jpg;;Lost;A-4\n"
    ).encode("cp1251")
    archive = tmp_path / "order.zip"
    archive.write_bytes(batch_data.zip_bytes(files))
    shots = tmp_path / "screens"
    shots.mkdir()
    worker = start_qcluster(
        env={
            "DATABASE_URL": database_url(connection.settings_dict),
            "REDIS_URL": settings.REDIS_URL,
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "BATCH_STAGING_DIR": str(settings.BATCH_STAGING_DIR),
            "SITE_URL": live_server.url,
            "TASK_WORKERS": "2",
        },
        log_path=tmp_path / "qcluster.log",
    )
    problems: list[str] = []
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=False, args=list(FLAGS))
            context = browser.new_context(viewport=SCREENS["desktop"], accept_downloads=True)
            page = context.new_page()
            page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))

            page.goto(f"{live_server.url}/accounts/login/")
            page.fill("input[name=username]", tenants.owner.username)
            page.fill("input[name=password]", tenants.owner.raw_password)
            page.click("main button[type=submit]")
            page.goto(f"{live_server.url}/portal/projects/{tenants.project_a.slug}/")
            page.click("text=Batch upload")
            look(page, "upload", shots, problems)

            page.set_input_files("input[name=archive]", str(archive))
            assert "order.zip" in page.inner_text("[data-dropzone-summary]")
            page.click("form[data-batch-form] button[type=submit]")
            page.wait_for_url("**/portal/batches/**", timeout=120_000)
            wait_for(
                page, "document.querySelector('[data-batch-status]').dataset.batchStatus === 'review'", seconds=600
            )

            table = page.inner_text("table.batch-rows")
            assert "Аня" in table and "'=Ivan" in table and "“nobody.jpg” is not in the upload." in table
            assert "3 orders can be made." in page.inner_text("main")
            look(page, "review", shots, problems)
            assert page.query_selector("input[name=rows][value='5']") is None  # a row with errors cannot be chosen
            page.click("text=Confirm and make the portraits")

            wait_for(
                page, "document.querySelector('[data-batch-status]').dataset.batchStatus !== 'review'", seconds=120
            )
            look(page, "running", shots, problems)
            wait_for(page, "document.querySelector('[data-batch-status]').dataset.batchStatus === 'ready'", seconds=900)
            badges = page.eval_on_selector_all("[data-row-status]", "els => els.map(e => e.className)")
            assert badges.count("badge ready") == 3, badges

            # The print file is made right after the batch is ready; the page shows it when it is.
            wait_for(
                page,
                "!!document.querySelector('main') && /\\d+ pages?/.test(document.querySelector('main').innerText)",
                seconds=600,
            )
            look(page, "ready", shots, problems)
            with page.expect_download() as download:
                page.click("[data-print-link=a4]")
            pdf = Path(download.value.path()).read_bytes()
            assert pdf.startswith(b"%PDF")
            with page.expect_download() as download:
                page.click("text=Orders with links (CSV)")
            text = Path(download.value.path()).read_text(encoding="utf-8-sig")
            assert text.count("/v/") == 3 and "'=Ivan" in text
            page.click("text=Batches")
            assert "order.zip" in page.inner_text("table")
            look(page, "list", shots, problems)
            browser.close()
    finally:
        stop(worker)
    log = (tmp_path / "qcluster.log").read_text(errors="replace")
    assert not problems, problems
    batch = Batch.objects.get()
    assert batch.status == "ready", log[-3000:]
    import pypdfium2

    assert len(pypdfium2.PdfDocument(pdf)) == 3


def test_many_files_go_up_one_request_each(live_server, tenants, tmp_path):
    reason = missing_browser_tools(REPO_ROOT)
    if reason:
        pytest.skip(reason)
    paths = []
    for name, data in batch_data.pairs(tmp_path, 2).items():
        paths.append(tmp_path / name)
        paths[-1].write_bytes(data)
    problems: list[str] = []
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=False, args=list(FLAGS))
        page = browser.new_page(viewport=SCREENS["phone"])
        page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        posts = []
        page.on("request", lambda r: r.method == "POST" and posts.append(r.url))
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", tenants.editor.username)
        page.fill("input[name=password]", tenants.editor.raw_password)
        page.click("main button[type=submit]")
        page.goto(f"{live_server.url}/portal/projects/{tenants.project_a.slug}/batches/new/")
        page.set_input_files("input[name=files]", [str(p) for p in paths])
        assert "guest0.jpg" in page.inner_text("[data-dropzone-summary]")
        page.select_option("select[name=sheet_format]", "card")
        page.click("form[data-batch-form] button[type=submit]")
        page.wait_for_url("**/portal/batches/**", timeout=120_000)
        assert "Waiting to be checked" in page.inner_text("main")
        browser.close()
    assert not problems, problems
    # One request to open the batch, one per file, one to send it for checking.
    assert [p.rsplit("/", 2)[-2] for p in posts[1:]] == ["draft", "files", "files", "files", "files", "submit"]
    batch = Batch.objects.get()
    assert batch.status == "queued" and batch.sheet_format == "card" and batch.upload_files == 4
