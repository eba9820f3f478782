"""Give markers made before the ``arv`` engine their compact marker (``.arvm``).

``manage.py backfill_compact_markers`` runs :func:`backfill_compact_markers`. Each row is done on
its own — read the stored ``.mind``, derive the ``.arvm``, store it next to it, then record it
with a conditional UPDATE — so the command is idempotent (rows already at the current format are
not selected), resumable (an interrupted run leaves finished rows finished; run it again) and
one broken row (a missing or corrupt ``.mind``, an unreachable storage) does not stop the others.

A row that changed while its ``.arvm`` was made (the marker was regenerated, the album rebuilt)
is left to its new owner: the file just written is deleted and nothing is counted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db.models import F

from companies.storage import storage_for_company
from lib.periodic import RowFailures
from markers.arvm import compact_name, current_version, write_compact
from markers.models import Job, ProjectMarker

logger = logging.getLogger(__name__)


@dataclass
class BackfillReport:
    done: int = 0
    skipped: int = 0  # changed meanwhile, left to the job or rebuild that changed it
    failed: list[str] = field(default_factory=list)
    bytes_written: int = 0

    def as_text(self) -> str:
        text = f"compact markers written: {self.done} ({self.bytes_written} bytes), changed meanwhile: {self.skipped}"
        if self.failed:
            text += f", failed: {len(self.failed)} ({', '.join(self.failed[:20])})"
        return text


def pending_jobs(*, company_ids=None):
    jobs = Job.objects.filter(kind=Job.Kind.MINDAR, status=Job.Status.READY).exclude(output="")
    jobs = jobs.exclude(compact_version=current_version())
    if company_ids:
        jobs = jobs.filter(portrait__company_id__in=company_ids)
    return jobs.select_related("portrait__company__storage_connection").order_by("pk")


def pending_albums(*, company_ids=None):
    markers = ProjectMarker.objects.exclude(output="").exclude(compact_version=current_version())
    if company_ids:
        markers = markers.filter(project__company_id__in=company_ids)
    return markers.select_related("project__company__storage_connection").order_by("pk")


def backfill_compact_markers(*, company_ids=None, limit: int | None = None) -> BackfillReport:
    report = BackfillReport()
    rows = RowFailures("backfill_compact_markers")
    todo = [*pending_jobs(company_ids=company_ids), *pending_albums(company_ids=company_ids)]
    if limit is not None:
        todo = todo[:limit]
    for row in todo:
        label = f"job {row.pk}" if isinstance(row, Job) else f"album marker {row.pk}"
        failed_before = rows.count
        with rows.isolated(label):
            written = _backfill_row(row)
            if written is None:
                report.skipped += 1
            else:
                report.done += 1
                report.bytes_written += written
        if rows.count > failed_before:
            report.failed.append(label)
    return report


def _backfill_row(row: Job | ProjectMarker) -> int | None:
    """Bytes added, or None when the row changed meanwhile."""
    company = row.portrait.company if isinstance(row, Job) else row.project.company
    storage = storage_for_company(company)
    mind_name = row.output.name
    name = compact_name(mind_name)
    old_bytes = storage.size(name) if row.compact_version and storage.exists(name) else 0
    if not row.compact_version and storage.exists(name):
        storage.delete(name)  # left by an interrupted run: never counted, nobody's
    with storage.open(mind_name, "rb") as fh:  # missing or unreadable: this row fails, the others go on
        data = fh.read()
    if old_bytes:
        storage.delete(name)  # an older format's file, counted in output_bytes (replaced below)
    size = write_compact(storage, mind_name, data)
    model = type(row)
    unchanged = {"pk": row.pk, "output": mind_name, "compact_version": row.compact_version}
    if isinstance(row, Job):
        unchanged["status"] = Job.Status.READY
    updated = model.objects.filter(**unchanged).update(
        compact_version=current_version(), output_bytes=F("output_bytes") + size - old_bytes
    )
    if not updated:
        storage.delete(name)
        return None
    company.add_storage(size - old_bytes)
    return size
