"""Batches staged in an S3 bucket (moto_server), as on several web and worker machines."""

import uuid

import pytest

from arv.testing.servers import moto_s3_server
from content import batches
from content.models import Portrait
from content.tests import batch_data, batch_flow

pytestmark = [pytest.mark.services, pytest.mark.django_db]
BUCKET = "arv-staging"


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    with moto_s3_server(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        server.create_bucket(BUCKET)
        yield server


@pytest.fixture
def s3_staging(s3, settings):
    settings.BATCH_STAGING_S3 = {
        "bucket": BUCKET,
        "prefix": f"private/{uuid.uuid4().hex[:8]}",  # a folder per test: the bucket outlives them
        "endpoint_url": s3.endpoint_url,
        "region": "us-east-1",
        "addressing_style": "path",
        "access_key_id": "test",
        "secret_access_key": "test-secret-never-shown",
    }
    return s3


def keys(s3, batch) -> list[str]:
    from django.conf import settings

    prefix = f"{settings.BATCH_STAGING_S3['prefix']}/batches/{batch.uuid}/"
    found = s3.client().list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return sorted(o["Key"][len(prefix) :] for o in found)


def test_upload_check_rows_and_print_file_through_s3(
    tenants, tmp_path, settings, s3_staging, django_capture_on_commit_callbacks
):
    files = batch_data.pairs(tmp_path, 2)
    files["orders.csv"] = "photo,video,order reference\nguest0.jpg,guest0.mp4,A-1\nguest1.jpg,guest1.mp4,A-2\n"
    batch = batch_flow.start(tenants, batch_data.zip_bytes(files))
    assert keys(s3_staging, batch) == ["upload/00000.zip"]
    batch = batch_flow.check(batch)
    assert batch.status == "review", batch.error
    staged = keys(s3_staging, batch)
    assert "upload/00000.zip" in staged and sum(k.startswith("files/") for k in staged) == 4
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_flow.run_to_ready(batch)
    assert batch.status == "ready" and Portrait.objects.count() == 2
    assert batches.make_print_file(print_file_id=batch.print_files.get().pk) == "ready"
    print_file = batch.print_files.get()
    with batches.open_print_file(print_file) as fh:
        assert fh.read(5) == b"%PDF-"
    # Only the print file stays; nothing was ever written to a local staging directory.
    assert [k.split("-")[0] for k in keys(s3_staging, batch)] == ["out/print"]
    assert not settings.BATCH_STAGING_DIR.exists()


def test_cancelled_and_orphaned_batches_leave_nothing_in_the_bucket(
    tenants, tmp_path, s3_staging, django_capture_on_commit_callbacks
):
    data = batch_data.zip_bytes(batch_data.pairs(tmp_path, 1))
    batch = batch_flow.check(batch_flow.start(tenants, data))
    with django_capture_on_commit_callbacks(execute=True):
        batches.cancel_batch(batch=batch)
    assert keys(s3_staging, batch) == []
    orphan = batch_flow.start(tenants, data)
    type(orphan).objects.filter(pk=orphan.pk).delete()
    assert batches.sweep_batches()["orphans"] == 1
    assert keys(s3_staging, orphan) == []
