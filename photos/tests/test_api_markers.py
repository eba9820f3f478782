"""Marker status and downloads, the regenerate action and QR codes through the API."""

import io
import uuid

import pytest
from django.core.files.base import ContentFile
from PIL import Image

from arv.testing.api import errors_of, token_client
from arv.testing.qr import decode_qr
from companies.storage import storage_for_company
from content.models import Portrait
from markers.models import Job


def url(portrait, suffix: str) -> str:
    return f"/api/v1/portraits/{portrait.unique_id}/{suffix}"


@pytest.mark.django_db
def test_marker_status_per_kind_with_download_url(tenants, make_portrait, django_assert_num_queries):
    portrait = make_portrait(tenants.project_a)
    storage = storage_for_company(tenants.a)
    mind = storage.save(f"{portrait.storage_dir}/m.mind", ContentFile(b"mind"))
    iset = storage.save(f"{portrait.storage_dir}/n.iset", ContentFile(b"iset"))
    Job.objects.create(portrait=portrait, kind="mindar", status="ready", output=mind, report={"score": 64})
    Job.objects.create(portrait=portrait, kind="nft", status="failed", output=iset, error="Too few details.")
    Job.objects.create(portrait=portrait, kind="preview", status="ready")
    client = token_client(tenants.viewer)
    with django_assert_num_queries(4):  # token + user, memberships, portrait, its marker jobs
        response = client.get(url(portrait, "markers/"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "processing"
    assert body["markers"]["mindar"] == {
        "kind": "mindar",
        "status": "ready",
        "score": 64,
        "warnings": [],
        "error": "",
        "reused": False,
        "url": "http://testserver" + storage.url(mind),
    }
    # A failed marker says why and offers no download.
    assert body["markers"]["nft"]["status"] == "failed" and body["markers"]["nft"]["url"] is None
    assert body["markers"]["nft"]["error"] == "Too few details."


@pytest.mark.django_db
def test_marker_status_before_any_job_and_for_other_companies(tenants, make_portrait):
    ours = make_portrait(tenants.project_a)
    theirs = make_portrait(tenants.project_b)
    client = token_client(tenants.owner)
    assert client.get(url(ours, "markers/")).json()["markers"] == {"mindar": None, "nft": None}
    assert client.get(url(theirs, "markers/")).status_code == 404


@pytest.mark.django_db
def test_regenerate_queues_the_marker_again(tenants, make_portrait, django_capture_on_commit_callbacks):
    portrait = make_portrait(tenants.project_a)
    job = Job.objects.create(portrait=portrait, kind="mindar", status="failed", attempts=3, error="Broken.")
    Job.objects.create(portrait=portrait, kind="preview", status="ready")
    portrait.set_status(Portrait.Status.FAILED)
    with django_capture_on_commit_callbacks() as callbacks:
        response = token_client(tenants.editor).post(url(portrait, "regenerate/"))
    assert response.status_code == 202
    job.refresh_from_db()
    assert (job.status, job.attempts, job.error) == ("pending", 0, "")
    assert len(callbacks) == 1
    body = response.json()
    assert body["status"] == "processing" and body["markers"]["mindar"]["status"] == "pending"
    portrait.refresh_from_db()
    assert portrait.status == Portrait.Status.PROCESSING


@pytest.mark.django_db
def test_regenerate_needs_write_access_in_the_same_company(tenants, make_portrait):
    ours = make_portrait(tenants.project_a)
    theirs = make_portrait(tenants.project_b)
    assert token_client(tenants.viewer).post(url(ours, "regenerate/")).status_code == 403
    assert token_client(tenants.owner).post(url(theirs, "regenerate/")).status_code == 404
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_qr_codes_encode_the_viewer_url(tenants, make_portrait, settings):
    settings.SITE_URL = "https://ar.example.com"
    # A fixed UUID: OpenCV's detector misreads about 2% of codes at this size, whatever makes them.
    fixed = uuid.UUID("6f1c2a3e-8b4d-4e5f-9a6b-7c8d9e0f1a2b")
    portrait = make_portrait(tenants.project_a, title="Anna & Ivan", unique_id=fixed)
    client = token_client(tenants.viewer)
    response = client.get(url(portrait, "qr.png"), HTTP_ACCEPT="image/png")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'inline; filename="qr-anna-ivan.png"'
    assert decode_qr(Image.open(io.BytesIO(response.content))) == f"https://ar.example.com/v/{portrait.unique_id}/"
    response = client.get(url(portrait, "qr.svg"), {"download": "true"})
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    assert response.content.startswith(b"<?xml") and b"<svg" in response.content
    assert response["Content-Disposition"].startswith("attachment;")


@pytest.mark.django_db
def test_qr_errors_are_json_whatever_the_client_accepts(tenants, make_portrait):
    theirs = make_portrait(tenants.project_b)
    ours = make_portrait(tenants.project_a)
    client = token_client(tenants.owner)
    response = client.get(url(theirs, "qr.png"), HTTP_ACCEPT="image/png")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert list(errors_of(client.get(url(ours, "qr.svg"), {"download": "perhaps"}))) == ["download"]
