"""The compact marker (``.arvm``) the ``arv`` viewer engine reads, stored next to every ``.mind``.

It is a pure function of the ``.mind`` (``markers.mindar.compact_from_mind``, ~0.1 s), so it is
written wherever a ``.mind`` is written — a compiled or reused photo marker, an album's merged
marker — with the same stem, and counted in the same row's ``output_bytes``. The row's
``compact_version`` says it exists (and in which format); rows made before it existed get it from
``manage.py backfill_compact_markers`` (markers/backfill.py).

No Django models here: markers/models.py imports :func:`compact_name`.
"""

from __future__ import annotations

from django.core.files.base import ContentFile

from lib.storage import delete_quietly, write_new
from markers.mindar.compact import FORMAT_VERSION, compact_from_mind


def compact_name(mind_name: str) -> str:
    """``…/mindar-<hex>.mind`` → ``…/mindar-<hex>.arvm``."""
    return f"{mind_name.rsplit('.', 1)[0]}.arvm"


def current_version() -> int:
    return FORMAT_VERSION


def write_compact(storage, mind_name: str, mind_data: bytes) -> int:
    """Derive the .arvm from the .mind's bytes and store it next to it; returns its size.

    The name must be exactly ``compact_name(mind_name)`` (the viewer finds it by the .mind's stem):
    ``write_new`` refuses a storage that picked another name, so the caller retries (the backfill
    clears stale files first)."""
    return write_new(storage, compact_name(mind_name), ContentFile(compact_from_mind(mind_data)))


def write_marker_files(storage, mind_name: str, mind_data: bytes) -> int:
    """Store a .mind and its .arvm; both or neither. Returns their total size."""
    size = write_new(storage, mind_name, ContentFile(mind_data))
    try:
        return size + write_compact(storage, mind_name, mind_data)
    except BaseException:
        delete_quietly(storage, [mind_name], why="(its .arvm could not be written)")
        raise
