from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from companies.storage import default_connection, storage_for_company
from lib.media import serve_file, storage_name

DATA = bytes(range(256)) * 40


@pytest.fixture
def stored(tenants, make_portrait):
    """A video a row references, in company A's storage: (storage, name, data)."""
    portrait = make_portrait(tenants.project_a, video_data=DATA)
    return storage_for_company(tenants.a), portrait.videos.get().file.name, DATA


@pytest.mark.django_db
def test_full_and_range_requests(client, stored):
    storage, name, data = stored
    url = storage.url(name)
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert response["Accept-Ranges"] == "bytes" and response["Content-Type"] == "video/mp4"
    assert "immutable" in response["Cache-Control"] and response["X-Content-Type-Options"] == "nosniff"
    response = client.get(url, HTTP_RANGE="bytes=100-199")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert b"".join(response.streaming_content) == data[100:200]
    response = client.get(url, HTTP_RANGE="bytes=-10")
    assert b"".join(response.streaming_content) == data[-10:]
    response = client.get(url, HTTP_RANGE="bytes=10000-")
    assert b"".join(response.streaming_content) == data[10000:]
    response = client.get(url, HTTP_RANGE=f"bytes={len(data)}-")
    assert response.status_code == 416 and response["Content-Range"] == f"bytes */{len(data)}"


@pytest.mark.django_db
def test_every_file_a_row_references_is_served(client, ready_portrait):
    from markers.models import Job

    storage = storage_for_company(ready_portrait.company)
    video = ready_portrait.videos.get()
    video.poster = storage.save(f"{ready_portrait.storage_dir}/poster.webp", ContentFile(b"RIFF0000WEBPposter"))
    video.web_file = storage.save(f"{ready_portrait.storage_dir}/web.mp4", ContentFile(b"\x00\x00\x00\x18ftypmp42"))
    video.save()
    stem = f"{ready_portrait.storage_dir}/nft-0123456789ab"
    for ext in ("iset", "fset", "fset3"):
        storage.save(f"{stem}.{ext}", ContentFile(ext.encode()))
    Job.objects.create(portrait=ready_portrait, kind="nft", status="ready", output=f"{stem}.iset")
    marker = Job.objects.get(portrait=ready_portrait, kind="mindar").output.name
    names = [
        ready_portrait.image.name,
        ready_portrait.preview.name,
        video.file.name,
        video.web_file.name,
        video.poster.name,
        marker,
        f"{stem}.iset",
        f"{stem}.fset",
        f"{stem}.fset3",
    ]
    for name in names:
        assert client.get(storage.url(name)).status_code == 200, name


@pytest.mark.django_db
def test_an_album_marker_is_served(client, tenants):
    from markers.models import ProjectMarker

    storage = storage_for_company(tenants.a)
    name = storage.save(f"alpha/{tenants.project_a.slug}/album-0123456789ab.mind", ContentFile(b"album"))
    assert client.get(storage.url(name)).status_code == 404  # not yet anybody's
    ProjectMarker.objects.create(project=tenants.project_a, output=name, targets=[])
    assert client.get(storage.url(name)).status_code == 200


@pytest.mark.django_db
def test_a_companys_logo_is_served_while_it_is_its_logo_and_the_company_is_live(client, tenants):
    company = tenants.a
    company.brand_logo.save("logo.png", ContentFile(b"\x89PNG\r\n\x1a\nlogo"), save=True)
    storage = storage_for_company(company)
    url = storage.url(company.brand_logo.name)
    assert client.get(url).status_code == 200
    # Another company's prefix with the same file name, and a stray logo-looking file: 404.
    assert client.get(url.replace("/alpha/", "/beta/")).status_code == 404
    stray = storage.save("alpha/brand/logo-000000000000.png", ContentFile(b"\x89PNG\r\n\x1a\nstray"))
    assert client.get(storage.url(stray)).status_code == 404
    company.is_active = False
    company.save(update_fields=["is_active"])
    assert client.get(url).status_code == 404


@pytest.mark.django_db
def test_files_no_row_references_are_never_served(client, stored, tenants):
    storage, name, _ = stored
    directory = name.rsplit("/", 1)[0]
    for stray in (
        f"{directory}/stray.mp4",  # a file that happens to lie beside a photo's files
        f"{directory}/evil.html",
        f"alpha/{tenants.project_a.slug}/album-stray.mind",
        "alpha/x/video.mp4",
        "notes.txt",
    ):
        storage.save(stray, ContentFile(b"<script>alert(1)</script>"))
        assert client.get(storage.url(stray)).status_code == 404, stray


@pytest.mark.django_db  # closing a response sends request_finished, which closes old connections
def test_unknown_types_are_downloads_never_html(tmp_path):
    from django.core.files.storage import FileSystemStorage
    from django.test import RequestFactory

    storage = FileSystemStorage(location=tmp_path)
    name = storage.save("x/evil.html", ContentFile(b"<script>alert(1)</script>"))
    response = serve_file(RequestFactory().get("/"), storage, name)
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in response["Content-Security-Policy"]
    response.close()


@pytest.mark.django_db
def test_traversal_and_missing_files_are_404(client, stored):
    storage, name, _ = stored
    base = storage.url(name).rsplit("/alpha/", 1)[0]
    assert client.get(base + "/../../etc/passwd").status_code == 404
    assert client.get(base + "/alpha/nothing.mp4").status_code == 404
    assert client.get("/media/999999/alpha/x.mp4").status_code == 404
    assert client.post(storage.url(name)).status_code == 405


@pytest.mark.parametrize(
    "path",
    [
        "x/../beta/schools/u/video.mp4",
        "alpha/./weddings/u/video.mp4",
        "./alpha/weddings/u/video.mp4",
        "alpha//weddings/u/video.mp4",
        "alpha/weddings/u/video.mp4/",
        "x/%2e%2e/beta/schools/u/video.mp4",
        "x/%2E%2e/beta/schools/u/video.mp4",
        "x/%2e/beta/u/video.mp4",
        "x/..%2fbeta/u/video.mp4",
        "x\\..\\beta/u/video.mp4",
        "x/%5c../beta/u/video.mp4",
        "alpha/wed\x00dings/u/video.mp4",
        "",
    ],
)
def test_paths_that_a_storage_could_normalise_into_another_file_are_refused(path):
    assert storage_name(path) is None


def test_plain_stored_names_pass():
    assert storage_name("alpha/weddings/0b5e/video-1.mp4") == "alpha/weddings/0b5e/video-1.mp4"


@pytest.mark.django_db
@pytest.mark.parametrize("state", ["inactive", "expired"])
def test_nothing_of_an_inactive_or_expired_company_is_served(client, stored, tenants, state):
    storage, name, _ = stored
    assert client.get(storage.url(name)).status_code == 200
    if state == "inactive":
        tenants.a.is_active = False
    else:
        tenants.a.subscription_expires_at = timezone.now() - timedelta(minutes=1)
    tenants.a.save()
    assert client.get(storage.url(name)).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("disguise", ["x/../{name}", "x/%2e%2e/{name}", "./{name}", "x/./../{name}"])
def test_a_deactivated_companys_files_cannot_be_reached_by_a_disguised_path(client, tenants, make_portrait, disguise):
    """The review's sequence: B is deactivated; its file is still fetched through a path whose first
    segment is not B's prefix, which the storage then normalises back to B's file."""
    portrait = make_portrait(tenants.project_b, video_data=DATA)
    name = portrait.videos.get().file.name
    connection = default_connection()
    assert client.get(f"/media/{connection.pk}/{name}").status_code == 200
    tenants.b.set_active(False)
    assert client.get(f"/media/{connection.pk}/{name}").status_code == 404
    response = client.get(f"/media/{connection.pk}/" + disguise.format(name=name))
    assert response.status_code == 404


@pytest.mark.django_db
def test_a_company_file_is_served_only_from_the_connection_it_uses(client, stored, tenants):
    from companies.models import StorageConnection

    storage, name, _ = stored
    other = StorageConnection.objects.create(name="Second disk", provider="local", base_path="")
    # The same folder, so the file is there too; but company A's rows live on the default.
    assert client.get(f"/media/{other.pk}/{name}").status_code == 404
    assert client.get(storage.url(name)).status_code == 200


@pytest.mark.django_db
def test_a_connection_on_the_app_directory_publishes_neither_env_nor_the_database(client, tenants, settings):
    """The review's sequence: staff make a local connection whose base path is the app's directory
    (saved before base paths were checked, so straight into the database) and fetch its secrets."""
    from companies.models import StorageConnection

    app_dir = Path(settings.BASE_DIR)
    connection = StorageConnection.objects.create(name="App dir", provider="local", base_path=str(app_dir))
    tenants.a.storage_connection = connection
    tenants.a.save()
    for secret in (".env", ".env.example", "var/db.sqlite3", "arv/settings.py", "manage.py", "README.md"):
        assert client.get(f"/media/{connection.pk}/{secret}").status_code == 404, secret
    # Even with the folder allowed, only files rows reference are served, and .env is none of them.
    settings.LOCAL_STORAGE_ROOTS = [str(app_dir)]
    for secret in (".env", "var/db.sqlite3", "companies/demo/coffee.jpg"):
        assert client.get(f"/media/{connection.pk}/{secret}").status_code == 404, secret


@pytest.mark.django_db
def test_serving_costs_two_queries(client, stored, django_assert_num_queries):
    storage, name, _ = stored
    # the connection; the row referencing the file, with its company (one unique-index lookup)
    with django_assert_num_queries(2):
        response = client.get(storage.url(name))
    assert response.status_code == 200
    response.close()
