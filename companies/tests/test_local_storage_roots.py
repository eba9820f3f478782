"""A local-disk connection's folder must be inside MEDIA_ROOT or LOCAL_STORAGE_ROOTS (issue 16, item 10):
whatever a local connection holds is reachable at /media/<id>/, so the app's own directory, with
its .env and database, must never become one."""

from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from companies.models import StorageConnection
from companies.storage import build_storage
from lib.storage import StorageUnavailable, UnsafeLocation, local_location

pytestmark = pytest.mark.django_db


def _form(base_path: str, name: str = "App dir") -> dict:
    return {
        "name": name,
        "provider": "local",
        "base_path": base_path,
        "bucket": "",
        "is_active": "on",
        "endpoint_url": "",
        "region": "",
        "addressing_style": "auto",
        "public_base_url": "",
        "url_expiry_seconds": "",
    }


@pytest.mark.parametrize("outside", ["{app}", "{app}/var", "/etc", "/", "../..", "../../var", "sub/../../.."])
def test_folders_outside_media_root_are_refused(settings, outside):
    base_path = outside.format(app=settings.BASE_DIR)
    with pytest.raises(UnsafeLocation, match="outside MEDIA_ROOT"):
        local_location(base_path)
    connection = StorageConnection(name="x", provider="local", base_path=base_path)
    with pytest.raises(ValidationError) as caught:
        connection.full_clean()
    assert "LOCAL_STORAGE_ROOTS" in caught.value.message_dict["base_path"][0]


@pytest.mark.parametrize("inside", ["", "second", "a/b/c", "a/../b"])
def test_folders_inside_media_root_are_fine(settings, inside):
    assert local_location(inside).is_relative_to(Path(settings.MEDIA_ROOT).resolve())
    StorageConnection(name="x", provider="local", base_path=inside).full_clean()


def test_an_absolute_folder_inside_media_root_is_fine(settings):
    local_location(str(Path(settings.MEDIA_ROOT) / "disk2"))


def test_a_symlink_out_of_media_root_is_refused(settings, tmp_path):
    root = Path(settings.MEDIA_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    (root / "escape").symlink_to(tmp_path.parent)
    with pytest.raises(UnsafeLocation):
        local_location("escape")


def test_the_operator_may_allow_other_roots(settings, tmp_path):
    disk = tmp_path / "disk2"
    with pytest.raises(UnsafeLocation):
        local_location(str(disk / "arv"))
    settings.LOCAL_STORAGE_ROOTS = [str(disk)]
    assert local_location(str(disk / "arv")) == (disk / "arv").resolve()
    StorageConnection(name="x", provider="local", base_path=str(disk / "arv")).full_clean()


def test_other_providers_base_paths_are_key_prefixes_not_folders():
    StorageConnection(name="x", provider="s3", bucket="b", base_path="/etc").full_clean()


@pytest.mark.django_db
def test_the_admin_form_refuses_the_app_directory(admin_client, settings):
    response = admin_client.post(reverse("admin:companies_storageconnection_add"), _form(str(settings.BASE_DIR)))
    assert response.status_code == 200
    assert "This folder is outside MEDIA_ROOT" in response.content.decode()
    assert not StorageConnection.objects.filter(name="App dir").exists()
    response = admin_client.post(reverse("admin:companies_storageconnection_add"), _form("second-disk", "Second"))
    assert response.status_code == 302 and StorageConnection.objects.filter(name="Second").exists()


@pytest.mark.django_db
def test_a_connection_saved_before_the_check_writes_and_reads_nothing(settings):
    from django.core.files.base import ContentFile

    from companies.storage_moves import check_storage_connection

    connection = StorageConnection.objects.create(name="Old", provider="local", base_path=str(settings.BASE_DIR))
    with pytest.raises(StorageUnavailable, match="outside MEDIA_ROOT"):
        build_storage(connection).save("probe.txt", ContentFile(b"x"))
    assert "outside MEDIA_ROOT" in check_storage_connection(connection)
    assert not (Path(settings.BASE_DIR) / ".arv-connection-test").exists()
