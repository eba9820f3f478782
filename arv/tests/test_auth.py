import re

import pytest
from django.core import mail


@pytest.mark.django_db
def test_landing_and_login_pages_render(client):
    assert b"Photos that come alive" in client.get("/").content
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b'name="password"' in response.content


@pytest.mark.django_db
def test_login_then_logout(client, tenants):
    response = client.post("/accounts/login/", {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 302 and response["Location"] == "/portal/"
    assert client.get("/portal/").status_code == 200
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert client.get("/portal/")["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_wrong_password_shows_an_error_and_no_session(client, tenants):
    response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_password_change(client, tenants):
    client.force_login(tenants.owner)
    response = client.post(
        "/accounts/password_change/",
        {"old_password": "pw-alice", "new_password1": "A-much-better-one-42", "new_password2": "A-much-better-one-42"},
    )
    assert response.status_code == 302
    tenants.owner.refresh_from_db()
    assert tenants.owner.check_password("A-much-better-one-42")


@pytest.mark.django_db
def test_password_change_enforces_the_validators(client, tenants):
    client.force_login(tenants.owner)
    response = client.post(
        "/accounts/password_change/", {"old_password": "pw-alice", "new_password1": "123", "new_password2": "123"}
    )
    assert response.status_code == 200
    assert b"too short" in response.content


@pytest.mark.django_db
def test_password_reset_mails_a_link_to_site_url_and_the_link_works(client, tenants, settings):
    settings.SITE_URL = "https://arv.example"
    response = client.post("/accounts/password_reset/", {"email": "alice@example.com"}, HTTP_HOST="localhost")
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    link = re.search(r"https://arv\.example(/accounts/reset/\S+/)", body)
    assert link, body
    response = client.get(link.group(1), follow=True)
    assert b"Set a new password" in response.content
    response = client.post(
        response.redirect_chain[-1][0], {"new_password1": "Fresh-pass-2026", "new_password2": "Fresh-pass-2026"}
    )
    assert response.status_code == 302
    tenants.owner.refresh_from_db()
    assert tenants.owner.check_password("Fresh-pass-2026")


@pytest.mark.django_db
def test_password_reset_for_an_unknown_address_sends_nothing_and_reveals_nothing(client):
    response = client.post("/accounts/password_reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert mail.outbox == []
