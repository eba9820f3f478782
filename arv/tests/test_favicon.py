"""/favicon.ico is served and every kind of page links the site's icon (issue 22, item 6)."""

import io
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from PIL import Image


@pytest.mark.django_db
def test_favicon_ico_is_the_sites_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/vnd.microsoft.icon"
    assert "max-age=86400" in response["Cache-Control"]
    with Image.open(io.BytesIO(response.content)) as icon:
        assert icon.format == "ICO"
        assert {(16, 16), (32, 32)} <= icon.info["sizes"]
    assert client.head("/favicon.ico").status_code == 200
    assert client.post("/favicon.ico").status_code == 405


def icons(html: str) -> list[str]:
    return re.findall(r'<link rel="icon" href="([^"]+)"', html)


@pytest.mark.django_db
def test_every_kind_of_page_links_the_icon(client, tenants, make_user, ready_portrait, make_portrait):
    ended = make_portrait(tenants.project_a, title="Ended", expires_at=timezone.now() - timedelta(days=1))
    anonymous = [
        ("/", 200),
        (reverse("login"), 200),
        (reverse("password_reset"), 200),
        (reverse("admin:login"), 200),
        ("/api/docs/", 200),
        (ready_portrait.get_public_url(), 200),
        (ended.get_public_url(), 410),
        ("/no-such-page/", 404),
    ]
    for path, status in anonymous:
        response = client.get(path)
        assert response.status_code == status, path
        links = icons(response.content.decode())
        assert "/favicon.ico" in links and any(link.endswith(".svg") for link in links), path
        for link in links:
            assert client.get(link).status_code == 200, link
    client.force_login(make_user("staff", is_staff=True, is_superuser=True))
    for path in (reverse("admin:index"), reverse("admin:companies_company_changelist")):
        assert "/favicon.ico" in icons(client.get(path).content.decode()), path
    client.force_login(tenants.viewer)
    for path, status in ((reverse("portal:dashboard"), 200), (reverse("portal:project_create"), 403)):
        response = client.get(path)
        assert response.status_code == status
        assert "/favicon.ico" in icons(response.content.decode()), path
