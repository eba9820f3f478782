"""Counting page loads into Portrait.views_count.

Every load is counted exactly once. With VIEWS_FLUSH_SECONDS > 0 (the default, 1 s) each web
process adds loads up in memory and writes them with one UPDATE per portrait per interval, from
a background thread and again when the process exits: a popular photo then costs one write per
second instead of one per visitor, and the page needs no database write at all. A process killed
outright (SIGKILL, power loss) loses at most that interval's counts; view sessions, which the
analytics use, are recorded separately by the beacon. With 0, every load is an UPDATE at once.

A visitor's reloads of one photo count once per VIEW_COUNT_WINDOW_SECONDS: within an interval a
process keeps one entry per visitor, and the writer asks the shared cache, once per visitor,
whether another process or an earlier interval counted them already.
"""

from __future__ import annotations

import atexit
import logging
import threading
from datetime import datetime

from django.conf import settings
from django.db import close_old_connections, connection

from content.models import Portrait
from lib.ratelimit import first_in_window

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_pending: dict[int, list] = {}  # portrait pk -> [loads, last load time, visitor keys]
_flusher: threading.Thread | None = None
_stop: threading.Event | None = None


def _write(counts: dict[int, list]) -> None:
    table = Portrait._meta.db_table
    # Raw SQL: this is the hot path, and building the ORM query costs more than running it.
    with connection.cursor() as cursor:
        for pk, (loads, last) in counts.items():
            cursor.execute(
                f"UPDATE {table} SET views_count = views_count + %s, last_viewed_at = %s WHERE id = %s",  # noqa: S608
                [loads, last, pk],
            )


def _settle(pending: dict[int, list]) -> dict[int, list]:
    """Loads per portrait, each visitor counted once per VIEW_COUNT_WINDOW_SECONDS: the shared
    cache remembers who was counted, across processes. Its round trips happen here, in the
    writer, not while a page is being served."""
    window = settings.VIEW_COUNT_WINDOW_SECONDS
    counts = {}
    for pk, (loads, last, visitors) in pending.items():
        loads += sum(1 for key in visitors if not window or first_in_window(key, window=window))
        if loads:
            counts[pk] = [loads, last]
    return counts


def count(portrait_pk: int, now: datetime, *, visitor: str = "") -> None:
    """Count a load of the portrait's page; with *visitor* (a key naming the client and the
    photo), only if that visitor was not counted within VIEW_COUNT_WINDOW_SECONDS."""
    if settings.VIEWS_FLUSH_SECONDS <= 0:
        counts = _settle({portrait_pk: [0, now, {visitor}] if visitor else [1, now, set()]})
        if counts:
            _write(counts)
        return
    with _lock:
        entry = _pending.setdefault(portrait_pk, [0, now, set()])
        if visitor:
            entry[2].add(visitor)  # a reload within the interval is the same member of the set
        else:
            entry[0] += 1
        entry[1] = max(entry[1], now)
    _ensure_flusher()


def flush() -> int:
    """Write what has been counted so far; returns the number of loads written."""
    with _lock:
        pending = dict(_pending)
        _pending.clear()
    if not pending:
        return 0
    counts = _settle(pending)
    try:
        _write(counts)
    except Exception:
        # Keep the counts for the next attempt rather than losing them to a database hiccup
        # (as plain loads: the visitors have been settled already).
        logger.exception("could not write view counts; will retry")
        with _lock:
            for pk, (loads, last) in counts.items():
                entry = _pending.setdefault(pk, [0, last, set()])
                entry[0] += loads
                entry[1] = max(entry[1], last)
        return 0
    return sum(loads for loads, _last in counts.values())


def _loop(stop: threading.Event) -> None:
    try:
        # The interval is fixed in production. Tests set it back to 0, and then every load is
        # written at once and this thread has nothing left to do: waiting 0 s would spin a CPU.
        while settings.VIEWS_FLUSH_SECONDS > 0 and not stop.wait(settings.VIEWS_FLUSH_SECONDS):
            if _pending:
                # This thread's connection is its own, and no request cycle checks it: after a
                # database restart it would stay broken for good, and counts would pile up in
                # memory until the process exits. Check it as Django does before every request.
                close_old_connections()
            flush()
    finally:
        connection.close()


def _ensure_flusher() -> None:
    global _flusher, _stop
    if _flusher is not None and _flusher.is_alive():
        return
    with _lock:
        if _flusher is not None and _flusher.is_alive():
            return
        _stop = threading.Event()
        _flusher = threading.Thread(target=_loop, args=(_stop,), name="views-counter", daemon=True)
        _flusher.start()
    atexit.register(shutdown)


def shutdown() -> None:
    """Stop the background writer (closing its database connection) and write what is left."""
    global _flusher
    thread, stop = _flusher, _stop
    if stop is not None:
        stop.set()
    if thread is not None and thread is not threading.current_thread():
        thread.join(timeout=10)
    _flusher = None
    flush()
