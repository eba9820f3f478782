from dataclasses import dataclass
from datetime import UTC, datetime

from content.schedules import choose_video

T = datetime(2026, 12, 24, 12, 0, tzinfo=UTC)


@dataclass
class V:
    pk: int
    is_active: bool = False
    schedule_start: datetime | None = None
    schedule_end: datetime | None = None
    rotation_order: int = 0


def test_the_manual_choice_wins():
    videos = [V(1, rotation_order=0), V(2, is_active=True, rotation_order=1), V(3, schedule_start=T.replace(hour=0))]
    assert choose_video(videos, T).pk == 2


def test_a_window_containing_now_beats_unscheduled_videos():
    videos = [V(1), V(2, schedule_start=T.replace(hour=11), schedule_end=T.replace(hour=13))]
    assert choose_video(videos, T).pk == 2
    assert choose_video(videos, T.replace(hour=13)).pk == 1  # windows are half-open
    assert choose_video(videos, T.replace(hour=11)).pk == 2


def test_open_ended_windows_and_order():
    videos = [V(1, schedule_start=T.replace(hour=13)), V(2, rotation_order=2), V(3, rotation_order=1)]
    assert choose_video(videos, T).pk == 3
    assert choose_video(videos, T.replace(hour=14)).pk == 1


def test_nothing_to_play():
    assert choose_video([], T) is None
    assert choose_video([V(1, schedule_end=T.replace(hour=1))], T) is None
