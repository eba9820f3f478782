"""django-q2 entry points: load by id, call a service, nothing else."""

from companies.models import Project
from companies.quota import sweep_pending_uploads
from markers import album, jobs


def run_job(job_id: int) -> str | None:
    return jobs.run_job(job_id=job_id)


def sweep() -> dict:
    counts = jobs.sweep_jobs()
    counts["pending_uploads"] = sweep_pending_uploads()
    return counts


def rebuild_project_marker(project_id: int) -> str:
    project = Project.objects.select_related("company").filter(pk=project_id).first()
    if project is None:
        return "project deleted"
    marker = album.rebuild_project_marker(project=project)
    return f"{len(marker.targets)} targets"
