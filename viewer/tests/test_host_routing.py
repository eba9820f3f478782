"""Requests routed by Host: the main site serves every company; a studio's verified domain serves
only that studio's public pages and files; any other host is refused.

The matrix: main host / own domain / another company's domain / unknown host (and a claimed but
unverified domain) × the viewer page, the still page after expiry, the album page, the beacon and
the stored files those pages load.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from arv.testing.domains import give_domain
from arv.testing.factories import PHONE
from companies.storage import storage_for_company
from markers.models import ProjectMarker
from viewer import pagecache

MAIN = "testserver"
OWN = "ar.alpha.test"
OTHER = "ar.beta.test"
PENDING = "pending.gamma.test"
UNKNOWN = "evil.test"


@pytest.fixture
def world(tenants, ready_portrait, make_portrait, serve_domains):
    """Alpha (the photo's studio) and Beta each with a verified domain; Gamma with a pending one."""
    from types import SimpleNamespace

    from companies.models import Company

    give_domain(tenants.a, OWN)
    give_domain(tenants.b, OTHER)
    gamma = Company.objects.create(name="Gamma", slug="gamma")
    give_domain(gamma, PENDING, verified=False)
    expired = make_portrait(tenants.project_a, title="Old", expires_at=timezone.now() - timedelta(days=1))
    storage = storage_for_company(tenants.a)
    marker = storage.save(f"{tenants.a.path_prefix}/weddings/album.mind", ContentFile(b"\x82\xa1v\x02" + b"\0" * 64))
    ProjectMarker.objects.create(
        project=tenants.project_a, output=marker, targets=[str(ready_portrait.unique_id)], compact_version=1
    )
    # Both markers with their compact marker (the arv engine's), served by their own routes.
    job = ready_portrait.jobs.get()
    for name in (marker, job.output.name):
        storage.save(name.rsplit(".", 1)[0] + ".arvm", ContentFile(b"ARVM" + b"\0" * 64))
    job.compact_version = 1
    job.save(update_fields=["compact_version"])
    beta_photo = make_portrait(tenants.project_b, title="Beta photo", with_video=True)
    return SimpleNamespace(photo=ready_portrait, expired=expired, beta_photo=beta_photo, tenants=tenants)


def _beacon(client, uuid, host):
    body = json.dumps({"session": "8d7b6f1e-3a52-4a7c-9e2d-0c1f5a6b7c8d", "found": True})
    return client.post(
        reverse("viewer:beacon", args=[uuid]),
        body,
        content_type="application/json",
        HTTP_HOST=host,
        HTTP_USER_AGENT=PHONE,
    )


def _stem(field) -> str:
    return field.name.rsplit("/", 1)[-1].rsplit(".", 1)[0]


PAGES = {
    "viewer page": lambda w: ("get", reverse("viewer:page", args=[w.photo.unique_id]), 200),
    "still page after expiry": lambda w: ("get", reverse("viewer:page", args=[w.expired.unique_id]), 410),
    "album page": lambda w: ("get", reverse("viewer:album", args=[w.tenants.project_a.public_id]), 200),
    "beacon": lambda w: ("beacon", w.photo.unique_id, 204),
    "photo preview file": lambda w: ("get", w.photo.preview.url, 200),
    "video file": lambda w: ("get", w.photo.videos.get().file.url, 200),
    "marker file": lambda w: ("get", w.photo.jobs.get().output.url, 200),
    "marker route": lambda w: (
        "get",
        reverse("viewer:marker", args=[w.photo.unique_id, _stem(w.photo.jobs.get().output)]),
        200,
    ),
    "album marker route": lambda w: (
        "get",
        reverse(
            "viewer:album_marker",
            args=[w.tenants.project_a.public_id, _stem(w.tenants.project_a.combined_marker.output)],
        ),
        200,
    ),
}
PAGES["compact marker route"] = lambda w: (
    "get",
    reverse("viewer:compact_marker", args=[w.photo.unique_id, _stem(w.photo.jobs.get().output)]),
    200,
)
PAGES["album compact marker route"] = lambda w: (
    "get",
    reverse(
        "viewer:album_compact_marker",
        args=[w.tenants.project_a.public_id, _stem(w.tenants.project_a.combined_marker.output)],
    ),
    200,
)
HOSTS = {
    MAIN: "ok",  # every company's pages: existing printed QR codes keep working
    OWN: "ok",
    OTHER: 404,  # another studio's domain: as if the photo did not exist
    PENDING: 400,  # claimed, not verified: not a host we answer to
    UNKNOWN: 400,
}


@pytest.mark.django_db
@pytest.mark.parametrize("host", list(HOSTS))
@pytest.mark.parametrize("page", list(PAGES))
def test_host_routing_matrix(client, world, page, host):
    method, target, ok_status = PAGES[page](world)
    response = _beacon(client, target, host) if method == "beacon" else client.get(target, HTTP_HOST=host)
    expected = ok_status if HOSTS[host] == "ok" else HOSTS[host]
    assert response.status_code == expected, (page, host, response.content[:300])
    if expected == 404:
        # The 404 on a studio's domain is the studio's own neutral page, not the platform's.
        assert b"ARV" not in response.content


@pytest.mark.django_db
def test_another_companys_photo_and_files_are_404_on_a_studio_domain(client, world):
    beta = world.beta_photo
    assert client.get(reverse("viewer:page", args=[beta.unique_id]), HTTP_HOST=OTHER).status_code == 200
    assert client.get(reverse("viewer:page", args=[beta.unique_id]), HTTP_HOST=OWN).status_code == 404
    assert client.get(beta.image.url, HTTP_HOST=OWN).status_code == 404
    assert client.get(beta.image.url, HTTP_HOST=OTHER).status_code == 200
    assert (
        client.get(reverse("viewer:album", args=[world.tenants.project_b.public_id]), HTTP_HOST=OWN).status_code == 404
    )


@pytest.mark.django_db
def test_the_page_cache_never_serves_a_page_to_another_studios_domain(client, world, settings):
    settings.VIEWER_PAGE_CACHE_SECONDS = 60
    pagecache.clear()
    url = reverse("viewer:page", args=[world.photo.unique_id])
    assert client.get(url, HTTP_HOST=MAIN, HTTP_USER_AGENT=PHONE).status_code == 200
    assert client.get(url, HTTP_HOST=OWN, HTTP_USER_AGENT=PHONE).status_code == 200
    assert client.get(url, HTTP_HOST=OTHER, HTTP_USER_AGENT=PHONE).status_code == 404
    pagecache.clear()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    ["/portal/", "/portal/projects/?page=2", "/admin/", "/api/v1/projects/", "/api/docs/", "/accounts/login/"],
)
def test_portal_admin_api_and_login_redirect_to_the_main_site(client, world, settings, path):
    settings.SITE_URL = "https://arv.example.com"
    response = client.get(path, HTTP_HOST=OWN)
    assert response.status_code == 302 and response["Location"] == "https://arv.example.com" + path
    posted = client.post(path, {"x": "1"}, HTTP_HOST=OWN)
    assert posted.status_code == 307  # the method and body go along


@pytest.mark.django_db
def test_the_landing_page_and_unknown_paths_are_a_neutral_404_on_a_studio_domain(client, world):
    for path in ("/", "/nothing-here/", "/healthz", "/v/not-a-uuid/"):
        response = client.get(path, HTTP_HOST=OWN)
        assert response.status_code == 404, path
        assert b"ARV" not in response.content and b"Nothing here" in response.content
    assert client.get("/", HTTP_HOST=MAIN).status_code == 200


@pytest.mark.django_db
def test_the_verification_file_is_served_only_on_the_verified_domain(client, world):
    response = client.get("/.well-known/arv-verification.txt", HTTP_HOST=OWN)
    assert response.status_code == 200 and response.content.decode() == f"test-token-{OWN}"
    assert client.get("/.well-known/arv-verification.txt", HTTP_HOST=MAIN).status_code == 404
    assert client.get("/.well-known/arv-verification.txt", HTTP_HOST=PENDING).status_code == 400


@pytest.mark.django_db
def test_hsts_on_a_studio_domain_stays_on_its_name(client, world, settings):
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    url = reverse("viewer:page", args=[world.photo.unique_id])
    main = client.get(url, HTTP_HOST=MAIN, secure=True)
    own = client.get(url, HTTP_HOST=OWN, secure=True)
    assert main["Strict-Transport-Security"] == "max-age=3600; includeSubDomains; preload"
    assert own["Strict-Transport-Security"] == "max-age=3600"


@pytest.mark.django_db
def test_host_names_match_exactly_whatever_the_case_or_trailing_dot(client, world):
    url = reverse("viewer:page", args=[world.photo.unique_id])
    assert client.get(url, HTTP_HOST="AR.Alpha.Test").status_code == 200
    assert client.get(url, HTTP_HOST="ar.alpha.test.").status_code == 200
    assert client.get(url, HTTP_HOST="ar.alpha.test:443").status_code == 200
    for near_miss in ("x.ar.alpha.test", "ar.alpha.test.evil.test", "alpha.test", "ar-alpha.test"):
        assert client.get(url, HTTP_HOST=near_miss).status_code == 400, near_miss


@pytest.mark.django_db
def test_a_removed_domain_stops_being_served_at_once(client, world, django_capture_on_commit_callbacks):
    from companies import services

    url = reverse("viewer:page", args=[world.photo.unique_id])
    assert client.get(url, HTTP_HOST=OWN).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        services.remove_viewer_domain(company=world.tenants.a)
    assert client.get(url, HTTP_HOST=OWN).status_code == 400
    assert client.get(url, HTTP_HOST=MAIN).status_code == 200


@pytest.mark.django_db
def test_the_tls_proxy_may_ask_which_names_to_get_certificates_for(client, world):
    assert client.get("/tls/ask", {"domain": OWN}).status_code == 200
    assert client.get("/tls/ask", {"domain": "AR.Alpha.Test."}).status_code == 200
    for name in (PENDING, UNKNOWN, "", "testserver"):
        assert client.get("/tls/ask", {"domain": name}).status_code == 404, name
    assert client.get("/tls/ask", {"domain": OWN}, HTTP_HOST=OWN).status_code == 404  # not on a studio's domain


@pytest.mark.django_db
def test_a_studio_domain_keeps_working_while_the_cache_is_down(client, world, monkeypatch):
    from django.core.cache import cache

    from companies.hosts import forget_verified_domains

    def down(*args, **kwargs):
        raise ConnectionError("cache server gone")

    for method in ("get", "set", "delete"):
        monkeypatch.setattr(cache, method, down)
    forget_verified_domains()  # must not fail either
    url = reverse("viewer:page", args=[world.photo.unique_id])
    assert client.get(url, HTTP_HOST=OWN).status_code == 200
    assert client.get(url, HTTP_HOST=OTHER).status_code == 404


@pytest.mark.django_db
def test_the_icon_on_a_studio_domain_is_the_studios_once_it_has_a_brand(client, world):
    from django.core.files.base import ContentFile as File

    company = world.tenants.a
    platform = client.get("/favicon.ico", HTTP_HOST=MAIN)
    assert platform.status_code == 200
    # No brand yet: the platform's icon, as on the main site.
    unbranded = client.get("/favicon.ico", HTTP_HOST=OWN)
    assert unbranded.status_code == 200 and unbranded.content == platform.content
    # A brand without a logo: no icon at all rather than the platform's.
    company.brand_name = "Alpha Photo"
    company.save(update_fields=["brand_name"])
    assert client.get("/favicon.ico", HTTP_HOST=OWN).status_code == 404
    # With a logo: the logo; and the pages link it, never the platform's icon.
    company.brand_logo.save("logo.png", File(b"\x89PNG\r\n\x1a\nlogo"), save=True)
    response = client.get("/favicon.ico", HTTP_HOST=OWN)
    assert response.status_code == 302 and response["Location"] == company.brand_logo.url
    page = client.get(reverse("viewer:page", args=[world.photo.unique_id]), HTTP_HOST=OWN, HTTP_USER_AGENT=PHONE)
    html = page.content.decode()
    assert f'<link rel="icon" href="{company.brand_logo.url}">' in html and "favicon" not in html
