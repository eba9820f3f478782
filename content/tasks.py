"""django-q2 entry points for content: load by id, call a service, nothing else."""

from content import batches
from content.services import rebase_rotations as _rebase


def rebase_rotations() -> int:
    return _rebase()


def check_batch(batch_id: int) -> str | None:
    return batches.check_batch(batch_id=batch_id)


def make_batch_row(row_id: int) -> str | None:
    return batches.make_row(row_id=row_id)


def make_batch_print_file(print_file_id: int) -> str | None:
    return batches.make_print_file(print_file_id=print_file_id)


def sweep_batches() -> dict:
    return batches.sweep_batches()
