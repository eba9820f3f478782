"""django-q2 entry points for content upkeep: call a service, nothing else."""

from content.services import rebase_rotations as _rebase


def rebase_rotations() -> int:
    return _rebase()
