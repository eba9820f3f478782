"""One place decides a photo's public address (Company.public_base_url): the company's verified
domain over https, else SITE_URL. QR codes, print sheets, the API and the portal all follow it,
and a domain that is not verified is never used anywhere."""

from __future__ import annotations

import io
import uuid

import pytest
from django.urls import reverse
from PIL import Image

from arv.testing.api import token_client
from arv.testing.domains import give_domain
from arv.testing.qr import decode_qr
from content import qr

SITE = "https://arv.example.com"
# Fixed ids: OpenCV's detector misreads about 2% of codes at these sizes, whatever made them.
PHOTO_ID = uuid.UUID("6f1c2a3e-8b4d-4e5f-9a6b-7c8d9e0f1a2b")


@pytest.fixture
def photo(tenants, make_portrait, settings):
    settings.SITE_URL = SITE
    return make_portrait(tenants.project_a, title="Anna", unique_id=PHOTO_ID)


# (domain state, the base URL every output must use)
SETTINGS = {
    "no domain": (None, SITE),
    "unverified domain": (False, SITE),
    "verified domain": (True, "https://ar.alpha.example"),
}


def _apply(tenants, state):
    if state is not None:
        give_domain(tenants.a, "ar.alpha.example", verified=state)


def _qr_of_pdf(pdf: bytes) -> set[str]:
    pdfium = pytest.importorskip("pypdfium2")
    page = pdfium.PdfDocument(pdf)[0]
    found = set()
    for scale in (2, 3, 4, 6):
        rendered = page.render(scale=scale).to_pil()
        w, h = rendered.size
        found.add(decode_qr(rendered.crop((0, int(h * 0.6), w // 2, h))))
    return found


@pytest.mark.django_db
@pytest.mark.parametrize("setting", list(SETTINGS))
def test_every_output_uses_the_one_public_base_url(client, tenants, photo, setting):
    state, base = SETTINGS[setting]
    _apply(tenants, state)
    photo.refresh_from_db()
    expected = f"{base}/v/{PHOTO_ID}/"
    assert photo.public_url == expected
    assert tenants.project_a.album_url.startswith(base + "/p/")

    client.force_login(tenants.owner)
    png = client.get(reverse("portal:portrait_qr_png", args=[PHOTO_ID]))
    assert decode_qr(Image.open(io.BytesIO(png.content))) == expected
    svg = client.get(reverse("portal:portrait_qr_svg", args=[PHOTO_ID])).content
    assert svg.startswith(b"<?xml")  # same data as the PNG (one function makes both)
    sheet = client.get(reverse("portal:portrait_print_sheet", args=[PHOTO_ID]), {"format": "a4"}).content
    assert expected in _qr_of_pdf(sheet)
    album_qr = client.get(reverse("portal:project_album_qr", args=["weddings"]))
    # The same bytes as a code made for the expected URL (random ids defeat OpenCV now and then).
    assert album_qr.content == qr.qr_png(f"{base}/p/{tenants.project_a.public_id}/")
    detail = client.get(reverse("portal:portrait_detail", args=[PHOTO_ID])).content.decode()
    assert expected in detail

    api = token_client(tenants.owner)
    body = api.get(f"/api/v1/portraits/{PHOTO_ID}/").json()
    assert body["viewer_url"] == expected
    listed = api.get("/api/v1/portraits/").json()["results"]
    assert [p["viewer_url"] for p in listed] == [expected]
    api_png = api.get(f"/api/v1/portraits/{PHOTO_ID}/qr.png", HTTP_ACCEPT="image/png")
    assert decode_qr(Image.open(io.BytesIO(api_png.content))) == expected
    project = api.get("/api/v1/projects/weddings/").json()
    assert project["album_url"].startswith(base + "/p/")


@pytest.mark.django_db
def test_an_unverified_domain_appears_in_no_output(client, tenants, photo):
    give_domain(tenants.a, "pending.alpha.example", verified=False)
    client.force_login(tenants.owner)
    outputs = [
        client.get(reverse("portal:portrait_detail", args=[PHOTO_ID])).content,
        client.get(reverse("portal:project_detail", args=["weddings"])).content,
        client.get(reverse("portal:portrait_print_sheet", args=[PHOTO_ID])).content,
        token_client(tenants.owner).get("/api/v1/portraits/").content,
        token_client(tenants.owner).get("/api/v1/projects/").content,
    ]
    for output in outputs:
        assert b"pending.alpha.example" not in output
    assert decode_qr(
        Image.open(io.BytesIO(client.get(reverse("portal:portrait_qr_png", args=[PHOTO_ID])).content))
    ).startswith(SITE)


@pytest.mark.django_db
def test_a_verified_domain_of_another_company_is_not_used(tenants, photo):
    give_domain(tenants.b, "ar.beta.example")
    photo.refresh_from_db()
    assert photo.public_url == f"{SITE}/v/{PHOTO_ID}/"


@pytest.mark.django_db
def test_the_lists_cost_no_extra_query_per_row_for_the_domain(tenants, make_portrait):
    """viewer_url and album_url come from the company loaded with each row: the same number of
    queries for one row as for four."""
    give_domain(tenants.a, "ar.alpha.example")
    make_portrait(tenants.project_a, title="P0")
    api = token_client(tenants.owner)
    api.get("/api/v1/portraits/")  # warm the per-process caches
    one = {path: _count_queries(api, path) for path in ("/api/v1/portraits/", "/api/v1/projects/")}
    from companies.models import Project

    for n in range(3):
        make_portrait(tenants.project_a, title=f"P{n + 1}")
        Project.objects.create(company=tenants.a, name=f"Extra {n}", slug=f"extra-{n}")
    four = {path: _count_queries(api, path) for path in ("/api/v1/portraits/", "/api/v1/projects/")}
    assert four == one
    body = api.get("/api/v1/portraits/").json()
    assert all(p["viewer_url"].startswith("https://ar.alpha.example/v/") for p in body["results"])


def _count_queries(api, path: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert api.get(path).status_code == 200
    return len(captured)
