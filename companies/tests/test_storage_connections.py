import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from companies import crypto
from companies.models import StorageConnection
from companies.storage_moves import check_storage_connection


@pytest.mark.django_db
def test_credentials_are_encrypted_at_rest():
    conn = StorageConnection.objects.create(name="S3 main", provider="s3", bucket="photos")
    conn.set_credentials({"access_key_id": "AKIAEXAMPLE", "secret_access_key": "sup3r-s3cret-value"})
    conn.save()
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials_encrypted FROM companies_storageconnection WHERE id = %s", [conn.pk])
        (raw,) = cursor.fetchone()
    assert "sup3r-s3cret-value" not in raw and "AKIAEXAMPLE" not in raw
    assert StorageConnection.objects.get(pk=conn.pk).credentials == {
        "access_key_id": "AKIAEXAMPLE",
        "secret_access_key": "sup3r-s3cret-value",
    }


def test_key_rotation(settings):
    old, new = crypto.generate_key(), crypto.generate_key()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    token = crypto.encrypt_json({"secret": "v"})
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    rotated = crypto.rotate(token)
    settings.FIELD_ENCRYPTION_KEYS = [new]
    assert crypto.decrypt_json(rotated) == {"secret": "v"}
    with pytest.raises(crypto.CredentialsUnreadable):
        crypto.decrypt_json(token)


@pytest.mark.django_db
def test_exactly_one_default_is_a_database_constraint():
    assert StorageConnection.objects.filter(is_default=True).count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        StorageConnection.objects.create(name="Second default", is_default=True)


@pytest.mark.django_db
def test_connection_test_records_success():
    conn = StorageConnection.get_default()
    assert check_storage_connection(conn) == ""
    conn.refresh_from_db()
    assert conn.test_status == "ok" and conn.last_tested_at is not None and conn.test_error == ""


@pytest.mark.django_db
def test_connection_test_records_failure(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    conn = StorageConnection.objects.create(name="Broken disk", provider="local", base_path=str(blocker / "media"))
    error = check_storage_connection(conn)
    assert error
    conn.refresh_from_db()
    assert conn.test_status == "failed" and conn.test_error == error and conn.last_tested_at is not None


@pytest.mark.django_db
def test_admin_test_connection_action(admin_client):
    conn = StorageConnection.get_default()
    response = admin_client.post(
        reverse("admin:companies_storageconnection_changelist"),
        {"action": "test_connection", "_selected_action": [conn.pk]},
        follow=True,
    )
    assert "Local disk: working." in response.content.decode()
    conn.refresh_from_db()
    assert conn.test_status == "ok"


@pytest.mark.django_db
def test_admin_form_never_shows_secrets_and_keeps_them_when_left_empty(admin_client):
    conn = StorageConnection.objects.create(name="S3 main", provider="s3", bucket="photos")
    conn.set_credentials({"access_key_id": "AKIAEXAMPLE", "secret_access_key": "sup3r-s3cret-value"})
    conn.save()
    url = reverse("admin:companies_storageconnection_change", args=[conn.pk])
    html = admin_client.get(url).content.decode()
    assert "sup3r-s3cret-value" not in html and "AKIAEXAMPLE" not in html
    assert "Stored (encrypted). Leave empty to keep it." in html
    response = admin_client.post(
        url,
        {
            "name": "S3 renamed",
            "provider": "s3",
            "bucket": "photos",
            "base_path": "",
            "is_active": "on",
            "endpoint_url": "http://127.0.0.1:9000",
            "region": "",
            "addressing_style": "path",
            "public_base_url": "",
            "url_expiry_seconds": "",
            "access_key_id": "",
            "secret_access_key": "",
            "oauth_token": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    conn.refresh_from_db()
    assert conn.name == "S3 renamed"
    assert conn.options == {"endpoint_url": "http://127.0.0.1:9000", "addressing_style": "path"}
    assert conn.credentials["secret_access_key"] == "sup3r-s3cret-value"


@pytest.mark.django_db
def test_the_default_connection_cannot_be_deleted_in_the_admin(admin_client):
    conn = StorageConnection.get_default()
    response = admin_client.post(reverse("admin:companies_storageconnection_delete", args=[conn.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert StorageConnection.objects.filter(pk=conn.pk).exists()


@pytest.mark.django_db
def test_rotate_credentials_command(settings):
    from io import StringIO

    from django.core.management import CommandError, call_command

    old, new = crypto.generate_key(), crypto.generate_key()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    conn = StorageConnection.objects.create(name="S3", provider="s3")
    conn.set_credentials({"secret_access_key": "v"})
    conn.save()
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    out = StringIO()
    call_command("rotate_credentials", stdout=out)
    assert "1 storage connection" in out.getvalue()
    settings.FIELD_ENCRYPTION_KEYS = [new]
    assert StorageConnection.objects.get(pk=conn.pk).credentials == {"secret_access_key": "v"}
    settings.FIELD_ENCRYPTION_KEYS = [crypto.generate_key()]
    with pytest.raises(CommandError, match="cannot be decrypted"):
        call_command("rotate_credentials", stdout=StringIO())
