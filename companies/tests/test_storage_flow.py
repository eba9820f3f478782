"""The whole path on each backend: portal upload → jobs → viewer page → the files it links to.

Also what happens when the storage server is down: during an upload (a clear error, nothing left
behind) and during a marker job (retried, then completed once the server is back).
"""

import logging
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from arv.testing import media
from arv.testing.factories import PHONE
from companies.models import Company, PendingUpload
from companies.storage import build_storage
from companies.tests.conftest import (
    S3_ACCESS_KEY,
    S3_SECRET_KEY,
    SECRETS,
    YANDEX_TOKEN,
    make_s3_connection,
    make_yandex_connection,
)
from content.models import Portrait
from lib.storage import storage_error_message
from markers.jobs import run_job
from markers.models import Job
from viewer.tests.test_page import config_of

pytestmark = pytest.mark.services
COFFEE = Path(__file__).resolve().parents[2] / "markers" / "tests" / "fixtures" / "mindar" / "coffee_1000.jpg"


def use_storage(company, connection) -> None:
    Company.objects.filter(pk=company.pk).update(storage_connection=connection)
    company.refresh_from_db()


def upload(client, tenants, tmp_path, *, video=True):
    client.force_login(tenants.owner)
    data = {"title": "Coffee", "image": SimpleUploadedFile("coffee.jpg", COFFEE.read_bytes())}
    if video:
        data["video"] = SimpleUploadedFile("clip.mp4", media.mp4_bytes(tmp_path))
    return client.post(reverse("portal:portrait_upload", args=[tenants.project_a.slug]), data)


def fetch(client, url: str, **headers) -> tuple[int, bytes]:
    """GET a URL the viewer hands to the browser: our own (/media/…) or the bucket's."""
    if url.startswith("/"):
        response = client.get(url, **{f"HTTP_{k.upper()}": v for k, v in headers.items()})
        body = b"".join(response.streaming_content) if response.streaming else response.content
        return response.status_code, body
    response = requests.get(url, headers=headers, timeout=10)
    return response.status_code, response.content


def stored(connection, name: str) -> bytes:
    with build_storage(connection).open(name, "rb") as fh:
        return fh.read()


@pytest.mark.slow
@pytest.mark.django_db
def test_upload_to_viewer_on_each_backend(client, tenants, tmp_path, any_connection, caplog):
    caplog.set_level(logging.DEBUG)
    use_storage(tenants.a, any_connection)
    assert upload(client, tenants, tmp_path).status_code == 302
    portrait = Portrait.objects.get()
    for job in Job.objects.filter(portrait=portrait).order_by("pk"):
        assert run_job(job_id=job.pk) == "ready", Job.objects.get(pk=job.pk).error_detail
    portrait.refresh_from_db()
    assert portrait.status == "ready"
    video = portrait.videos.get()
    marker = Job.objects.get(portrait=portrait, kind="mindar").output.name
    # Everything went to the company's backend.
    backend = build_storage(any_connection)
    for name in (portrait.image.name, portrait.preview.name, video.file.name, video.poster.name, marker):
        assert backend.exists(name), name

    page = client.get(reverse("viewer:page", args=[portrait.unique_id]), HTTP_USER_AGENT=PHONE)
    assert page.status_code == 200
    config = config_of(page)
    (target,) = config["targets"]
    status, body = fetch(client, config["markerUrl"])
    assert status == 200 and body == stored(any_connection, marker)
    playback = video.web_file.name or video.file.name
    status, body = fetch(client, target["videoUrl"], Range="bytes=100-1099")
    assert status == 206 and body == stored(any_connection, playback)[100:1100]
    assert fetch(client, target["posterUrl"])[0] == 200
    assert fetch(client, config["previewUrl"])[0] == 200

    html = page.content.decode()
    assert YANDEX_TOKEN not in html and S3_SECRET_KEY not in html
    # Only S3 presigned links carry anything of a credential: the access key id in the signature.
    for url in (config["markerUrl"], target["videoUrl"], target["posterUrl"], config["previewUrl"]):
        assert url.startswith("http://127.0.0.1") or S3_ACCESS_KEY not in url
    # Logs: the token and the secret key never, even at DEBUG; the access key id only in
    # botocore's DEBUG lines (the signed request headers), never at the INFO level production runs.
    for record in caplog.records:
        text = record.getMessage()
        assert YANDEX_TOKEN not in text and S3_SECRET_KEY not in text, record.name
        if record.levelno >= logging.INFO:
            assert S3_ACCESS_KEY not in text, record.name


@pytest.fixture(params=["s3", "yandex_disk"])
def stoppable(request, db):
    """(server, connection) on a server of this test's own, which the test may stop."""
    if request.param == "s3":
        server = request.getfixturevalue("own_s3_server")
        return server, make_s3_connection(server)
    server = request.getfixturevalue("own_yandex_server")
    return server, make_yandex_connection()


@pytest.mark.django_db
def test_storage_down_during_an_upload(client, tenants, tmp_path, stoppable, caplog):
    server, connection = stoppable
    use_storage(tenants.a, connection)
    server.stop()
    response = upload(client, tenants, tmp_path)
    assert response.status_code == 400
    html = response.content.decode()
    assert storage_error_message() in html
    assert not Portrait.objects.exists() and not PendingUpload.objects.exists()
    assert Company.objects.get(pk=tenants.a.pk).storage_used_bytes == 0
    for secret in SECRETS:
        assert secret not in html and secret not in caplog.text


@pytest.mark.django_db
def test_storage_down_during_a_marker_job_is_retried_then_completes(client, tenants, tmp_path, stoppable):
    server, connection = stoppable
    use_storage(tenants.a, connection)
    assert upload(client, tenants, tmp_path, video=False).status_code == 302
    job = Job.objects.get(kind="mindar")
    with server.down():
        assert run_job(job_id=job.pk) == "pending"
        job.refresh_from_db()
        assert job.next_attempt_at > timezone.now() and job.attempts == 1
        assert "will be retried" in job.error
        assert all(secret not in job.error_detail for secret in SECRETS)
        assert run_job(job_id=job.pk) is None  # not due yet
    Job.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert run_job(job_id=job.pk) == "ready"
    job.refresh_from_db()
    assert job.attempts == 2 and build_storage(connection).exists(job.output.name)


@pytest.mark.django_db
def test_yandex_files_answer_503_while_the_storage_is_down(client, tenants, own_yandex_server, make_portrait):
    connection = make_yandex_connection()
    tenants.a.storage_connection = connection
    tenants.a.save()
    name = make_portrait(tenants.project_a, video_data=b"x" * 100).videos.get().file.name
    url = build_storage(connection).url(name)
    own_yandex_server.stop()
    response = client.get(url)
    assert response.status_code == 503 and response["Retry-After"]
    assert all(secret not in response.content.decode() for secret in SECRETS)
