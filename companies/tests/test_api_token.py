"""The portal page that makes, rotates and revokes a user's API token; tokens stored as hashes."""

import hashlib
import importlib
import re

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client
from django.urls import reverse

from arv.testing.api import reset_throttles
from companies.models import ApiToken

PAGE = "/portal/api-token/"
CREATE = "/portal/api-token/create/"
REVOKE = "/portal/api-token/revoke/"


def works(key: str) -> bool:
    reset_throttles()
    return Client().get("/api/v1/projects/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


def shown_key(response) -> str:
    return re.search(r'readonly value="(arv_[^"]+)"', response.content.decode()).group(1)


@pytest.mark.django_db
def test_make_a_token_see_it_once_and_use_it(client, tenants):
    client.force_login(tenants.viewer)
    html = client.get(PAGE).content.decode()
    assert "You have no API token." in html and "Make a token" in html
    assert "<code>alpha</code>" in html  # the slug to send in X-Company

    response = client.post(CREATE)
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    key = shown_key(response)
    assert works(key)
    token = ApiToken.objects.get(user=tenants.viewer)
    # Only the hash and the first characters are stored.
    assert token.digest == hashlib.sha256(key.encode()).hexdigest() and token.prefix == key[:8]
    stored = [str(v) for v in ApiToken.objects.values_list(flat=False).get()]
    assert not any(key in value for value in stored)

    html = client.get(PAGE).content.decode()
    assert key not in html and "You have a token starting with <code>" + key[:8] in html
    assert "Last used: " in html  # works() used it


@pytest.mark.django_db
def test_a_new_token_replaces_the_old_one(client, tenants):
    client.force_login(tenants.owner)
    old = shown_key(client.post(CREATE))
    new = shown_key(client.post(CREATE))
    assert new != old and works(new) and not works(old)
    assert ApiToken.objects.filter(user=tenants.owner).count() == 1


@pytest.mark.django_db
def test_revoke(client, tenants):
    client.force_login(tenants.owner)
    key = shown_key(client.post(CREATE))
    response = client.post(REVOKE)
    assert response.status_code == 302 and response["Location"] == PAGE
    assert not ApiToken.objects.exists() and not works(key)
    assert "API token revoked" in client.get(PAGE).content.decode()
    assert client.post(REVOKE).status_code == 302  # nothing left to revoke: no error


@pytest.mark.django_db
def test_changes_need_post_csrf_and_a_login(tenants):
    client = Client(enforce_csrf_checks=True)
    assert client.get(PAGE)["Location"].startswith("/accounts/login/")
    client.force_login(tenants.owner)
    assert client.get(CREATE).status_code == 405
    assert client.post(CREATE).status_code == 403  # no CSRF token
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_tokens_are_per_user(client, tenants):
    client.force_login(tenants.owner)
    client.post(CREATE)
    client.force_login(tenants.editor)
    client.post(REVOKE)
    assert ApiToken.objects.filter(user=tenants.owner).exists()


@pytest.mark.django_db
def test_hostile_keys_are_refused(tenants):
    client = Client()
    for header in ["Token ", "Token " + "x" * 5000, "Token arv_\u0000", "Token a b", "Bearer abc"]:
        reset_throttles()
        response = client.get("/api/v1/projects/", HTTP_AUTHORIZATION=header)
        assert response.status_code == 401, header


@pytest.mark.django_db
def test_a_deactivated_users_token_stops_working(tenants):
    _token, key = ApiToken.issue(tenants.editor)
    assert works(key)
    tenants.editor.is_active = False
    tenants.editor.save(update_fields=["is_active"])
    assert not works(key)


@pytest.mark.django_db
def test_the_admin_never_shows_a_key(admin_client, tenants):
    _token, key = ApiToken.issue(tenants.owner)
    token = ApiToken.objects.get()
    for url in [
        reverse("admin:companies_apitoken_changelist"),
        reverse("admin:companies_apitoken_change", args=[token.pk]),
    ]:
        html = admin_client.get(url).content.decode()
        assert key[:8] in html
        assert key not in html and token.digest not in html
    assert admin_client.get("/admin/authtoken/").status_code == 404
    # Staff can revoke (delete) a token, not make or edit one.
    assert admin_client.get(reverse("admin:companies_apitoken_add")).status_code == 403
    admin_client.post(reverse("admin:companies_apitoken_delete", args=[token.pk]), {"post": "yes"})
    assert not works(key)


@pytest.mark.django_db
def test_the_migration_hashes_existing_drf_tokens_which_keep_working(tenants):
    """Keys made by DRF's authtoken (plain text, 40 hex) before the upgrade still authenticate,
    and no plain-text key is left in the database."""
    migration = importlib.import_module("companies.migrations.0009_hash_existing_drf_tokens")
    old_key = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamp NOT NULL, "
            "user_id integer NOT NULL UNIQUE)"
        )
        cursor.execute(
            "INSERT INTO authtoken_token (key, created, user_id) VALUES (%s, %s, %s)",
            [old_key, "2025-03-01 12:00:00", tenants.owner.pk],
        )
    ApiToken.issue(tenants.editor)  # a token already in the new table is left alone

    migration.hash_drf_tokens(apps, connection.schema_editor())

    token = ApiToken.objects.get(user=tenants.owner)
    assert token.digest == hashlib.sha256(old_key.encode()).hexdigest() and token.prefix == old_key[:8]
    assert token.created_at.year == 2025
    assert works(old_key)
    assert ApiToken.objects.filter(user=tenants.editor).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM authtoken_token")
        assert cursor.fetchone()[0] == 0


@pytest.mark.django_db
def test_the_migration_does_nothing_without_the_old_table(tenants):
    migration = importlib.import_module("companies.migrations.0009_hash_existing_drf_tokens")
    assert "authtoken_token" not in connection.introspection.table_names()
    migration.hash_drf_tokens(apps, connection.schema_editor())
    assert not ApiToken.objects.exists()
