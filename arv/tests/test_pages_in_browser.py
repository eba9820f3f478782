"""What a newcomer hit on a fresh install (issue 22), each page checked in a real browser with
the production settings and the real Content-Security-Policy, by the page tour's own checks
(arv/testing/tour.py): no console error, no CSP violation, no failed request, nothing sticking
out sideways, no text squeezed to a letter's width, no button out of reach."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from django.urls import reverse

from arv.testing.browser import missing_browser_tools
from arv.testing.routes import Visit
from arv.testing.tour import Tour, browser, session_cookies

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def open_tour(live_server):
    """Opens the browser once the test's data is in place: Playwright's sync API runs an event
    loop, inside which Django refuses database calls."""
    reason = missing_browser_tools(REPO_ROOT)
    if reason:
        pytest.skip(reason)

    @contextlib.contextmanager
    def start():
        with browser() as instance:
            yield Tour(instance, live_server.url, None)

    return start


def test_api_docs_start_swagger_ui_under_the_production_policy(open_tour, client):
    response = client.get("/api/docs/")
    assert "'unsafe-inline'" not in response["Content-Security-Policy"].split("script-src", 1)[1].split(";")[0]
    with open_tour() as tour, tour.tab([], "en") as tab:
        for width in (1280, 390):
            assert tour.look(tab, Visit("api_docs", "anonymous", "/api/docs/", 200), width, "en") == []
            # Swagger UI ran: the schema's operations are listed.
            assert tab.locator(".opblock").count() > 10
            assert tab.get_by_text("ARV API").first.is_visible()


def test_api_docs_try_it_out_writes_with_the_portal_session(open_tour, client, tenants):
    """The start-up script sends the CSRF cookie's token on writes, as Django requires of a
    session-authenticated POST."""
    import json

    from companies.models import Project

    client.force_login(tenants.owner)
    with open_tour() as tour, tour.tab(session_cookies(client), "en") as tab:
        answers = []
        tab.on("response", lambda r: "/api/v1/projects/" in r.url and answers.append(r.status))
        tab.goto(tour.base_url + "/api/docs/")
        block = tab.locator(".opblock-post", has_text="/api/v1/projects/").first
        block.locator(".opblock-summary").click()
        block.get_by_role("button", name="Try it out").click()
        block.locator("textarea.body-param__text").fill(json.dumps({"name": "From the docs"}))
        block.get_by_role("button", name="Execute").click()
        block.locator(".live-responses-table .response .response-col_status").first.wait_for(timeout=15_000)
    assert answers == [201]
    assert Project.objects.filter(company=tenants.a, name="From the docs").exists()


def test_admin_index_figures_are_readable(open_tour, client, make_user, tenants):
    staff = make_user("staff", is_staff=True, is_superuser=True)
    client.force_login(staff)
    with open_tour() as tour, tour.tab(session_cookies(client), "ru") as tab:
        for width in (1280, 390):
            assert tour.look(tab, Visit("admin:index", "staff", reverse("admin:index"), 200), width, "ru") == []
            labels = tab.locator(".platform-figures th")
            assert labels.count() == 4
            for i in range(4):
                # A label on one or two lines, not one letter per line.
                box = labels.nth(i).bounding_box()
                assert box["width"] > 100 and box["height"] < 60, (width, labels.nth(i).inner_text(), box)


def test_video_buttons_stay_in_reach_on_a_phone(open_tour, client, tenants, make_portrait):
    portrait = make_portrait(tenants.project_a, title="Anna", with_video=2)
    client.force_login(tenants.owner)
    path = portrait.get_absolute_url()
    with open_tour() as tour, tour.tab(session_cookies(client), "ru") as tab:
        for width in (390, 1280):
            assert tour.look(tab, Visit("portrait", "owner", path, 200), width, "ru") == []
            buttons = tab.locator("[data-video-actions] .button")
            assert buttons.count() == 2 * 5  # pin or unpin, schedule, up, down, delete
            for i in range(buttons.count()):
                box = buttons.nth(i).bounding_box()
                assert box["x"] >= 0 and box["x"] + box["width"] <= width, (width, buttons.nth(i).inner_text())


def test_no_page_asks_for_an_icon_in_vain(open_tour, client, tenants, make_portrait):
    from datetime import timedelta

    from django.utils import timezone

    ended = make_portrait(tenants.project_a, title="Ended", expires_at=timezone.now() - timedelta(days=1))
    client.force_login(tenants.owner)
    pages = [
        Visit("still page", "anonymous", ended.get_public_url(), 410),
        Visit("admin login", "anonymous", reverse("admin:login"), 200),
        Visit("api docs", "anonymous", "/api/docs/", 200),
    ]
    with open_tour() as tour, tour.tab([], "en") as tab:
        icons = []
        tab.on("response", lambda r: "favicon" in r.url and icons.append((r.url, r.status)))
        for visit in pages:
            assert tour.look(tab, visit, 1280, "en") == []
            assert tab.locator("link[rel=icon]").count() == 2
    assert icons and all(status == 200 for _url, status in icons), icons


def test_a_projects_photos_and_its_members_fit_a_phone(open_tour, client, tenants, make_portrait):
    """The project page's photos are a grid of cards (they were an unstyled list: bullets and
    full-width pictures), and the owner's role pickers show their choice (they were squeezed to
    two letters in a narrow column)."""
    for title in ("Anna", "Boris", "Clara"):
        make_portrait(tenants.project_a, title=title)
    client.force_login(tenants.owner)
    project = tenants.project_a.get_absolute_url()
    members = reverse("portal:member_list")
    with open_tour() as tour, tour.tab(session_cookies(client), "ru") as tab:
        for width in (390, 1280):
            assert tour.look(tab, Visit("project", "owner", project, 200), width, "ru") == []
            cards = tab.locator(".thumbs > .thumb")
            first, second = cards.nth(0).bounding_box(), cards.nth(1).bounding_box()
            assert first["y"] == second["y"] and first["width"] < width / 2, (width, first, second)
            assert tab.evaluate("getComputedStyle(document.querySelector('.thumbs')).listStyleType") == "none"
            assert tour.look(tab, Visit("members", "owner", members, 200), width, "ru") == []


def test_pending_invitations_keep_their_buttons_on_a_phone(open_tour, client, tenants):
    """The owner's pending invitations were a four-column table whose "Send again" and
    "Withdraw" were scrolled out of sight at 390 px; they stack like the members above them."""
    from companies import services

    services.invite_member(
        company=tenants.a, invited_by=tenants.owner, email="new.colleague@example.com", role="editor"
    )
    client.force_login(tenants.owner)
    members = reverse("portal:member_list")
    with open_tour() as tour, tour.tab(session_cookies(client), "ru") as tab:
        for width in (390, 1280):
            assert tour.look(tab, Visit("members", "owner", members, 200), width, "ru") == []
            buttons = tab.locator("table.invitations .button")
            assert buttons.count() == 2
            for i in range(2):
                box = buttons.nth(i).bounding_box()
                assert box["x"] >= 0 and box["x"] + box["width"] <= width, (width, buttons.nth(i).inner_text())


def test_the_tour_finds_english_left_on_a_russian_page(open_tour):
    from arv.testing.tour import UNTRANSLATED, english_messages

    english = english_messages("ru")
    assert {"Members", "Pending invitations", "Title"} <= set(english)
    with open_tour() as tour, tour.tab([], "ru") as tab:
        tab.set_content(
            '<p>Участники</p><h2>Pending invitations</h2><p hidden>Members</p><input placeholder="Projects">'
            "<p>Anna &amp; Ivan</p><script>'Members'</script><p>Columns: <code>Title</code></p>"
        )
        assert sorted(tab.evaluate(UNTRANSLATED, english)) == ["Pending invitations", "Projects (placeholder)"]


def test_a_studios_pages_show_no_trace_of_the_platform(open_tour, tenants, make_portrait, settings):
    """The tour's brand check passes a studio's branded page and fails a page without a brand
    (the platform's name and icon are on it) when told it should be the studio's."""
    from datetime import timedelta

    from django.utils import timezone

    from companies.models import Company

    settings.SITE_NAME = "Platformio"
    Company.objects.filter(pk=tenants.a.pk).update(brand_name="Studio Lumière")
    ended = timezone.now() - timedelta(days=1)
    branded = make_portrait(tenants.project_a, title="Ended", expires_at=ended).get_public_url()
    plain = make_portrait(tenants.project_b, title="Ended", expires_at=ended).get_public_url()
    with open_tour() as tour, tour.tab([], "ru") as tab:
        # The platform's own 404 page names it, as every page of the main site does.
        tour.branded, tour.platform_name = {branded, plain, "/no-such-page/"}, "Platformio"
        assert tour.look(tab, Visit("viewer:page", "anonymous", branded, 410), 390, "ru") == []
        plain_found = tour.look(tab, Visit("viewer:page", "anonymous", plain, 410), 390, "ru")
        named = tour.look(tab, Visit("404", "anonymous", "/no-such-page/", 404), 390, "ru")
    details = [p.detail for p in plain_found if p.kind == "platform on a studio's page"]
    assert any(d.startswith("the platform's icon") and d.endswith("/favicon.ico") for d in details), details
    assert "'Platformio' in the document" in [p.detail for p in named]


def test_webhook_tables_fit_a_phone(open_tour, client, tenants, settings):
    """The endpoint list, the delivery log and a delivery's attempts were wide tables whose last
    columns (status, code, attempts, the response) scrolled out of sight at 390 px."""
    from webhooks import services
    from webhooks.models import EventType
    from webhooks.tests.receiver import Answer, Receiver

    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    receiver = Receiver()
    try:
        events = [value for value, _label in EventType.subscribable()]
        endpoint, _secret = services.create_endpoint(company=tenants.a, url=receiver.url(), event_types=events)
        receiver.answer(Answer(500, b"restarting"))
        delivery = services.send_test_event(endpoint=endpoint)
        services.attempt_delivery(delivery_id=delivery.pk)
    finally:
        receiver.close()
    client.force_login(tenants.owner)
    pages = [reverse("portal:webhook_list"), endpoint.get_absolute_url(), delivery.get_absolute_url()]
    with open_tour() as tour, tour.tab(session_cookies(client), "ru") as tab:
        for path in pages:
            for width in (390, 1280):
                assert tour.look(tab, Visit("webhooks", "owner", path, 200), width, "ru") == []
                cells = tab.locator("table.stack td")
                assert cells.count() >= 4, path
                for i in range(cells.count()):
                    box = cells.nth(i).bounding_box()
                    assert box is None or box["x"] + box["width"] <= width + 1, (path, width, cells.nth(i).inner_text())
