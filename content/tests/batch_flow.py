"""Driving a batch through its stages in a test, the way the workers would."""

from __future__ import annotations

from django.conf import settings

from content import batches
from content.models import Batch
from content.tests import batch_data
from markers.jobs import run_job
from markers.models import Job


def start(tenants, data: bytes, *, user=None, project=None, **kwargs) -> Batch:
    return batches.start_batch(
        project=project or tenants.project_a,
        by=user or tenants.owner,
        archive=batch_data.upload(data),
        **kwargs,
    )


def check(batch: Batch) -> Batch:
    batches.check_batch(batch_id=batch.pk)
    batch.refresh_from_db()
    return batch


def make_rows(batch: Batch) -> None:
    for pk in batch.rows.filter(status="queued").values_list("pk", flat=True):
        batches.make_row(row_id=pk)


def process_portraits() -> None:
    """Run the marker, preview and video jobs (not NFT: MindAR photos do not wait for it)."""
    for pk in Job.objects.filter(status="pending").exclude(kind="nft").values_list("pk", flat=True):
        run_job(job_id=pk)


def run_to_ready(batch: Batch, *, skip=()) -> Batch:
    batches.confirm_batch(batch=batch, by=batch.created_by, skip=skip)
    make_rows(batch)
    process_portraits()
    batch.refresh_from_db()
    return batch


def staged_files(batch: Batch) -> list[str]:
    root = settings.BATCH_STAGING_DIR / "batches" / str(batch.uuid)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []
