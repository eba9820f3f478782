"""The admin's "Test connection" against real servers, and secrets never shown back."""

import logging

import pytest
from django.urls import reverse

from companies.models import StorageConnection
from companies.tests.conftest import (
    S3_ACCESS_KEY,
    S3_SECRET_KEY,
    SECRETS,
    YANDEX_TOKEN,
    make_s3_connection,
    make_yandex_connection,
)

pytestmark = [pytest.mark.services, pytest.mark.django_db]


def run_test_action(admin_client, connection):
    return admin_client.post(
        reverse("admin:companies_storageconnection_changelist"),
        {"action": "test_connection", "_selected_action": [connection.pk]},
        follow=True,
    ).content.decode()


def test_s3_connection_test_succeeds_and_leaves_no_probe(admin_client, s3_server):
    connection = make_s3_connection(s3_server, name="Object storage")
    html = run_test_action(admin_client, connection)
    assert "Object storage: working." in html
    connection.refresh_from_db()
    assert connection.test_status == "ok" and connection.last_tested_at and not connection.test_error
    assert s3_server.client().list_objects_v2(Bucket=connection.bucket).get("KeyCount") == 0


def test_s3_connection_test_fails_clearly(admin_client, s3_server, caplog):
    connection = make_s3_connection(s3_server, name="Object storage")
    StorageConnection.objects.filter(pk=connection.pk).update(bucket="no-such-bucket")
    html = run_test_action(admin_client, connection)
    connection.refresh_from_db()
    assert connection.test_status == "failed" and "NoSuchBucket" in connection.test_error
    assert "Object storage: failed" in html and "NoSuchBucket" in html
    for secret in (S3_ACCESS_KEY, S3_SECRET_KEY):
        assert secret not in html and secret not in connection.test_error and secret not in caplog.text


def test_yandex_connection_test_succeeds(admin_client, yandex_server):
    connection = make_yandex_connection(name="Studio disk")
    assert "Studio disk: working." in run_test_action(admin_client, connection)
    connection.refresh_from_db()
    assert connection.test_status == "ok"


def test_yandex_connection_test_with_a_rejected_token_is_redacted(admin_client, yandex_server, caplog):
    caplog.set_level(logging.INFO)
    connection = make_yandex_connection(name="Studio disk")
    yandex_server.app.token = "a-token-the-server-now-expects"  # the stored one was revoked
    try:
        html = run_test_action(admin_client, connection)
    finally:
        yandex_server.app.token = YANDEX_TOKEN
    connection.refresh_from_db()
    # The server echoed the token in its error; it is scrubbed everywhere it could show up.
    assert connection.test_status == "failed" and "UnauthorizedError" in connection.test_error
    assert "********" in connection.test_error
    change_page = admin_client.get(reverse("admin:companies_storageconnection_change", args=[connection.pk]))
    for text in (html, connection.test_error, change_page.content.decode(), caplog.text):
        assert YANDEX_TOKEN not in text


def test_saved_credentials_never_come_back_in_the_admin(admin_client, s3_server, yandex_server):
    connections = [make_s3_connection(s3_server), make_yandex_connection()]
    for connection in connections:
        html = admin_client.get(reverse("admin:companies_storageconnection_change", args=[connection.pk])).content
        for secret in SECRETS:
            assert secret not in html.decode()
    listing = admin_client.get(reverse("admin:companies_storageconnection_changelist")).content.decode()
    assert all(secret not in listing for secret in SECRETS)


def test_a_new_default_does_not_strand_the_files_of_companies_on_the_old_one(admin_client, tenants, make_portrait):
    from companies.models import Company
    from companies.storage import storage_for_company

    portrait = make_portrait(tenants.project_a)
    old = StorageConnection.get_default()
    new = StorageConnection.objects.create(name="New disk", provider="local", base_path="new-disk")
    response = admin_client.post(
        reverse("admin:companies_storageconnection_changelist"),
        {"action": "make_default", "_selected_action": [new.pk]},
        follow=True,
    )
    assert "2 companies keep their files on Local disk" in response.content.decode()
    assert StorageConnection.get_default() == new
    company = Company.objects.get(pk=tenants.a.pk)
    assert company.storage_connection == old
    assert storage_for_company(company).exists(portrait.image.name)


def test_a_yandex_connection_needs_a_token_and_never_shows_it_back(admin_client):
    url = reverse("admin:companies_storageconnection_add")
    form = {
        "name": "Studio disk",
        "provider": "yandex_disk",
        "base_path": "disk:/ARV",
        "bucket": "",
        "is_active": "on",
        "addressing_style": "",
    }
    response = admin_client.post(url, form)
    assert response.status_code == 200 and "A Yandex Disk connection needs an OAuth token." in response.content.decode()
    response = admin_client.post(url, {**form, "oauth_token": YANDEX_TOKEN})
    assert response.status_code == 302
    connection = StorageConnection.objects.get(name="Studio disk")
    assert connection.credentials == {"oauth_token": YANDEX_TOKEN}
    change_url = reverse("admin:companies_storageconnection_change", args=[connection.pk])
    assert YANDEX_TOKEN not in admin_client.get(change_url).content.decode()
    assert admin_client.post(change_url, form).status_code == 302  # empty: the stored token is kept
    connection.refresh_from_db()
    assert connection.credentials == {"oauth_token": YANDEX_TOKEN}


def test_an_s3_connection_needs_a_bucket(admin_client):
    response = admin_client.post(
        reverse("admin:companies_storageconnection_add"),
        {"name": "S3", "provider": "s3", "base_path": "", "bucket": "", "is_active": "on", "addressing_style": "path"},
    )
    assert "An S3-compatible connection needs a bucket." in response.content.decode()
