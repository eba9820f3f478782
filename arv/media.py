"""Serving stored files: HTTP Range (video seeking, iOS playback), long caching, safe types.

Names of stored files are random and never reused, so responses are cacheable forever. Content
types come from a whitelist by extension; anything else is a download, so an uploaded file can
never run as HTML or script in the site's origin.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote

import brotli
from django.core.cache import cache
from django.core.exceptions import SuspiciousFileOperation
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.http import http_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from arv.storage import StorageUnavailable, UnsafeLocation, storage_for_connection

logger = logging.getLogger(__name__)

SAFE_TYPES = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
    "mind": "application/octet-stream",
    "arvm": "application/octet-stream",
    "iset": "application/octet-stream",
    "fset": "application/octet-stream",
    "fset3": "application/octet-stream",
    "pdf": "application/pdf",
}
# Marker files: binary but compressible (about half their size for .mind and .fset3). They are
# compressed when served (no Range asked), and the compressed bytes cached: names are never reused.
COMPRESSIBLE = {"mind", "arvm", "fset", "fset3", "iset"}
COMPRESS_MAX_BYTES = 32 * 1024 * 1024
COMPRESSED_CACHE_SECONDS = 7 * 24 * 3600
# Fast settings: ~40 ms for a 0.5 MB .mind on first request, within a few % of the best ratio.
ENCODERS = {"br": lambda data: brotli.compress(data, quality=5), "gzip": lambda data: gzip.compress(data, 6, mtime=0)}
INLINE = {"image/jpeg", "image/png", "image/webp", "video/mp4", "video/quicktime", "video/webm"}
CHUNK = 256 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def content_type_for(name: str) -> str:
    return SAFE_TYPES.get(name.rsplit(".", 1)[-1].lower(), "application/octet-stream")


def _iter_range(fh, start: int, length: int) -> Iterator[bytes]:
    try:
        fh.seek(start)
        remaining = length
        while remaining > 0:
            chunk = fh.read(min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        fh.close()


def _headers(response, name: str, content_type: str) -> None:
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    # Viewer pages on other origins (a studio's own site) may load the video and marker.
    response["Access-Control-Allow-Origin"] = "*"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    if content_type not in INLINE:
        response["Content-Disposition"] = f'attachment; filename="{name.rsplit("/", 1)[-1]}"'


def _last_modified(storage, name: str, fh):
    # Remote files know it from the metadata call that opened them; asking again costs a round trip.
    modified = getattr(fh, "modified_time", None)
    if modified is not None:
        return modified
    try:
        return storage.get_modified_time(name)
    except (NotImplementedError, OSError, AttributeError, StorageUnavailable):
        return None


def storage_unavailable_response() -> HttpResponse:
    response = HttpResponse(
        _("The file storage is not reachable right now. Please try again in a few minutes."),
        status=503,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = "30"
    response["Cache-Control"] = "no-store"
    return response


def accepted_encoding(request) -> str:
    """The best encoding the client takes: brotli, gzip or '' (identity)."""
    offered = {part.split(";")[0].strip().lower() for part in request.headers.get("Accept-Encoding", "").split(",")}
    return next((name for name in ENCODERS if name in offered), "")


def _compressed(storage, name: str, fh, size: int, encoding: str) -> bytes | None:
    """*name*'s bytes in *encoding*, from the cache or made now; None when not worth it."""
    identity = f"{type(storage).__module__}.{type(storage).__qualname__}:{getattr(storage, 'location', '')}:{name}"
    key = f"media-z:{encoding}:{hashlib.sha256(identity.encode()).hexdigest()}"
    data = cache.get(key)
    if data is None:
        fh.seek(0)
        raw = fh.read(size + 1)
        fh.seek(0)  # sent as it is if it does not compress
        data = ENCODERS[encoding](raw)
        if len(data) > 0.9 * len(raw):
            data = b""  # incompressible (an .iset holds a JPEG): remembered as such
        cache.set(key, data, COMPRESSED_CACHE_SECONDS)
    return data or None


def serve_file(request, storage, name: str):
    """Stream *name* from *storage*, honouring a single-range Range header; marker files are
    sent compressed (brotli or gzip) when the client takes it."""
    try:
        fh = storage.open(name, "rb")
        size = fh.size
    except (FileNotFoundError, SuspiciousFileOperation, IsADirectoryError):
        raise Http404 from None
    except StorageUnavailable:
        return storage_unavailable_response()
    content_type = content_type_for(name)
    header = request.headers.get("Range", "")
    match = _RANGE.match(header.strip()) if header else None
    body = None
    if match and (match.group(1) or match.group(2)):
        first, last = match.groups()
        if first:
            start = int(first)
            end = min(int(last), size - 1) if last else size - 1
        else:  # suffix range: the last N bytes
            start = max(size - int(last), 0)
            end = size - 1
        if start >= size or start > end:
            fh.close()
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            _headers(response, name, content_type)
            return response
        length = end - start + 1
        response = StreamingHttpResponse(_iter_range(fh, start, length), status=206, content_type=content_type)
        response["Content-Length"] = str(length)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    else:
        encoding = accepted_encoding(request) if name.rsplit(".", 1)[-1].lower() in COMPRESSIBLE else ""
        body = _compressed(storage, name, fh, size, encoding) if encoding and size <= COMPRESS_MAX_BYTES else None
        if body is not None:
            response = HttpResponse(body, content_type=content_type)
            response["Content-Encoding"] = encoding
            response["Content-Length"] = str(len(body))
        else:
            response = FileResponse(fh, content_type=content_type)
            response["Content-Length"] = str(size)
        if name.rsplit(".", 1)[-1].lower() in COMPRESSIBLE:
            response["Vary"] = "Accept-Encoding"
    _headers(response, name, content_type)
    modified = _last_modified(storage, name, fh)
    if modified is not None:
        response["Last-Modified"] = http_date(modified.timestamp())
    if not isinstance(response, StreamingHttpResponse):
        fh.close()  # the compressed bytes were sent from memory
    return response


def storage_name(path: str) -> str | None:
    """*path* from a URL as a stored file's name, or None if it could name anything else.

    Checked before anything else looks at the path: an empty, ``.`` or ``..`` segment (also
    percent-encoded once more, ``%2e%2e``), a backslash or a NUL would let a storage normalise the
    name into another file than the one every check below was made for (``x/../beta/...``).
    """
    if not path or "\\" in path or "\x00" in path or path.startswith("/"):
        return None
    for segment in path.split("/"):
        decoded = unquote(segment)
        if decoded in ("", ".", "..") or "/" in decoded or "\\" in decoded or "\x00" in decoded:
            return None
    return path


@dataclass(frozen=True)
class Owner:
    """The company whose rows reference a stored file, with what serving it depends on."""

    is_active: bool
    subscription_expires_at: datetime | None
    storage_connection_id: int | None

    @property
    def is_dark(self) -> bool:
        """Deactivated or with an expired subscription: nothing of it is served."""
        expires = self.subscription_expires_at
        return not self.is_active or (expires is not None and expires <= timezone.now())

    def uses(self, connection) -> bool:
        if self.storage_connection_id is None:
            return connection.is_default
        return self.storage_connection_id == connection.pk


_OWNER_FIELDS = ("is_active", "subscription_expires_at", "storage_connection_id")


def owner_of(name: str) -> Owner | None:
    """The company of the row that references *name*, in one query on a unique index; None if
    no row does.

    Stored names follow one layout (``Portrait.storage_dir``, ``markers.services``):
    ``<company prefix>/<project slug>/<portrait uuid>/<file>`` for a photo's files (image, preview,
    videos, renditions, posters, markers; an NFT marker's .fset and .fset3 sit beside its .iset)
    and ``<company prefix>/<project slug>/album-<hex>.mind`` for a project's combined marker. The
    portrait's unique id, or the project's slug, finds the candidate row through an index; the
    row must then name the file in one of its file fields.
    """
    from django.db.models import Q

    from content.models import Portrait
    from markers.models import Job, ProjectMarker

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
    else:
        return None
    found = list(rows.order_by()[:1])
    return Owner(*found[0]) if found else None


@require_safe
def media(request, connection_id: int, path: str):
    """Files of the connections streamed through the app: local disk and Yandex Disk.

    Only files that a row references are served, and only while their company is active and
    uses this connection: whatever else lies in a connection's folder (a stray file, or worse,
    if someone pointed a connection at the wrong folder) stays private. S3-compatible connections
    are not served here: their URLs are presigned or public links that browsers fetch from the
    bucket (or its CDN) directly.
    """
    from companies.models import StorageConnection

    name = storage_name(path)
    if name is None or name.rsplit(".", 1)[-1].lower() not in SAFE_TYPES:
        raise Http404
    streamed = [StorageConnection.Provider.LOCAL, StorageConnection.Provider.YANDEX_DISK]
    connection = get_object_or_404(StorageConnection, pk=connection_id, provider__in=streamed)
    owner = owner_of(name)
    if owner is None or owner.is_dark or not owner.uses(connection):
        raise Http404
    try:
        storage = storage_for_connection(connection)
    except UnsafeLocation:
        # A folder saved before it was checked, or LOCAL_STORAGE_ROOTS narrowed since.
        logger.error("storage connection %s: its folder is outside the allowed roots; not serving", connection.pk)
        raise Http404 from None
    return serve_file(request, storage, name)
