"""Per-row failure isolation for the periodic jobs (``setup_schedules``).

A periodic job walks the rows of every company. One company's bad data — a rule that cannot be
evaluated, a time zone tzdata no longer knows, a value no code path expects — must cost that
row, not the run: the job logs the failure with the row's id, goes on with the next row, and
the row is tried again on the next run.

    rows = RowFailures("rebase_rotations")
    for rotation in ...:
        with rows.isolated(rotation.pk):
            ...
    return {"moved": moved, "failed": rows.count}
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction

# The name operators filter the periodic jobs' failures by (kept when the module moved to lib/).
logger = logging.getLogger("arv.periodic")


class RowFailures:
    """Collects the rows a periodic job could not process."""

    def __init__(self, job: str):
        self.job = job
        self.failed: list[object] = []

    @property
    def count(self) -> int:
        return len(self.failed)

    @contextmanager
    def isolated(self, row_id: object, *, atomic: bool = False) -> Iterator[None]:
        """Run the block for one row; an exception is logged with the row's id and swallowed.

        *atomic*: run the block in its own transaction (a savepoint inside an outer one), so a
        database error rolls back this row's writes only and leaves the connection usable.
        Leave it off for blocks that talk to the network (e-mail, Telegram): no transaction
        should stay open across a remote call.
        """
        try:
            if atomic:
                with transaction.atomic():
                    yield
            else:
                yield
        except Exception:
            self.failed.append(row_id)
            logger.exception(
                "%s: %s failed; the other rows go on", self.job, row_id, extra={"job": self.job, "row": str(row_id)}
            )
