"""A fixed-window rate limiter on the shared cache (Redis in production, files when embedded)."""

from __future__ import annotations

import time

from django.core.cache import cache


def allow(key: str, *, limit: int, window: int = 60) -> bool:
    """Count one hit for *key*; False once *limit* hits were counted in the current window."""
    bucket = f"rl:{key}:{int(time.time() // window)}"
    if cache.add(bucket, 1, timeout=window + 5):
        return True
    try:
        return cache.incr(bucket) <= limit
    except ValueError:  # expired between add() and incr()
        cache.add(bucket, 1, timeout=window + 5)
        return True
