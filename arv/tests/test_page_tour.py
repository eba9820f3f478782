"""Every page the app serves, opened in a real browser as staff, a company owner, a viewer-role
member and an anonymous visitor, at 1280 and 390 px, in English and Russian.

The pages are not listed here: they come from the URL configuration and the admin registry
(arv/testing/routes.py), their parameters from the tour's data (arv/tests/tour_data.py), so a
page added tomorrow is toured without editing this file, and a route the tour cannot classify
fails it. What makes a page fail is in arv/testing/tour.py. Screenshots of every page at both
widths go to var/page-tour/ (or $TOUR_ARTIFACTS), which git ignores.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from arv.testing.api import reset_throttles
from arv.testing.browser import missing_browser_tools
from arv.testing.routes import ANONYMOUS, OWNER, ROLES, STAFF, VIEWER, Visit, classify, routes
from arv.testing.tour import LANGUAGES, WIDTHS, Tour, browser, session_cookies
from arv.tests import tour_data
from companies.access import SESSION_KEY

pytestmark = [pytest.mark.browser, pytest.mark.tour, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REPO_ROOT = Path(__file__).resolve().parents[2]

# Routes that serve no page and whose parameters the tour cannot fill. Every other route is
# classified from its answers (a page, a POST-only action, a file, a redirect) or fails the tour.
EXCLUDED = {
    "media": "streams stored files (photos, videos, markers): the pages showing them load them",
    "viewer:nft_file": "the AR.js marker files, loaded by the NFT viewer page",
    "api:not_found": "the API's catch-all: a JSON 404 for any other path under /api/v1/",
    "admin:view_on_site": "redirects to an object's public page",
    "tls_ask": "answers a TLS proxy's question about ?domain= in plain text (200 or 404), no page",
    "admin:autocomplete": "the JSON behind the back office's autocomplete widgets",
    settings.ADMIN_URL + "(?P<url>.*)$": "the back office's catch-all: its log-in page or a 404",
}


def artifacts_dir() -> Path:
    vendor = connection.vendor
    return Path(os.environ.get("TOUR_ARTIFACTS") or REPO_ROOT / "var" / "page-tour") / vendor


def extra_visits(data) -> list[Visit]:
    """Pages no route answers with on its own: the error pages and a staff user's portal."""
    missing = f"/portal/portraits/{uuid.uuid4()}/"
    return [
        Visit("404 page", ANONYMOUS, "/no-such-page/", 404),
        Visit("404 page in the portal", OWNER, missing, 404),
        Visit("the portal without a company", STAFF, "/portal/", 403),
    ]


def studio_domain_visits(visits: list[Visit], branded: set[str], base: str) -> list[Visit]:
    """The branded studio's public pages again, on its own viewer domain (*base*), and the
    domain's neutral 404 page."""
    return [
        Visit(f"{v.route} on the studio's domain", ANONYMOUS, base + v.path, v.status)
        for v in visits
        if v.role == ANONYMOUS and v.path in branded
    ] + [Visit("404 page on the studio's domain", ANONYMOUS, base + "/no-such-page/", 404)]


def write_summary(path: Path, classified, result, timings: dict[str, float]) -> None:
    pages = len({(v.role, v.path) for entry in classified for v in entry.visits})
    lines = [
        f"{result.loads} page loads ({pages} pages and the error pages, at {len(WIDTHS)} widths in "
        f"{len(LANGUAGES)} languages) in {result.seconds:.0f} s, {result.screenshots} screenshots; "
        + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items()),
        "",
    ]
    for entry in classified:
        if entry.kind == "page":
            for visit in entry.visits:
                lines.append(f"page          {visit.route:45} {visit.role:9} {visit.status} {visit.path}")
        else:
            lines.append(f"{entry.kind:13} {entry.route.label:45} {entry.reason}")
    lines += ["", *(str(problem) for problem in result.problems)]
    if result.notes:
        lines += ["", "To review (not failures):", *(str(note) for note in result.notes)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_every_page_in_a_real_browser(
    live_server, client, tenants, make_user, make_portrait, tmp_path, settings, serve_domains
):
    reason = missing_browser_tools(REPO_ROOT)
    if reason:
        pytest.skip(reason)
    started = time.monotonic()
    data = tour_data.build(
        client=client,
        tenants=tenants,
        make_user=make_user,
        make_portrait=make_portrait,
        tmp_path=tmp_path,
        settings=settings,
    )
    users = {VIEWER: tenants.viewer, OWNER: tenants.owner, STAFF: data.staff}
    clients = {role: Client(raise_request_exception=False) for role in ROLES}
    for role, user in users.items():
        clients[role].force_login(user)
    # The owner works in two companies: the session says which, as the chooser would.
    session = clients[OWNER].session
    session[SESSION_KEY] = data.company.pk
    session.save()

    built = time.monotonic()
    classified = classify(routes(), clients, tour_data.candidates(data), EXCLUDED)
    timings = {"data": built - started, "classification": time.monotonic() - built}
    # The probes asked the API as anonymous and as each user: leave no throttle history behind.
    reset_throttles(*users.values())
    errors = [f"{c.route.label}: {c.reason}" for c in classified if c.kind == "server error"]
    assert not errors, "server errors:\n" + "\n".join(errors)
    unclassified = [f"{c.route.label}: {c.reason}" for c in classified if c.kind == "unclassified"]
    assert not unclassified, "routes the tour cannot classify (give the tour's data a value for them):\n" + "\n".join(
        unclassified
    )
    visits = [visit for entry in classified for visit in entry.visits] + extra_visits(data)
    toured = {entry.route.label for entry in classified if entry.kind == "page"}
    # The back office's model pages come from its registry: each model's list, add and change forms.
    from django.contrib import admin

    for model in admin.site._registry:
        info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        assert {f"{info}_changelist", f"{info}_change"} <= toured, info

    # The public pages are toured as the branded studio's (on the main site and on its own
    # domain) and, for company B, as the platform's.
    toured_paths = {visit.path for visit in visits}
    branded = tour_data.branded_paths(data)
    assert data.ready.get_public_url() in branded & toured_paths
    assert data.plain.get_public_url() in toured_paths - branded
    studio_site = f"http://{tour_data.BRAND_DOMAIN}:{live_server.url.rsplit(':', 1)[1]}"
    on_domain = studio_domain_visits(visits, branded, studio_site)
    visits += on_domain
    branded |= {visit.path for visit in on_domain}

    cookies = {role: session_cookies(c) for role, c in clients.items()}
    artifacts = artifacts_dir()
    with browser(local_names=[tour_data.BRAND_DOMAIN], secure_origins=[studio_site]) as chromium:
        tour = Tour(
            chromium,
            live_server.url,
            artifacts,
            branded=branded,
            platform_name=tour_data.PLATFORM_NAME,
            other_hosts=[tour_data.BRAND_DOMAIN],
        )
        result = tour.run(visits, cookies)
    write_summary(artifacts / "summary.txt", classified, result, timings)

    pages = len({(v.role, v.path) for v in visits})
    assert result.loads == pages * len(WIDTHS) * len(LANGUAGES)
    problems = "\n".join(str(p) for p in result.problems)
    assert not result.problems, f"{len(result.problems)} problems on {pages} pages:\n{problems}"
