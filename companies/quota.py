"""A company's storage quota for uploads: reserve the bytes, journal the files being written,
undo everything if the upload fails, and sweep what a dead process left behind.

Every upload (photos and videos in ``content.services``, the studio logo in
``companies.logos``) goes through ``staged``; ``sweep_pending_uploads`` runs with the sweeper.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _

from companies.models import Company, PendingUpload
from companies.storage import storage_for_company
from lib.periodic import RowFailures
from lib.storage import delete_quietly

PENDING_UPLOAD_TTL = timedelta(hours=1)


class QuotaExceeded(ValidationError):
    pass


def quota_error(company: Company, needed: int) -> QuotaExceeded:
    return QuotaExceeded(
        _(
            "Not enough storage left: this upload needs %(needed)s, and %(used)s of your %(quota)s are in use "
            "(%(left)s free). Delete old photos or videos, or ask us for more space."
        )
        % {
            "needed": filesizeformat(needed),
            "used": filesizeformat(company.storage_used_bytes),
            "quota": filesizeformat(company.storage_quota_bytes),
            "left": filesizeformat(company.storage_left_bytes),
        },
        code="quota",
    )


def unique_name(directory: str, stem: str, ext: str) -> str:
    return f"{directory}/{stem}-{uuid.uuid4().hex[:12]}.{ext}"


@contextmanager
def staged(company: Company, planned: dict[str, int]):
    """Reserve quota and journal *planned* names → sizes; undo everything if the block fails.

    Yields the journal entry and the company's storage; the caller deletes the entry inside the
    transaction creating the rows.
    """
    total = sum(planned.values())
    with transaction.atomic():
        if not company.reserve_storage(total):
            raise quota_error(company, total)
        pending = PendingUpload.objects.create(company=company, names=list(planned), reserved_bytes=total)
    pending_id = pending.pk  # pending.delete() in the block clears .pk; a rollback revives the row
    storage = storage_for_company(company)
    try:
        yield pending, storage
    except BaseException:
        delete_quietly(storage, list(planned), why="after a failed upload")
        company.release_storage(total)
        PendingUpload.objects.filter(pk=pending_id).delete()
        raise


def release_files(company: Company, names: list[str], freed: int) -> None:
    """After a delete committed: give the bytes back and delete the files.

    The rows are gone for good at this point, so the quota comes back even if a file lingers.
    """
    company.release_storage(freed)
    delete_quietly(storage_for_company(company), names, why="(`recompute_storage_usage` will not count it)")


def sweep_pending_uploads(*, older_than: timedelta = PENDING_UPLOAD_TTL) -> int:
    """Undo uploads whose process died midway: delete their files and release their quota.

    An entry that cannot be undone now (its company's storage cannot be built) is logged and kept
    for the next run; the others are still undone.
    """
    swept = 0
    rows = RowFailures("sweep_pending_uploads")
    for pending in PendingUpload.objects.filter(created_at__lt=timezone.now() - older_than).select_related("company"):
        with rows.isolated(f"pending upload {pending.pk}"):
            storage = storage_for_company(pending.company)
            delete_quietly(storage, pending.names, why="after a failed upload")
            with transaction.atomic():
                if PendingUpload.objects.filter(pk=pending.pk).delete()[0]:
                    pending.company.release_storage(pending.reserved_bytes)
                    swept += 1
    return swept
