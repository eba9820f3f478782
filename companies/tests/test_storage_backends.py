"""Each storage backend against a real server: the Storage API callers rely on, and its URLs."""

import hashlib
import logging
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile

from companies.storage import build_storage
from companies.tests.conftest import S3_ACCESS_KEY, S3_SECRET_KEY, YANDEX_TOKEN, make_s3_connection
from lib.storage import StorageUnavailable, s3_settings, split_public_base_url
from lib.yandex_storage import disk_path, normalise_root

pytestmark = pytest.mark.services
DATA = bytes(range(256)) * 300  # 76.8 kB: several read chunks, so ranges cross chunk borders


def test_the_storage_api_on_each_backend(any_connection):
    storage = build_storage(any_connection)
    name = storage.save("alpha/weddings/u1/photo-abc.jpg", ContentFile(DATA))
    assert name == "alpha/weddings/u1/photo-abc.jpg"
    assert storage.exists(name) and storage.size(name) == len(DATA)
    with storage.open(name, "rb") as fh:
        assert fh.read() == DATA
    assert isinstance(storage.get_modified_time(name), datetime)
    # Never an overwrite: the second file gets another name, the first is intact.
    second = storage.save(name, ContentFile(b"other"))
    assert second != name and storage.size(name) == len(DATA)
    storage.save("alpha/weddings/u2/video.mp4", ContentFile(b"v"))
    dirs, files = storage.listdir("alpha/weddings")
    assert sorted(dirs) == ["u1", "u2"] and files == []
    assert sorted(storage.listdir("alpha/weddings/u1")[1]) == sorted(["photo-abc.jpg", second.rsplit("/", 1)[1]])
    storage.delete(name)
    storage.delete(name)  # deleting what is gone is not an error
    assert not storage.exists(name)
    with pytest.raises(FileNotFoundError):
        storage.open(name, "rb")
    with pytest.raises(FileNotFoundError):
        storage.size(name)


def test_seek_and_partial_reads(any_connection):
    storage = build_storage(any_connection)
    name = storage.save("alpha/p/clip.mp4", ContentFile(DATA))
    with storage.open(name, "rb") as fh:
        assert fh.size == len(DATA)
        fh.seek(70000)
        assert fh.read(100) == DATA[70000:70100]
        fh.seek(10)
        assert fh.read(5) == DATA[10:15]
        fh.seek(-3, 2)
        assert fh.read() == DATA[-3:]


@pytest.mark.django_db
def test_streamed_backends_serve_through_the_media_view_with_ranges(client, any_connection, tenants, make_portrait):
    tenants.a.storage_connection = any_connection
    tenants.a.save()
    name = make_portrait(tenants.project_a, video_data=DATA).videos.get().file.name
    storage = build_storage(any_connection)
    url = storage.url(name)
    if any_connection.provider == "s3":
        assert client.get(f"/media/{any_connection.pk}/{name}").status_code == 404  # S3 serves itself
        return
    assert url == f"/media/{any_connection.pk}/{name}"
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Length"] == str(len(DATA))
    assert b"".join(response.streaming_content) == DATA
    assert response["Content-Type"] == "video/mp4" and response["Last-Modified"]
    response = client.get(url, HTTP_RANGE="bytes=70000-70099")
    assert response.status_code == 206 and response["Content-Range"] == f"bytes 70000-70099/{len(DATA)}"
    assert b"".join(response.streaming_content) == DATA[70000:70100]
    assert client.get(url.replace("video.mp4", "../../../etc/passwd")).status_code == 404
    assert client.get(url.replace("video.mp4", "missing.mp4")).status_code == 404


@pytest.mark.django_db
def test_s3_urls_are_presigned_with_the_configured_lifetime(s3_server):
    connection = make_s3_connection(s3_server, url_expiry_seconds=600)
    storage = build_storage(connection)
    name = storage.save("alpha/p/clip.mp4", ContentFile(DATA))
    url = storage.url(name)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.path == f"/{connection.bucket}/arv/alpha/p/clip.mp4"  # path-style, base path as prefix
    assert query["X-Amz-Expires"] == ["600"] and query["X-Amz-Signature"]
    assert S3_SECRET_KEY not in url
    response = requests.get(url, headers={"Range": "bytes=100-199"}, timeout=10)
    assert response.status_code == 206 and response.content == DATA[100:200]
    head = s3_server.client().head_object(Bucket=connection.bucket, Key="arv/alpha/p/clip.mp4")
    assert head["ContentType"] == "video/mp4" and "immutable" in head["CacheControl"]


@pytest.mark.django_db
def test_s3_public_base_url_gives_plain_links(s3_server):
    connection = make_s3_connection(s3_server, public_base_url="https://cdn.example.com/media/")
    url = build_storage(connection).url("alpha/p/photo.jpg")
    assert url == "https://cdn.example.com/media/arv/alpha/p/photo.jpg"


@pytest.mark.django_db
def test_uploaded_html_is_never_stored_as_html_on_s3(s3_server):
    connection = make_s3_connection(s3_server)
    build_storage(connection).save("alpha/x/evil.html", ContentFile(b"<script>alert(1)</script>"))
    head = s3_server.client().head_object(Bucket=connection.bucket, Key="arv/alpha/x/evil.html")
    assert head["ContentType"] == "application/octet-stream"


@pytest.mark.django_db
def test_yandex_disk_sends_the_token_to_the_api_only(yandex_connection, yandex_server):
    storage = build_storage(yandex_connection)
    name = storage.save("alpha/p/a.jpg", ContentFile(DATA))
    assert YANDEX_TOKEN not in storage.url(name)
    with storage.open(name, "rb") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == hashlib.sha256(DATA).hexdigest()
    # The files are on the WebDAV server, under the connection's folder.
    root = normalise_root(yandex_connection.base_path).removeprefix("disk:")
    assert (yandex_server.dav.root / root.strip("/") / "alpha/p/a.jpg").read_bytes() == DATA


@pytest.mark.django_db
def test_a_wrong_token_is_unavailable_and_never_echoed(yandex_server):
    from companies.tests.conftest import make_yandex_connection

    wrong = "y0_WrongTokenEchoedByTheServer-123456"
    storage = build_storage(make_yandex_connection(token=wrong))
    with pytest.raises(StorageUnavailable) as caught:
        storage.save("a.jpg", ContentFile(b"x"))
    assert "UnauthorizedError" in str(caught.value) and wrong not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


@pytest.mark.django_db
def test_an_unreachable_backend_is_storage_unavailable(own_s3_server, own_yandex_server):
    from companies.tests.conftest import make_yandex_connection

    storages = [build_storage(make_s3_connection(own_s3_server)), build_storage(make_yandex_connection())]
    own_s3_server.stop()
    own_yandex_server.stop()
    for storage in storages:
        for call in (lambda s: s.save("a.jpg", ContentFile(b"x")), lambda s: s.open("a.jpg"), lambda s: s.exists("a")):
            with pytest.raises(StorageUnavailable):
                call(storage)


def test_client_library_logs_are_scrubbed_of_known_secrets(caplog):
    import lib.yandex_storage  # noqa: F401 - installs the filter on yadisk's logger
    from lib.storage import remember_secrets

    remember_secrets(["y0_token-seen-in-a-server-error"])
    logging.getLogger("yadisk").info("got UnauthorizedError: token %s is invalid", "y0_token-seen-in-a-server-error")
    assert "token ******** is invalid" in caplog.text and "y0_token" not in caplog.text


def test_s3_settings_from_a_connection():
    options = {"endpoint_url": "http://minio:9000", "region": "ru-1", "addressing_style": "path"}
    kwargs = s3_settings(
        bucket="photos",
        base_path="/arv/",
        options=options,
        credentials={"access_key_id": S3_ACCESS_KEY, "secret_access_key": S3_SECRET_KEY},
    )
    assert kwargs["location"] == "arv" and kwargs["bucket_name"] == "photos"
    assert kwargs["endpoint_url"] == "http://minio:9000" and kwargs["region_name"] == "ru-1"
    assert kwargs["querystring_expire"] == 3600 and kwargs["custom_domain"] is None
    assert kwargs["file_overwrite"] is False
    assert split_public_base_url("https://cdn.example.com/a/") == ("https:", "cdn.example.com/a")


def test_yandex_paths():
    assert normalise_root("") == "disk:/"
    assert normalise_root("/ARV/") == "disk:/ARV"
    assert normalise_root("app:/arv") == "app:/arv"
    assert disk_path("disk:/ARV", "a/b.jpg") == "disk:/ARV/a/b.jpg"
    assert disk_path("disk:/", "a.jpg") == "disk:/a.jpg"
    for bad in ("../x", "a/../../x", "a//b", "./a", ""):
        with pytest.raises(SuspiciousFileOperation):
            disk_path("disk:/ARV", bad)
