"""Batches with real worker processes: a worker killed in the middle of a batch, then the sweeper
and a new worker finish it, and nothing is made twice."""

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Sum

from arv.testing.processes import database_url, start_qcluster, stop, wait_for
from companies.models import PendingUpload
from companies.quota import sweep_pending_uploads
from content import batches
from content.models import Batch, BatchRow, Portrait, Video
from content.tests import batch_data, batch_flow
from markers.jobs import sweep_jobs
from markers.models import Job, ProjectMarker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ROWS = 8


def worker_env(settings) -> dict:
    return {
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": settings.REDIS_URL,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "BATCH_STAGING_DIR": str(settings.BATCH_STAGING_DIR),
        "TASK_WORKERS": "2",
        # A claim older than this is a dead worker's, so the sweeper may hand it to another.
        "JOB_STUCK_AFTER_SECONDS": "3",
        "JOB_LOST_AFTER_SECONDS": "2",
    }


def counted_bytes() -> int:
    """What the quota counter should say: every stored file of every row."""
    total = 0
    for model, field in ((Portrait, "stored_bytes"), (Video, "stored_bytes"), (Job, "output_bytes")):
        total += model.objects.aggregate(n=Sum(field))["n"] or 0
    return total + (ProjectMarker.objects.aggregate(n=Sum("output_bytes"))["n"] or 0)


def test_a_worker_killed_mid_batch_resumes_and_makes_nothing_twice(tenants, tmp_path, settings):
    settings.JOB_STUCK_AFTER_SECONDS = 3
    settings.JOB_LOST_AFTER_SECONDS = 2
    files = batch_data.pairs(tmp_path, ROWS)
    files["orders.csv"] = "photo,video,order reference\n" + "".join(
        f"guest{i}.jpg,guest{i}.mp4,R-{i}\n" for i in range(ROWS)
    )
    batch = batch_flow.check(batch_flow.start(tenants, batch_data.zip_bytes(files)))
    assert batch.status == "review"
    env = worker_env(settings)
    log = tmp_path / "qcluster.log"

    first = start_qcluster(env=env, log_path=log)
    try:
        time.sleep(2)  # the cluster's processes are up before the rows are queued
        batches.confirm_batch(batch=batch, by=tenants.owner)
        # Kill it as soon as it is in the middle of the batch: a row being made, or made.
        wait_for(
            lambda: BatchRow.objects.filter(batch=batch, status__in=["processing", "created"]).exists(),
            timeout=600,
            interval=0.01,
        )
    finally:
        stop(first, kill=True)
    killed_at = dict(BatchRow.objects.filter(batch=batch).values_list("number", "status"))
    print("statuses when the worker was killed:", killed_at)
    assert "queued" in killed_at.values() or "processing" in killed_at.values(), killed_at

    time.sleep(3.5)  # past JOB_STUCK_AFTER_SECONDS: whatever the dead worker held is now stuck
    second = start_qcluster(env=env, log_path=log)
    try:
        sweeps = []

        def finished() -> bool:
            # What the every-minute schedule does, run here more often.
            sweeps.append(batches.sweep_batches())
            sweep_jobs()
            return Batch.objects.get(pk=batch.pk).status in ("ready", "failed")

        wait_for(finished, timeout=900, interval=1)
    finally:
        stop(second)
    batch.refresh_from_db()
    assert batch.status == "ready", (log.read_text(errors="replace")[-4000:], killed_at)
    rows = list(batch.rows.select_related("portrait"))
    assert {r.status for r in rows} == {"created"}
    assert Portrait.objects.count() == ROWS == len({r.portrait_id for r in rows})
    assert sorted(Portrait.objects.values_list("order_reference", flat=True)) == [f"R-{i}" for i in range(ROWS)]
    assert Video.objects.count() == ROWS
    assert all(r.portrait.unique_id == r.portrait_uid for r in rows)
    # Files a killed upload wrote before its rows existed are undone by the journal's sweeper,
    # after which the quota counts exactly what is stored.
    sweep_pending_uploads(older_than=timedelta(0))
    assert not PendingUpload.objects.exists()
    tenants.a.refresh_from_db()
    assert tenants.a.storage_used_bytes == counted_bytes()
    assert all(name.startswith("out/") for name in batch_flow.staged_files(batch))
