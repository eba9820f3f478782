"""Serving stored files: HTTP Range (video seeking, iOS playback), long caching, safe types.
Which files may be served is the caller's decision (``viewer.media``, the viewer's routes).

Names of stored files are random and never reused, so responses are cacheable forever. Content
types come from a whitelist by extension; anything else is a download, so an uploaded file can
never run as HTML or script in the site's origin.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import re
from collections.abc import Iterator
from urllib.parse import unquote

import brotli
from django.core.cache import cache
from django.core.exceptions import SuspiciousFileOperation
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.utils.http import http_date
from django.utils.translation import gettext as _

from lib.storage import StorageUnavailable, content_type_for

logger = logging.getLogger(__name__)

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
