"""The album's combined MindAR marker: one .mind with every live photo of a project as a target.

Built in a worker (``markers.tasks``), queued by ``markers.jobs.queue_project_marker``."""

from __future__ import annotations

import hashlib
import uuid

from django.utils import timezone

from companies.storage import replace_output, storage_for_company
from content.models import Portrait
from lib.storage import delete_quietly, read
from markers import arvm, mindar
from markers.models import Job, ProjectMarker


def album_jobs(project) -> list[Job]:
    """Ready MindAR markers of the project's publicly visible photos, in album order."""
    portraits = Portrait.objects.filter(project=project).publicly_visible()
    return list(
        Job.objects.filter(kind=Job.Kind.MINDAR, status=Job.Status.READY, portrait__in=portraits)
        .exclude(output="")
        .select_related("portrait")
        .order_by("portrait__created_at", "portrait_id")
    )


def rebuild_project_marker(*, project) -> ProjectMarker:
    """Merge the photos' markers into one .mind (target i = photo i), unless nothing changed."""
    jobs = album_jobs(project)
    key = hashlib.sha256("|".join(f"{j.portrait.unique_id}:{j.output.name}" for j in jobs).encode()).hexdigest()
    marker, _ = ProjectMarker.objects.get_or_create(project=project)
    if marker.source_key == key:
        return marker
    company = project.company
    storage = storage_for_company(company)
    name, size = "", 0
    if jobs:
        data = mindar.merge_mind([read(storage, job.output.name) for job in jobs])
        name = f"{company.path_prefix}/{project.slug}/album-{uuid.uuid4().hex[:12]}.mind"
        size = arvm.write_marker_files(storage, name, data)
    # Conditional on the key we started from: a concurrent rebuild that finished first wins.
    updated = ProjectMarker.objects.filter(pk=marker.pk, source_key=marker.source_key).update(
        output=name,
        output_bytes=size,
        compact_version=arvm.current_version() if name else 0,
        targets=[str(j.portrait.unique_id) for j in jobs],
        source_key=key,
        updated_at=timezone.now(),
    )
    if not updated:
        if name:
            delete_quietly(storage, [name, arvm.compact_name(name)])
        return ProjectMarker.objects.get(pk=marker.pk)
    replace_output(
        company=company,
        added_bytes=size,
        old_names=marker.stored_names(),
        old_bytes=marker.output_bytes,
    )
    marker.refresh_from_db()
    return marker
