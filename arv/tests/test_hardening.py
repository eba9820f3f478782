"""Security settings and headers: deploy checks, CSP, clickjacking, login throttling."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import mail
from django.core.cache import cache
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]


def test_production_settings_pass_check_deploy_with_no_warnings():
    env = {
        **os.environ,
        "ARV_IGNORE_DOTENV": "1",
        "DJANGO_SETTINGS_MODULE": "arv.settings",
        "DEBUG": "0",
        "SECRET_KEY": "Zq8r3T-vK1mW9xL2pN7bY4cF6hJ0sD5gA8eR1tU3iO6yP9lK2jH4gF7dS0aQ",
        "SITE_URL": "https://ar.example.com",
        "ALLOWED_HOSTS": "ar.example.com",
        "VAR_DIR": "/tmp/arv-deploy-check",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.fixture(autouse=True)
def _fresh_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.mark.django_db
def test_every_html_page_carries_a_strict_csp_and_no_framing(client, tenants):
    client.force_login(tenants.owner)
    response = client.get(reverse("portal:dashboard"))
    policy = response["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "object-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "'unsafe-eval'" not in policy and "unsafe-inline" not in policy.split("style-src")[0]
    assert response["X-Frame-Options"] == "DENY"
    assert response["Permissions-Policy"].startswith("camera=()")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" not in client.get("/healthz")  # JSON, not a page


@pytest.mark.django_db
def test_the_viewer_may_use_the_camera_and_its_importmap_only(client):
    from arv.testing.factories import PHONE  # noqa: F401 - ensures the fixture module loads

    response = client.get("/v/00000000-0000-4000-8000-000000000000/")
    assert response.status_code == 404  # a miss still gets the strict page policy
    assert "camera=()" in response["Permissions-Policy"]


@pytest.mark.django_db
def test_viewer_policy(client, ready_portrait):
    import base64
    import hashlib

    from arv.testing.factories import PHONE

    response = client.get(reverse("viewer:page", args=[ready_portrait.unique_id]), HTTP_USER_AGENT=PHONE)
    html = response.content.decode()
    importmap = re.search(r'<script type="importmap">(.*?)</script>', html, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(importmap.encode()).digest()).decode()
    policy = response["Content-Security-Policy"]
    assert f"script-src 'self' 'sha256-{digest}';" in policy
    assert response["Permissions-Policy"].startswith("camera=(self)")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url_name",
    [
        "landing",
        "login",
        "portal:dashboard",
        "portal:project_list",
        "portal:member_list",
        "admin:index",
        "admin:companies_company_changelist",
        "admin:companies_company_add",
    ],
)
def test_pages_have_no_inline_script(client, tenants, admin_user, url_name):
    client.force_login(admin_user if url_name.startswith("admin") else tenants.owner)
    html = client.get(reverse(url_name)).content.decode()
    inline = [
        tag for tag in re.findall(r"<script\b[^>]*>", html) if "src=" not in tag and "application/json" not in tag
    ]
    assert inline == [], inline


@pytest.mark.django_db
def test_login_attempts_are_throttled_per_username(client, tenants, settings):
    settings.LOGIN_FAILURES_PER_USER = 3
    for _ in range(3):
        assert client.post("/accounts/login/", {"username": "alice", "password": "wrong"}).status_code == 200
    blocked = client.post("/accounts/login/", {"username": "alice", "password": "pw-alice"})
    assert blocked.status_code == 429
    assert "Too many failed attempts" in blocked.content.decode()
    assert "_auth_user_id" not in client.session  # even the right password is refused now
    assert client.post("/accounts/login/", {"username": "eddie", "password": "pw-eddie"}).status_code == 302


@pytest.mark.django_db
def test_login_attempts_are_throttled_per_address(client, tenants, settings):
    settings.LOGIN_FAILURES_PER_IP = 2
    for name in ("x1", "x2"):
        client.post("/accounts/login/", {"username": name, "password": "nope"}, REMOTE_ADDR="198.51.100.7")
    assert (
        client.post(
            "/accounts/login/", {"username": "alice", "password": "pw-alice"}, REMOTE_ADDR="198.51.100.7"
        ).status_code
        == 429
    )
    assert (
        client.post(
            "/accounts/login/", {"username": "alice", "password": "pw-alice"}, REMOTE_ADDR="198.51.100.8"
        ).status_code
        == 302
    )


@pytest.mark.django_db
def test_password_reset_e_mails_are_limited_per_address(client, tenants):
    for _ in range(5):
        assert client.post("/accounts/password_reset/", {"email": "alice@example.com"}).status_code == 302
    assert len(mail.outbox) == 3


@pytest.mark.django_db
def test_the_admin_lives_where_the_operator_says():
    env = {
        **os.environ,
        "ARV_IGNORE_DOTENV": "1",
        "DJANGO_SETTINGS_MODULE": "arv.settings",
        "DEBUG": "1",
        "ADMIN_URL": "backoffice-7f3a/",
    }
    code = "import django; django.setup(); from django.urls import reverse; print(reverse('admin:index'))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.stdout.strip() == "/backoffice-7f3a/"


@pytest.mark.django_db
def test_remote_storage_origins_are_allowed_for_media(client, tenants):
    from companies.models import StorageConnection
    from companies.storage import forget_storage_origins

    StorageConnection.objects.create(
        name="S3",
        provider="s3",
        bucket="b",
        options={"endpoint_url": "https://s3.example.net:9000/x", "public_base_url": "https://cdn.example.org/p"},
    )
    forget_storage_origins()
    client.force_login(tenants.owner)
    policy = client.get(reverse("portal:dashboard"))["Content-Security-Policy"]
    for directive in ("img-src", "media-src", "connect-src"):
        part = policy.split(directive, 1)[1].split(";", 1)[0]
        assert "https://s3.example.net:9000" in part and "https://cdn.example.org" in part
    assert "cdn.example.org" not in policy.split("script-src", 1)[1].split(";", 1)[0]
