"""A studio's brand on every page and sheet its customers see, in English and Russian, with the
platform's name nowhere on them, and the Content-Security-Policy as strict as without a brand."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from arv.testing.domains import give_domain
from arv.testing.factories import PHONE
from companies import logos
from companies.branding import Brand
from lib.csp import BASE_POLICY
from markers.models import ProjectMarker

PLATFORM = "Platformio"  # SITE_NAME for these tests: any trace of it on a customer's page is a leak
BRAND = "Studio Lumière"


def _logo() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (240, 80), (10, 120, 200, 255)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def branded(tenants, ready_portrait, make_portrait, settings, serve_domains):
    from types import SimpleNamespace

    from django.core.files.base import ContentFile

    from companies.storage import storage_for_company

    settings.SITE_NAME = PLATFORM
    company = tenants.a
    company.brand_name = BRAND
    company.brand_accent_color = "#ffd400"
    company.save(update_fields=["brand_name", "brand_accent_color"])
    logos.set_company_logo(company=company, logo=logos.validate_logo(SimpleUploadedFile("l.png", _logo())))
    give_domain(company, "ar.alpha.test")
    expired = make_portrait(tenants.project_a, title="Old", expires_at=timezone.now() - timedelta(days=1))
    preparing = make_portrait(tenants.project_a, title="New")
    storage = storage_for_company(company)
    marker = storage.save("alpha/weddings/album.mind", ContentFile(b"\x82\xa1v\x02" + b"\0" * 64))
    ProjectMarker.objects.create(project=tenants.project_a, output=marker, targets=[str(ready_portrait.unique_id)])
    company.refresh_from_db()
    return SimpleNamespace(company=company, photo=ready_portrait, expired=expired, preparing=preparing, t=tenants)


def _pages(b):
    return {
        "viewer page": (reverse("viewer:page", args=[b.photo.unique_id]), 200),
        "still page after expiry": (reverse("viewer:page", args=[b.expired.unique_id]), 410),
        "still page while preparing": (reverse("viewer:page", args=[b.preparing.unique_id]), 200),
        "album page": (reverse("viewer:album", args=[b.t.project_a.public_id]), 200),
        "not found on the studio's domain": ("/nothing/", 404),
    }


PAGE_NAMES = [
    "viewer page",
    "still page after expiry",
    "still page while preparing",
    "album page",
    "not found on the studio's domain",
]


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("host", ["testserver", "ar.alpha.test"])
@pytest.mark.parametrize("page", PAGE_NAMES)
def test_branded_pages_show_the_studio_and_never_the_platform(client, branded, page, host, language):
    if page.startswith("not found") and host == "testserver":
        pytest.skip("the main site's own 404 is the platform's page")
    url, status = _pages(branded)[page]
    response = client.get(url, HTTP_HOST=host, HTTP_ACCEPT_LANGUAGE=language, HTTP_USER_AGENT=PHONE)
    assert response.status_code == status
    html = response.content.decode()
    assert f'lang="{language}"' in html
    assert BRAND in html and branded.company.brand_logo.url in html
    assert 'style="--brand-accent:#ffd400;--brand-on-accent:#000000"' in html
    assert "/static/viewer/brand.css" in html
    for name in (PLATFORM, "ARV"):
        assert name not in html, f"{name!r} on the {page}"
    if language == "ru" and status != 404:
        assert re.search("[а-яА-Я]{4}", html)


@pytest.mark.django_db
@pytest.mark.parametrize("host", ["testserver", "ar.alpha.test"])
@pytest.mark.parametrize("page", PAGE_NAMES[:4])
def test_the_csp_of_branded_pages_is_as_strict_as_without_a_brand(client, branded, tenants, page, host):
    url, _status = _pages(branded)[page]
    branded_policy = client.get(url, HTTP_HOST=host, HTTP_USER_AGENT=PHONE)["Content-Security-Policy"]
    type(tenants.a).objects.filter(pk=tenants.a.pk).update(brand_name="", brand_accent_color="", brand_logo="")
    plain_policy = client.get(url, HTTP_HOST=host, HTTP_USER_AGENT=PHONE)["Content-Security-Policy"]
    assert branded_policy == plain_policy
    directives = dict(part.split(" ", 1) for part in branded_policy.split("; "))
    assert directives["script-src"].split()[0] == "'self'" and "'unsafe-inline'" not in directives["script-src"]
    for name in ("connect-src", "media-src", "img-src", "default-src"):
        # 'self' is the studio's domain on its domain: nothing of the main site is needed there.
        # The AR pages add only blob: to connect-src (the marker's early-fetched bytes, viewer/views.py).
        allowed = [list(BASE_POLICY[name])]
        if name == "connect-src":
            allowed.append([*BASE_POLICY[name], "blob:"])
        assert directives[name].split() in allowed, name
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"


@pytest.mark.django_db
def test_every_url_the_page_loads_is_relative_so_it_works_on_the_studio_domain(client, branded):
    html = client.get(
        reverse("viewer:page", args=[branded.photo.unique_id]), HTTP_HOST="ar.alpha.test", HTTP_USER_AGENT=PHONE
    ).content.decode()
    for url in re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r'"(?:\w+Url)":\s*"([^"]*)"', html):
        assert url == "" or url.startswith("/"), url


@pytest.mark.django_db
def test_an_inactive_studio_shows_no_logo(client, branded):
    branded.company.set_active(False)
    html = client.get(reverse("viewer:page", args=[branded.photo.unique_id]), HTTP_USER_AGENT=PHONE).content.decode()
    assert "/media/" not in html  # its files are not served, so none is linked
    assert BRAND in html


@pytest.mark.django_db
def test_without_a_brand_the_pages_are_unchanged(client, ready_portrait):
    html = client.get(reverse("viewer:page", args=[ready_portrait.unique_id]), HTTP_USER_AGENT=PHONE).content.decode()
    assert "brand-mark" not in html and "brand.css" not in html and "--brand-accent" not in html
    assert '<meta name="theme-color" content="#000000">' in html


def test_only_a_hex_colour_ever_reaches_the_style_attribute():
    assert Brand(name="x", accent="#aabbcc").style == "--brand-accent:#aabbcc;--brand-on-accent:#000000"
    for hostile in ("red", "#aabbcc;background:url(x)", "#AABBCC", "#abc", "", "#aabbcc\n"):
        assert Brand(name="x", accent=hostile).style == ""


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["a4", "card"])
@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_print_sheet_carries_the_brand_not_the_platform(client, branded, fmt, language):
    pdfium = pytest.importorskip("pypdfium2")
    client.force_login(branded.t.owner)
    response = client.get(
        reverse("portal:portrait_print_sheet", args=[branded.photo.unique_id]),
        {"format": fmt},
        HTTP_ACCEPT_LANGUAGE=language,
    )
    document = pdfium.PdfDocument(response.content)
    text = document[0].get_textpage().get_text_range()
    assert BRAND in text and "https://ar.alpha.test/v/" in text.replace("\r", "").replace("\n", "").replace(" ", "")
    metadata = document.get_metadata_dict()
    assert metadata["Creator"] == BRAND and metadata["Producer"] == BRAND
    for name in (PLATFORM, "ARV"):
        # (Not the raw bytes: the photo is ASCII85 in there, where any three letters turn up.)
        assert name not in text
        assert all(name not in str(value) for value in metadata.values())
    # The logo is drawn: the strip above the photo is not blank.
    rendered = document[0].render(scale=1).to_pil().convert("L")
    w, h = rendered.size
    strip = rendered.crop((0, 0, w // 3, int(h * 0.12)))
    assert strip.getextrema()[0] < 200


@pytest.mark.django_db
def test_the_print_sheet_without_a_brand_keeps_its_layout(client, tenants, make_portrait):
    pdfium = pytest.importorskip("pypdfium2")
    portrait = make_portrait(tenants.project_a)
    client.force_login(tenants.owner)
    response = client.get(reverse("portal:portrait_print_sheet", args=[portrait.unique_id]))
    assert pdfium.PdfDocument(response.content).get_metadata_dict()["Creator"] == "ARV"
