"""Which video plays on a portrait at a given instant: a pure function of the videos and time.

Order of precedence:
1. the manually chosen video (``is_active``);
2. a video whose schedule window contains the instant (the earliest in rotation order);
3. the remaining unscheduled videos (the first in rotation order).

Only videos ready to play are considered; windows are half-open ``[start, end)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol


class PlayableVideo(Protocol):
    is_active: bool
    schedule_start: datetime | None
    schedule_end: datetime | None
    rotation_order: int
    pk: int


def _in_window(video: PlayableVideo, moment: datetime) -> bool:
    return (video.schedule_start is None or video.schedule_start <= moment) and (
        video.schedule_end is None or moment < video.schedule_end
    )


def choose_video(videos: Sequence[PlayableVideo], moment: datetime) -> PlayableVideo | None:
    ordered = sorted(videos, key=lambda v: (v.rotation_order, v.pk))
    for video in ordered:
        if video.is_active:
            return video
    windowed = [v for v in ordered if v.schedule_start is not None or v.schedule_end is not None]
    for video in windowed:
        if _in_window(video, moment):
            return video
    unscheduled = [v for v in ordered if v.schedule_start is None and v.schedule_end is None]
    return unscheduled[0] if unscheduled else None
