"""Read-side queries over view sessions, shared by the API (and any report that needs them)."""

from __future__ import annotations

from django.db.models import Avg, Count, Q, QuerySet

from viewer.models import ViewSession


def _median(values: QuerySet, field: str, count: int) -> float | None:
    """The median of *field* over *count* non-null rows: the database sorts and hands back only
    the middle one or two values, so this stays cheap on any number of sessions and works the
    same on SQLite (which has no median aggregate) and PostgreSQL."""
    if count == 0:
        return None
    middle = list(values.order_by(field).values_list(field, flat=True)[(count - 1) // 2 : count // 2 + 1])
    return sum(middle) / len(middle)


def view_summary(sessions: QuerySet[ViewSession]) -> dict:
    """How visits went, in at most three queries whatever the number of sessions.

    - ``found_share``: sessions in which the camera found the print / all sessions;
    - ``median_time_to_found_ms``: over the sessions that found it and reported the time;
    - ``play_rate``: sessions in which the video started / all sessions;
    - ``average_watch_seconds``: over the sessions in which the video played.

    Shares and averages are None when there is nothing to divide by.
    """
    # Aliases must not be field names: "found" would turn the filters into aggregates.
    totals = sessions.aggregate(
        n_sessions=Count("id"),
        n_found=Count("id", filter=Q(found=True)),
        n_timed=Count("time_to_found_ms", filter=Q(found=True)),
        n_plays=Count("id", filter=Q(video_played=True)),
        avg_watch=Avg("watch_seconds", filter=Q(video_played=True)),
    )
    n, found, plays = totals["n_sessions"], totals["n_found"], totals["n_plays"]
    found_with_time = sessions.filter(found=True, time_to_found_ms__isnull=False)
    devices = {device: 0 for device in ViewSession.Device.values}
    if n:
        devices.update(sessions.order_by().values_list("device_type").annotate(n=Count("id")))
    average = totals["avg_watch"]
    return {
        "sessions": n,
        "found": found,
        "found_share": round(found / n, 4) if n else None,
        "median_time_to_found_ms": _median(found_with_time, "time_to_found_ms", totals["n_timed"]),
        "plays": plays,
        "play_rate": round(plays / n, 4) if n else None,
        "average_watch_seconds": round(average, 1) if average is not None else None,
        "devices": devices,
    }
