"""The media route: files of the connections streamed through the app (local disk, Yandex Disk),
served only while a row references them and their company is live.
"""

from __future__ import annotations

import logging
import uuid

from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_safe

from companies.models import Company, StorageConnection
from companies.storage import storage_for_connection
from content.models import Portrait
from lib.media import serve_file, storage_name
from lib.storage import SAFE_TYPES, UnsafeLocation
from markers.models import Job, ProjectMarker

logger = logging.getLogger(__name__)


_OWNER_FIELDS = ("is_active", "subscription_expires_at", "storage_connection_id")


def owner_of(name: str) -> Company | None:
    """The company of the row that references *name* (only the fields serving depends on), in
    one query on a unique index; None if no row does.

    Stored names follow one layout (``Portrait.storage_dir``, ``markers.handlers.base``):
    ``<company prefix>/<project slug>/<portrait uuid>/<file>`` for a photo's files (image, preview,
    videos, renditions, posters, markers; an NFT marker's .fset and .fset3 sit beside its .iset)
    ``<company prefix>/<project slug>/album-<hex>.mind`` for a project's combined marker and
    ``<company prefix>/brand/logo-<hex>.png`` for a company's logo. The
    portrait's unique id, or the project's slug, finds the candidate row through an index; the
    row must then name the file in one of its file fields.
    """
    parts = name.split("/")
    if len(parts) == 4:
        try:
            portrait_id = uuid.UUID(parts[2])
        except ValueError:
            return None
        stem, _dot, ext = name.rpartition(".")
        job_file = Q(jobs__output=name)
        if ext in ("fset", "fset3"):
            job_file |= Q(jobs__kind=Job.Kind.NFT, jobs__output=f"{stem}.iset")
        rows = (
            Portrait.objects.filter(unique_id=portrait_id)
            .filter(
                Q(image=name)
                | Q(preview=name)
                | Q(videos__file=name)
                | Q(videos__web_file=name)
                | Q(videos__poster=name)
                | job_file
            )
            .values_list(*(f"company__{field}" for field in _OWNER_FIELDS))
        )
    elif len(parts) == 3 and parts[2].startswith("album-"):
        rows = ProjectMarker.objects.filter(project__slug=parts[1], output=name).values_list(
            *(f"project__company__{field}" for field in _OWNER_FIELDS)
        )
    elif len(parts) == 3 and parts[1] == "brand" and parts[2].startswith("logo-"):
        # ``companies.models.company_logo_path``: a studio's logo, on its viewer pages and sheets.
        rows = Company.objects.filter(Q(slug=parts[0]) | Q(storage_prefix=parts[0]), brand_logo=name).values_list(
            *_OWNER_FIELDS
        )
    else:
        return None
    found = list(rows.order_by()[:1])
    return Company(**dict(zip(_OWNER_FIELDS, found[0], strict=True))) if found else None


@require_safe
def media(request, connection_id: int, path: str):
    """Files of the connections streamed through the app: local disk and Yandex Disk.

    Only files that a row references are served, and only while their company is active and
    uses this connection: whatever else lies in a connection's folder (a stray file, or worse,
    if someone pointed a connection at the wrong folder) stays private. S3-compatible connections
    are not served here: their URLs are presigned or public links that browsers fetch from the
    bucket (or its CDN) directly.
    """
    name = storage_name(path)
    if name is None or name.rsplit(".", 1)[-1].lower() not in SAFE_TYPES:
        raise Http404
    streamed = [StorageConnection.Provider.LOCAL, StorageConnection.Provider.YANDEX_DISK]
    connection = get_object_or_404(StorageConnection, pk=connection_id, provider__in=streamed)
    owner = owner_of(name)
    if owner is None or owner.unavailable_reason() or not owner.stores_on(connection):
        raise Http404
    try:
        storage = storage_for_connection(connection)
    except UnsafeLocation:
        # A folder saved before it was checked, or LOCAL_STORAGE_ROOTS narrowed since.
        logger.error("storage connection %s: its folder is outside the allowed roots; not serving", connection.pk)
        raise Http404 from None
    return serve_file(request, storage, name)
