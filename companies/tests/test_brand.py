"""The Brand page in the portal and the brand fields in the back office: who may change what, and
what hostile or broken input does (a clear message, nothing stored)."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from companies.branding import contrast_ratio, text_colour_on
from companies.models import Company
from companies.storage import storage_for_company
from companies.storage_moves import company_file_names, recompute_storage_usage


def png(width=300, height=100, *, mode="RGBA", colour=(200, 30, 30, 255), trailer=b"") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), colour[: len(mode)]).save(out, "PNG")
    return out.getvalue() + trailer


def upload(data: bytes, name="logo.png", content_type="image/png"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def brand_post(client, **data):
    payload = {"brand_name": "", "brand_accent_color": ""}
    payload.update(data)
    return client.post(reverse("portal:brand"), payload)


# --- Roles and tenancy -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_is_sent_to_log_in(client):
    response = client.get(reverse("portal:brand"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client.post(reverse("portal:domain_set"), {"domain": "a.example"}).status_code == 302


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_members_see_the_brand_but_only_owners_change_it(client, tenants, role):
    user = tenants.viewer if role == "viewer" else tenants.editor
    client.force_login(user)
    page = client.get(reverse("portal:brand"))
    assert page.status_code == 200
    assert b"Only the company" in page.content and b'name="brand_name"' not in page.content
    for name, data in [
        ("portal:brand", {"brand_name": "Hijacked"}),
        ("portal:domain_set", {"domain": "hijack.example"}),
        ("portal:domain_check", {}),
        ("portal:domain_remove", {}),
    ]:
        assert client.post(reverse(name), data).status_code == 403, name
    tenants.a.refresh_from_db()
    assert tenants.a.brand_name == "" and tenants.a.viewer_domain == ""


@pytest.mark.django_db
def test_an_owner_changes_only_their_own_company(client, tenants):
    """Another company's owner (Beta) posting the same forms changes Beta, never Alpha: the page
    has no company in its URL, it acts on the active company of the user."""
    client.force_login(tenants.outsider)
    assert brand_post(client, brand_name="Beta Brand", brand_accent_color="#123456").status_code == 302
    assert client.post(reverse("portal:domain_set"), {"domain": "ar.beta.example"}).status_code == 302
    tenants.a.refresh_from_db()
    tenants.b.refresh_from_db()
    assert (tenants.a.brand_name, tenants.a.viewer_domain) == ("", "")
    assert (tenants.b.brand_name, tenants.b.viewer_domain) == ("Beta Brand", "ar.beta.example")
    # Switching to a company one is not a member of does not happen.
    client.post(reverse("portal:switch_company"), {"company": "alpha"})
    brand_post(client, brand_name="Still Beta")
    tenants.a.refresh_from_db()
    assert tenants.a.brand_name == ""


@pytest.mark.django_db
def test_a_read_only_company_cannot_change_its_brand(client, tenants):
    tenants.a.set_active(False)
    client.force_login(tenants.owner)
    assert brand_post(client, brand_name="X").status_code == 403


@pytest.mark.django_db
def test_the_brand_page_costs_few_queries(client, tenants, django_assert_max_num_queries):
    client.force_login(tenants.owner)
    client.get(reverse("portal:brand"))
    # session, user, memberships+companies, the company (fresh), storage default
    with django_assert_max_num_queries(6):
        assert client.get(reverse("portal:brand")).status_code == 200


# --- The owner's happy path --------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_owner_sets_name_colour_and_logo(client, tenants):
    client.force_login(tenants.owner)
    response = client.post(
        reverse("portal:brand"),
        {"brand_name": "  Alpha   Photo  ", "brand_accent_color": "1F6FEB", "logo": upload(png(1200, 400))},
    )
    assert response.status_code == 302
    company = Company.objects.get(pk=tenants.a.pk)
    assert company.brand_name == "Alpha Photo" and company.brand_accent_color == "#1f6feb"
    assert company.brand_logo.name.startswith("alpha/brand/logo-") and company.brand_logo.name.endswith(".png")
    assert (company.brand_logo_width, company.brand_logo_height) == (512, 171)  # fitted into 512×512
    stored = company.brand_logo.read()
    assert Image.open(io.BytesIO(stored)).format == "PNG"
    assert company.storage_used_bytes == company.brand_logo_bytes == len(stored)
    # Referenced by the company's row: moved, backed up and served like its other files.
    assert company.brand_logo.name in company_file_names(company)
    assert client.get(company.brand_logo.url).status_code == 200
    page = client.get(reverse("portal:brand")).content.decode()
    assert "--brand-accent:#1f6feb;--brand-on-accent:#ffffff" in page and company.brand_logo.url in page


@pytest.mark.django_db
def test_replacing_and_removing_the_logo_deletes_the_old_file_and_returns_the_quota(
    client, tenants, django_capture_on_commit_callbacks
):
    client.force_login(tenants.owner)
    with django_capture_on_commit_callbacks(execute=True):
        brand_post(client, logo=upload(png()))
    first = Company.objects.get(pk=tenants.a.pk).brand_logo.name
    with django_capture_on_commit_callbacks(execute=True):
        brand_post(client, logo=upload(png(colour=(0, 0, 255, 255))))
    company = Company.objects.get(pk=tenants.a.pk)
    storage = storage_for_company(company)
    assert company.brand_logo.name != first and not storage.exists(first)
    assert company.storage_used_bytes == company.brand_logo_bytes
    with django_capture_on_commit_callbacks(execute=True):
        brand_post(client, **{"logo-clear": "1"})
    company.refresh_from_db()
    assert not company.brand_logo and company.storage_used_bytes == 0
    assert recompute_storage_usage(company=company).drift == 0


@pytest.mark.django_db
def test_logo_bytes_count_in_the_usage_recount(client, tenants):
    client.force_login(tenants.owner)
    brand_post(client, logo=upload(png()))
    company = Company.objects.get(pk=tenants.a.pk)
    Company.objects.filter(pk=company.pk).update(storage_used_bytes=0, brand_logo_bytes=0)
    report = recompute_storage_usage(company=company)
    company.refresh_from_db()
    assert report.actual == company.storage_used_bytes == company.brand_logo_bytes > 0


# --- Bad input: a clear message, nothing stored ------------------------------------------------------

SVG = b"""<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">
<script>fetch('/portal/api-token/create/',{method:'POST'})</script><rect width="10" height="10"/></svg>"""


def _bomb() -> bytes:
    out = io.BytesIO()
    Image.new("1", (30000, 30000)).save(out, "PNG")  # a few KB on disk, 900 megapixels decoded
    return out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (SVG, "logo.svg", "SVG and other markup files are not accepted"),
        (b"\xef\xbb\xbf  <svg onload=alert(1)></svg>", "logo.png", "SVG and other markup"),
        (b"<!DOCTYPE html><html><script>alert(1)</script>", "logo.png", "SVG and other markup"),
        (b"%PDF-1.7 not an image at all", "logo.png", "Upload the logo as a PNG, JPEG or WebP image."),
        (b"GIF89a" + b"\0" * 100, "logo.gif", "Upload the logo as a PNG, JPEG or WebP image."),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 50, "logo.png", "damaged or incomplete"),
        (png(8, 8), "logo.png", "at least 16 px"),
        (png(5000, 100), "logo.png", "at most 2048 px"),
        (_bomb(), "logo.png", "far too many pixels"),
        (b"", "logo.png", "The submitted file is empty."),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * (2 * 1024 * 1024 + 1), "logo.png", "the limit is 2.0"),
    ],
)
def test_hostile_or_broken_logos_are_refused(client, tenants, data, name, message):
    client.force_login(tenants.owner)
    response = client.post(
        reverse("portal:brand"), {"brand_name": "New name", "brand_accent_color": "", "logo": upload(data, name)}
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    company = Company.objects.get(pk=tenants.a.pk)
    assert not company.brand_logo and company.brand_name == "" and company.storage_used_bytes == 0
    assert not (storage_for_company(company).exists("alpha/brand"))


@pytest.mark.django_db
def test_an_image_with_a_payload_appended_is_stored_re_encoded(client, tenants):
    client.force_login(tenants.owner)
    hostile = png(trailer=b"<script>alert(document.cookie)</script>" * 10)
    assert brand_post(client, logo=upload(hostile)).status_code == 302
    stored = Company.objects.get(pk=tenants.a.pk).brand_logo.read()
    assert b"<script>" not in stored and stored != hostile


@pytest.mark.django_db
@pytest.mark.parametrize(
    "colour",
    [
        "red",
        "#12345",
        "#1234567",
        "#ggg",
        "#fff;}body{display:none",
        'x" onload="alert(1)',
        "rgb(1,2,3)",
        "var(--x)",
        "#fff\n",
        "url(javascript:alert(1))",
    ],
)
def test_bad_colours_are_refused(client, tenants, colour):
    client.force_login(tenants.owner)
    response = brand_post(client, brand_name="Alpha", brand_accent_color=colour)
    if colour == "#fff\n":  # surrounding whitespace is forgiven, and only #rrggbb is kept
        assert response.status_code == 302
        assert Company.objects.get(pk=tenants.a.pk).brand_accent_color == "#ffffff"
        return
    assert response.status_code == 400 and "hex code" in response.content.decode()
    assert Company.objects.get(pk=tenants.a.pk).brand_accent_color == ""


@pytest.mark.django_db
def test_names_are_escaped_and_limited(client, tenants):
    client.force_login(tenants.owner)
    assert brand_post(client, brand_name="x" * 101).status_code == 400
    assert brand_post(client, brand_name='<img src=x onerror="alert(1)">').status_code == 302
    page = client.get(reverse("portal:brand")).content.decode()
    assert "<img src=x onerror" not in page and "&lt;img src=x onerror" in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("domain", "message"),
    [
        ("", "This field is required."),
        ("https://ar.studio.example/", "Enter just the domain name"),
        ("*.studio.example", "Wildcard domains cannot be used"),
        ("192.168.1.10", "not an IP address"),
        ("testserver.example:8000", "Enter just the domain name"),
        ("127.0.0.1", "not an IP address"),
        ("x" * 1000, "Ensure this value has at most 300 characters"),
    ],
)
def test_bad_domains_are_refused_on_the_page(client, tenants, domain, message):
    client.force_login(tenants.owner)
    response = client.post(reverse("portal:domain_set"), {"domain": domain})
    assert response.status_code == 400 and message in response.content.decode()
    assert Company.objects.get(pk=tenants.a.pk).viewer_domain == ""


@pytest.mark.django_db
def test_a_domain_of_another_company_is_refused_on_the_page(client, tenants):
    from companies.services import claim_viewer_domain

    claim_viewer_domain(company=tenants.b, domain="ar.shared.example")
    client.force_login(tenants.owner)
    response = client.post(reverse("portal:domain_set"), {"domain": "AR.Shared.Example."})
    assert response.status_code == 400 and "already used by another company" in response.content.decode()


@pytest.mark.django_db
def test_the_page_explains_how_to_verify(client, tenants, settings):
    settings.SITE_URL = "https://arv.example.com"
    client.force_login(tenants.owner)
    client.post(reverse("portal:domain_set"), {"domain": "фото.рф"})
    company = Company.objects.get(pk=tenants.a.pk)
    page = client.get(reverse("portal:brand")).content.decode()
    assert "фото.рф" in page and "waiting for verification" in page
    assert f'_arv-verification.xn--n1aalg.xn--p1ai.  TXT  "arv-verification={company.viewer_domain_token}"' in page
    assert "xn--n1aalg.xn--p1ai.  CNAME  arv.example.com." in page
    assert "http://xn--n1aalg.xn--p1ai/.well-known/arv-verification.txt" in page


@pytest.mark.django_db
def test_check_now_reports_the_outcome(client, tenants, dns_server, settings):
    from arv.testing.processes import free_port

    settings.DOMAIN_CHECK_HTTP_PORT = free_port()
    settings.DOMAIN_CHECK_ALLOW_PRIVATE = True
    client.force_login(tenants.owner)
    client.post(reverse("portal:domain_set"), {"domain": "ar.alpha.test"})
    response = client.post(reverse("portal:domain_check"), follow=True)
    assert "Not verified yet: There is no DNS record _arv-verification.ar.alpha.test." in response.content.decode()
    token = Company.objects.get(pk=tenants.a.pk).viewer_domain_token
    dns_server.set("_arv-verification.ar.alpha.test", "TXT", f"arv-verification={token}")
    response = client.post(reverse("portal:domain_check"), follow=True)
    assert "checked a few seconds ago" in response.content.decode()  # throttled
    Company.objects.filter(pk=tenants.a.pk).update(viewer_domain_checked_at=None)
    response = client.post(reverse("portal:domain_check"), follow=True)
    assert "Verified: QR codes and links now use ar.alpha.test." in response.content.decode()
    response = client.post(reverse("portal:domain_remove"), follow=True)
    assert Company.objects.get(pk=tenants.a.pk).viewer_domain == ""


@pytest.mark.django_db
def test_the_brand_page_in_russian(client, tenants):
    client.force_login(tenants.owner)
    page = client.get(reverse("portal:brand"), HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Бренд" in page and "Ваш домен" in page


# --- Back office -------------------------------------------------------------------------------------


@pytest.fixture
def staff(make_user):
    return make_user("staff", is_staff=True, is_superuser=True)


def _admin_form(company: Company, **changes) -> dict:
    data = {
        "name": company.name,
        "slug": company.slug,
        "is_active": "on",
        "notes": "",
        "contact_email": company.contact_email,
        "contact_phone": "",
        "telegram_chat_id": "",
        "timezone": "UTC",
        "language": "en",
        "subscription_tier": "free",
        "subscription_period_months": "12",
        "notify_days_before_expiry": "14",
        "projects_limit": "10",
        "storage_quota_bytes": str(company.storage_quota_bytes),
        "storage_connection": "",
        "storage_prefix": "",
        "viewer_engine": "mindar",
        "brand_name": "",
        "brand_accent_color": "",
        "viewer_domain": "",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "projects-TOTAL_FORMS": "0",
        "projects-INITIAL_FORMS": "0",
    }
    data.update(changes)
    return data


@pytest.mark.django_db
def test_staff_edit_the_brand_in_the_back_office(client, tenants, staff):
    client.force_login(staff)
    url = reverse("admin:companies_company_change", args=[tenants.a.pk])
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        _admin_form(
            tenants.a,
            brand_name="Alpha Pro",
            brand_accent_color="#ABCDEF",
            viewer_domain="AR.Alpha.Example",
            logo_upload=upload(png()),
        ),
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    company = Company.objects.get(pk=tenants.a.pk)
    assert (company.brand_name, company.brand_accent_color, company.viewer_domain) == (
        "Alpha Pro",
        "#abcdef",
        "ar.alpha.example",
    )
    assert company.viewer_domain_token and company.viewer_domain_verified_at is None  # verified only by proof
    assert company.brand_logo and company.storage_used_bytes == company.brand_logo_bytes
    page = client.get(url).content.decode()
    assert f"arv-verification={company.viewer_domain_token}" in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"brand_accent_color": "red"}, "hex code"),
        ({"viewer_domain": "*.evil.example"}, "Wildcard"),
        ({"viewer_domain": "10.0.0.1"}, "not an IP address"),
        ({"logo_upload": upload(SVG, "x.svg")}, "SVG"),
    ],
)
def test_the_back_office_refuses_what_the_portal_refuses(client, tenants, staff, changes, message):
    client.force_login(staff)
    url = reverse("admin:companies_company_change", args=[tenants.a.pk])
    response = client.post(url, _admin_form(tenants.a, **changes))
    assert response.status_code == 200 and message in response.content.decode()
    company = Company.objects.get(pk=tenants.a.pk)
    assert not company.brand_logo and company.viewer_domain == "" and company.brand_accent_color == ""


@pytest.mark.django_db
def test_the_back_office_refuses_a_domain_another_company_holds(client, tenants, staff):
    from companies.services import claim_viewer_domain

    claim_viewer_domain(company=tenants.b, domain="ar.beta.example")
    client.force_login(staff)
    url = reverse("admin:companies_company_change", args=[tenants.a.pk])
    response = client.post(url, _admin_form(tenants.a, viewer_domain="AR.beta.example"))
    assert "already" in response.content.decode()
    assert Company.objects.get(pk=tenants.a.pk).viewer_domain == ""


@pytest.mark.django_db
def test_the_back_office_checks_domains(client, tenants, staff, dns_server):
    from companies.services import claim_viewer_domain

    company = claim_viewer_domain(company=tenants.a, domain="ar.alpha.test")
    dns_server.set("_arv-verification.ar.alpha.test", "TXT", f"arv-verification={company.viewer_domain_token}")
    client.force_login(staff)
    response = client.post(
        reverse("admin:companies_company_changelist"),
        {"action": "check_domains", "_selected_action": [tenants.a.pk, tenants.b.pk]},
        follow=True,
    )
    assert "ar.alpha.test verified" in response.content.decode()
    assert Company.objects.get(pk=tenants.a.pk).verified_domain == "ar.alpha.test"


# --- Colour arithmetic --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accent", "text"),
    [
        ("#ffffff", "#000000"),
        ("#000000", "#ffffff"),
        ("#1f6feb", "#ffffff"),
        ("#ffd400", "#000000"),
        ("#777777", "#000000"),
    ],
)
def test_text_on_the_accent_is_the_more_readable_of_black_and_white(accent, text):
    assert text_colour_on(accent) == text
    assert contrast_ratio(accent, text) >= 4.5
