"""/api/v1/batches/: upload, status, rows, confirm, cancel, print PDF and CSV; tenancy, roles and
bad input."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from arv.testing.api import errors_of, token_client
from content.models import Batch, Portrait
from content.tests import batch_data, batch_flow
from content.tests.batch_data import jpeg_bytes, zip_bytes

pytestmark = pytest.mark.django_db
BATCHES = "/api/v1/batches/"


def url(batch, suffix: str = "") -> str:
    return f"{BATCHES}{batch.uuid}/{suffix}"


def post_zip(client, data: bytes, project="weddings", **fields):
    return client.post(
        BATCHES, {"project": project, "archive": SimpleUploadedFile("order.zip", data), **fields}, format="multipart"
    )


@pytest.fixture
def order_zip(tmp_path):
    files = batch_data.pairs(tmp_path, 2)
    files["orders.csv"] = "photo,video,title,order reference\nguest0.jpg,guest0.mp4,Anna,A-1\nguest1.jpg,,Ivan,A-2\n"
    return zip_bytes(files)


def test_the_whole_flow_through_the_api(tenants, order_zip, django_capture_on_commit_callbacks):
    client = token_client(tenants.editor, company="alpha")
    with django_capture_on_commit_callbacks() as callbacks:
        response = post_zip(client, order_zip, sheet_format="card")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued" and body["sheet_format"] == "card" and body["original_name"] == "order.zip"
    assert response["Location"].endswith(f"{BATCHES}{body['id']}/")
    assert len(callbacks) == 1  # the check is queued once the batch row is committed
    batch = Batch.objects.get(uuid=body["id"])
    batch_flow.check(batch)

    body = client.get(url(batch)).json()
    assert body["status"] == "review" and body["counts"]["valid"] == 2
    assert body["quota"]["needed"] > 0 and body["quota"]["fits"] is True
    assert body["print_urls"] == {} and body["csv_url"] is None
    rows = client.get(url(batch, "rows/")).json()["results"]
    assert [(r["line"], r["status"], r["title"], r["videos"]) for r in rows] == [
        (2, "valid", "Anna", ["guest0.mp4"]),
        (3, "valid", "Ivan", []),
    ]
    assert client.get(url(batch, "print.pdf")).status_code == 409
    assert client.get(url(batch, "orders.csv")).json()["code"] == "not_ready"

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url(batch, "confirm/"), {"skip": [3]}, format="json")
        assert response.status_code == 202 and response.json()["status"] == "running"
        batch_flow.make_rows(batch)
        batch_flow.process_portraits()
    body = client.get(url(batch)).json()
    assert body["status"] == "ready" and body["progress"] == {"done": 1, "total": 1}
    assert body["counts"]["created"] == 1 and body["counts"]["skipped"] == 1
    rows = client.get(url(batch, "rows/")).json()["results"]
    portrait = Portrait.objects.get()
    assert rows[0]["status"] == "ready" and rows[0]["portrait"]["viewer_url"] == portrait.public_url
    assert rows[0]["portrait"]["qr_png_url"].endswith(f"/api/v1/portraits/{portrait.unique_id}/qr.png")
    assert rows[1]["status"] == "skipped" and rows[1]["portrait"] is None

    pdf = client.get(body["print_urls"]["card"])
    assert pdf.status_code == 202 and pdf["Retry-After"]  # being made
    from content import batches

    batches.make_print_file(print_file_id=batch.print_files.get(sheet_format="card").pk)
    pdf = client.get(body["print_urls"]["card"])
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")
    response = client.get(body["csv_url"])
    assert response["Content-Type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert lines[0]["viewer_url"] == portrait.public_url and lines[0]["qr_png_url"] == rows[0]["portrait"]["qr_png_url"]
    # The QR code URL in the CSV works with the same token.
    assert client.get(lines[0]["qr_png_url"].replace("http://testserver", "")).status_code == 200


def test_separate_files_instead_of_a_zip(tenants, tmp_path):
    client = token_client(tenants.owner)
    files = [SimpleUploadedFile(name, data) for name, data in batch_data.pairs(tmp_path, 1).items()]
    response = client.post(BATCHES, {"project": "weddings", "files": files}, format="multipart")
    assert response.status_code == 202, response.content
    batch = batch_flow.check(Batch.objects.get())
    assert batch.source == "files" and batch.rows.get().video_names == ["guest0.mp4"]


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({}, "non_field_errors", "either one ZIP archive or the files"),
        ({"archive": SimpleUploadedFile("a.zip", b"")}, "non_field_errors", "The file is empty"),
        ({"archive": SimpleUploadedFile("a.zip", b"%PDF-1.4 not a zip")}, "non_field_errors", "not a ZIP archive"),
        ({"files": [SimpleUploadedFile("run.exe", b"MZ")]}, "non_field_errors", "is not a photo, a video"),
        ({"project": "schools"}, "project", "There is no project “schools”"),
        ({"sheet_format": "a3"}, "sheet_format", "not a valid choice"),
    ],
)
def test_bad_uploads_are_400_and_store_nothing(tenants, order_zip, fields, field, words):
    client = token_client(tenants.owner)
    data = {"project": "weddings", **fields}
    if "archive" not in fields and "files" not in fields and fields:
        data["archive"] = SimpleUploadedFile("order.zip", order_zip)
    errors = errors_of(client.post(BATCHES, data, format="multipart"))
    assert words in " ".join(errors[field]), errors
    assert not Batch.objects.exists()


def test_both_a_zip_and_files_is_refused(tenants, order_zip):
    client = token_client(tenants.owner)
    data = {
        "project": "weddings",
        "archive": SimpleUploadedFile("order.zip", order_zip),
        "files": [SimpleUploadedFile("a.jpg", jpeg_bytes())],
    }
    assert "either one ZIP" in " ".join(errors_of(client.post(BATCHES, data, format="multipart"))["non_field_errors"])


def test_an_oversized_body_is_refused_before_it_is_read(tenants, settings):
    settings.BATCH_MAX_MB = 1
    client = token_client(tenants.owner)
    response = client.post(BATCHES, {"project": "weddings"}, format="multipart", CONTENT_LENGTH=str(5 * 1024 * 1024))
    assert response.status_code == 413 and response.json()["code"] == "too_large"


def test_json_is_not_an_upload(tenants):
    response = token_client(tenants.owner).post(BATCHES, {"project": "weddings"}, format="json")
    assert response.status_code == 415


def test_roles_and_read_only_companies(tenants, order_zip):
    viewer = token_client(tenants.viewer)
    response = post_zip(viewer, order_zip)
    assert response.status_code == 403 and "viewer" in response.json()["detail"]
    batch = batch_flow.check(batch_flow.start(tenants, order_zip))
    assert viewer.get(url(batch)).status_code == 200  # viewers may look
    assert viewer.get(url(batch, "rows/")).status_code == 200
    assert viewer.post(url(batch, "confirm/"), {}, format="json").status_code == 403
    assert viewer.post(url(batch, "cancel/")).status_code == 403
    tenants.a.subscription_expires_at = timezone.now()
    tenants.a.save(update_fields=["subscription_expires_at"])
    owner = token_client(tenants.owner)
    assert post_zip(owner, order_zip).status_code == 403
    assert owner.post(url(batch, "confirm/"), {}, format="json").status_code == 403
    assert Batch.objects.count() == 1 and batch.rows.filter(status="valid").count() == 2


def test_another_company_sees_nothing(tenants, order_zip):
    batch = batch_flow.check(batch_flow.start(tenants, order_zip))
    outsider = token_client(tenants.outsider)
    for suffix in ("", "rows/", "print.pdf", "orders.csv"):
        response = outsider.get(url(batch, suffix))
        assert response.status_code == 404 and response.json()["code"] == "not_found", suffix
    for suffix in ("confirm/", "cancel/"):
        assert outsider.post(url(batch, suffix), {}, format="json").status_code == 404
    assert outsider.get(BATCHES).json()["results"] == []
    # Nor can it upload into another company's project.
    assert "project" in errors_of(post_zip(outsider, order_zip))
    assert token_client(tenants.owner).get(BATCHES).json()["count"] == 1


def test_anonymous_requests_are_401(tenants, order_zip):
    from rest_framework.test import APIClient

    batch = batch_flow.start(tenants, order_zip)
    client = APIClient()
    assert client.get(BATCHES).status_code == 401
    assert client.get(url(batch)).status_code == 401
    assert client.post(BATCHES, {}, format="multipart").status_code == 401


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"skip": ["x"]}, "A valid integer is required"),
        ({"skip": [0]}, "greater than or equal to 1"),
        ({"skip": "2"}, "Expected a list"),
    ],
)
def test_bad_confirmations(tenants, order_zip, body, words):
    batch = batch_flow.check(batch_flow.start(tenants, order_zip))
    errors = errors_of(token_client(tenants.owner).post(url(batch, "confirm/"), body, format="json"))
    assert words in str(errors)
    assert batch.rows.filter(status="valid").count() == 2


def test_confirming_twice_or_skipping_everything_is_400(tenants, order_zip):
    client = token_client(tenants.owner)
    batch = batch_flow.check(batch_flow.start(tenants, order_zip))
    assert "nothing to make" in str(errors_of(client.post(url(batch, "confirm/"), {"skip": [2, 3]}, format="json")))
    assert client.post(url(batch, "confirm/"), {}, format="json").status_code == 202
    assert "cannot be confirmed now" in str(errors_of(client.post(url(batch, "confirm/"), {}, format="json")))
    assert "not confirmed yet can be cancelled" in str(errors_of(client.post(url(batch, "cancel/"))))


def test_cancel(tenants, order_zip):
    client = token_client(tenants.owner)
    batch = batch_flow.check(batch_flow.start(tenants, order_zip))
    response = client.post(url(batch, "cancel/"))
    assert response.status_code == 200 and response.json()["status"] == "cancelled"


def test_list_filters_and_costs_the_same_for_any_page_size(tenants, order_zip, django_assert_max_num_queries):
    client = token_client(tenants.owner)
    batch_flow.check(batch_flow.start(tenants, order_zip))
    client.get(BATCHES)
    # token, user's memberships, count, page, row stats
    with django_assert_max_num_queries(6):
        first = client.get(BATCHES).json()
    for _ in range(4):
        batch_flow.start(tenants, order_zip)
    with django_assert_max_num_queries(6):
        body = client.get(BATCHES, {"status": "queued", "project": "weddings"}).json()
    assert first["count"] == 1 and body["count"] == 4
    assert errors_of(client.get(BATCHES, {"status": "bogus"}))
