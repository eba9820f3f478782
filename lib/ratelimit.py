"""A fixed-window rate limiter on the shared cache (Redis in production, files when embedded)."""

from __future__ import annotations

import logging
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)


def _bucket(key: str, window: int) -> str:
    return f"rl:{key}:{int(time.time() // window)}"


def allow(key: str, *, limit: int, window: int = 60) -> bool:
    """Count one hit for *key*; False once *limit* hits were counted in the current window.

    Fails open: if the cache is unreachable (Redis restarting) requests are allowed rather than
    turned into errors, because a limiter must never take the site down with it.
    """
    bucket = _bucket(key, window)
    try:
        if cache.add(bucket, 1, timeout=window + 5):
            return True
        try:
            return cache.incr(bucket) <= limit
        except ValueError:  # expired between add() and incr()
            cache.add(bucket, 1, timeout=window + 5)
            return True
    except Exception:
        logger.warning("rate limiter cache unavailable; allowing %s", key, exc_info=True)
        return True


def hits(key: str, *, window: int = 60) -> int:
    """Hits counted for *key* in the current window (0 if the cache is unreachable)."""
    try:
        return int(cache.get(_bucket(key, window)) or 0)
    except Exception:
        logger.warning("rate limiter cache unavailable", exc_info=True)
        return 0


def first_in_window(key: str, *, window: int) -> bool:
    """True for the first hit of *key*, False for repeats within *window* seconds of it.

    Unlike :func:`allow`'s fixed windows, the window starts at the first hit, so two hits
    straddling a minute boundary are still one. Fails open like :func:`allow`.
    """
    try:
        return bool(cache.add(f"once:{key}", 1, timeout=window))
    except Exception:
        logger.warning("rate limiter cache unavailable; counting %s", key, exc_info=True)
        return True
