"""The portal page that makes, rotates and revokes a user's API token."""

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from arv.testing.api import reset_throttles

PAGE = "/portal/api-token/"
CREATE = "/portal/api-token/create/"
REVOKE = "/portal/api-token/revoke/"


def works(key: str) -> bool:
    reset_throttles()
    return Client().get("/api/v1/projects/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


@pytest.mark.django_db
def test_make_a_token_see_it_once_and_use_it(client, tenants):
    client.force_login(tenants.viewer)
    html = client.get(PAGE).content.decode()
    assert "You have no API token." in html and "Make a token" in html
    assert "<code>alpha</code>" in html  # the slug to send in X-Company

    response = client.post(CREATE)
    token = Token.objects.get(user=tenants.viewer)
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert token.key in response.content.decode()
    assert works(token.key)

    html = client.get(PAGE).content.decode()
    assert token.key not in html and "You have a token" in html


@pytest.mark.django_db
def test_a_new_token_replaces_the_old_one(client, tenants):
    client.force_login(tenants.owner)
    client.post(CREATE)
    old = Token.objects.get(user=tenants.owner).key
    client.post(CREATE)
    new = Token.objects.get(user=tenants.owner).key
    assert new != old and works(new) and not works(old)


@pytest.mark.django_db
def test_revoke(client, tenants):
    client.force_login(tenants.owner)
    client.post(CREATE)
    key = Token.objects.get(user=tenants.owner).key
    response = client.post(REVOKE)
    assert response.status_code == 302 and response["Location"] == PAGE
    assert not Token.objects.exists() and not works(key)
    assert "API token revoked" in client.get(PAGE).content.decode()
    assert client.post(REVOKE).status_code == 302  # nothing left to revoke: no error


@pytest.mark.django_db
def test_changes_need_post_csrf_and_a_login(tenants):
    client = Client(enforce_csrf_checks=True)
    assert client.get(PAGE)["Location"].startswith("/accounts/login/")
    client.force_login(tenants.owner)
    assert client.get(CREATE).status_code == 405
    assert client.post(CREATE).status_code == 403  # no CSRF token
    assert not Token.objects.exists()


@pytest.mark.django_db
def test_tokens_are_per_user(client, tenants):
    client.force_login(tenants.owner)
    client.post(CREATE)
    client.force_login(tenants.editor)
    client.post(REVOKE)
    assert Token.objects.filter(user=tenants.owner).exists()
