"""The compact marker (``.arvm``) the ``arv`` viewer engine reads, stored next to every ``.mind``.

It is a pure function of the ``.mind`` (``markers.mindar.compact_from_mind``, ~0.1 s), so it is
written wherever a ``.mind`` is written — a compiled or reused photo marker, an album's merged
marker — with the same stem, and counted in the same row's ``output_bytes``. The row's
``compact_version`` says it exists (and in which format); rows made before it existed get it from
``manage.py backfill_compact_markers`` (markers/backfill.py).

No Django models here: markers/models.py imports :func:`compact_name`.
"""

from __future__ import annotations

import logging

from django.core.files.base import ContentFile

from arv.storage import StorageUnavailable

logger = logging.getLogger(__name__)


def compact_name(mind_name: str) -> str:
    """``…/mindar-<hex>.mind`` → ``…/mindar-<hex>.arvm``."""
    return f"{mind_name.rsplit('.', 1)[0]}.arvm"


def current_version() -> int:
    from markers.mindar.compact import FORMAT_VERSION

    return FORMAT_VERSION


def write_compact(storage, mind_name: str, mind_data: bytes) -> int:
    """Derive the .arvm from the .mind's bytes and store it next to it; returns its size.

    The name must be exactly ``compact_name(mind_name)`` (the viewer finds it by the .mind's stem):
    a storage that picks another name because the file exists gets its copy deleted and a
    StorageUnavailable, so the caller retries (the backfill clears stale files first)."""
    from markers.mindar.compact import compact_from_mind

    data = compact_from_mind(mind_data)
    name = compact_name(mind_name)
    try:
        saved = storage.save(name, ContentFile(data))
        size = storage.size(saved)
    except Exception as exc:
        raise StorageUnavailable(f"{type(exc).__name__}: {exc}") from exc
    if saved != name:
        _delete_quietly(storage, saved)
        raise StorageUnavailable(f"the storage saved {name} as {saved}")
    return size


def write_marker_files(storage, mind_name: str, mind_data: bytes) -> int:
    """Store a .mind and its .arvm; both or neither. Returns their total size."""
    try:
        saved = storage.save(mind_name, ContentFile(mind_data))
        size = storage.size(saved)
    except Exception as exc:
        raise StorageUnavailable(f"{type(exc).__name__}: {exc}") from exc
    try:
        return size + write_compact(storage, mind_name, mind_data)
    except BaseException:
        _delete_quietly(storage, mind_name)
        raise


def _delete_quietly(storage, name: str) -> None:
    try:
        storage.delete(name)
    except Exception:
        logger.exception("could not delete %s", name)
