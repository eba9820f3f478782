"""A per-process micro-cache of rendered viewer pages.

A printed photo's QR code is scanned in bursts (a wedding table, a shop window), and the page is
the same for everyone for a while, so each process keeps the rendered HTML for a few seconds
(VIEWER_PAGE_CACHE_SECONDS, 0 turns it off). Views are still counted on every load served from
it (viewer/views.py: one per visitor and photo per VIEW_COUNT_WINDOW_SECONDS). What
a visitor can see is at most that many seconds stale after a change: a new video, an expiry.

Per process and in memory on purpose: no network round trip, and no invalidation protocol to get
wrong; entries simply age out.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from django.conf import settings

MAX_ENTRIES = 2048


@dataclass(frozen=True)
class CachedPage:
    content: bytes
    status: int
    content_type: str
    portrait_pk: int | None  # set when a load of this page counts as a view
    expires: float
    csp_extra: dict
    permissions_policy: str | None


_lock = threading.Lock()
_pages: OrderedDict[tuple, CachedPage] = OrderedDict()


def get(key: tuple) -> CachedPage | None:
    if settings.VIEWER_PAGE_CACHE_SECONDS <= 0:
        return None
    with _lock:
        page = _pages.get(key)
        if page is None:
            return None
        if page.expires < time.monotonic():
            del _pages[key]
            return None
        _pages.move_to_end(key)
        return page


def put(key: tuple, response, *, portrait_pk: int | None) -> None:
    seconds = settings.VIEWER_PAGE_CACHE_SECONDS
    if seconds <= 0 or response.streaming:
        return
    page = CachedPage(
        response.content,
        response.status_code,
        response["Content-Type"],
        portrait_pk,
        time.monotonic() + seconds,
        getattr(response, "csp_extra", {}),
        getattr(response, "permissions_policy", None),
    )
    with _lock:
        _pages[key] = page
        _pages.move_to_end(key)
        while len(_pages) > MAX_ENTRIES:
            _pages.popitem(last=False)


def clear() -> None:
    with _lock:
        _pages.clear()
