"""django-q2 entry points: load by id, call a service, nothing else."""

from content.services import sweep_pending_uploads
from markers import services


def run_job(job_id: int) -> str | None:
    return services.run_job(job_id=job_id)


def sweep() -> dict:
    counts = services.sweep_jobs()
    counts["pending_uploads"] = sweep_pending_uploads()
    return counts
