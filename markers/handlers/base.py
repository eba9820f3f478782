"""What every job handler shares: its result, its two kinds of failure, and where outputs go."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from django.utils.translation import gettext_noop

from lib import storage as stored
from markers.models import Job


class PermanentJobError(Exception):
    """This input will never process; retrying is pointless. The message is for the client."""


class TransientJobError(Exception):
    """Try again later (storage or network trouble)."""


@dataclass
class Outcome:
    output_name: str = ""
    output_bytes: int = 0
    input_sha256: str = ""
    compiler_version: str = ""
    report: dict = field(default_factory=dict)
    reused_from: Job | None = None
    compact_version: int = 0  # MindAR: the .arvm written next to output_name (markers/arvm.py)


def read_input(storage, name: str) -> bytes:
    """An input file's bytes; a missing one will never process (a permanent failure)."""
    try:
        return stored.read(storage, name)
    except FileNotFoundError:
        raise PermanentJobError(gettext_noop("The uploaded file is missing from the storage.")) from None


def output_stem(job: Job) -> str:
    return f"{job.portrait.storage_dir}/{job.kind}-{uuid.uuid4().hex[:12]}"


def output_name(job: Job, ext: str) -> str:
    return f"{output_stem(job)}.{ext}"


def reusable(job: Job, sha256: str, version: str) -> Job | None:
    """A ready marker of the same image and compiler in this company, this job's own included."""
    if job.input_sha256 == sha256 and job.compiler_version == version and job.output:
        # Regenerating without a change: our own previous output is still valid.
        return job
    return (
        Job.objects.filter(
            kind=job.kind,
            status=Job.Status.READY,
            input_sha256=sha256,
            compiler_version=version,
            portrait__company_id=job.portrait.company_id,
        )
        .exclude(pk=job.pk)
        .exclude(output="")
        .order_by("-finished_at")
        .first()
    )
