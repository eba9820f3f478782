"""Which video plays on a portrait at a given instant: a pure function of the videos, the
rotation rule and the instant. No database, no "current index" state.

Precedence, first match wins:

1. the manually chosen video (``is_active``);
2. a video whose schedule window contains the instant (windows may repeat every year — a
   birthday); the earliest in rotation order;
3. an unlocked date-locked video (a surprise that unlocks on an anniversary and then stays):
   the most recently unlocked one;
4. the rotation among the remaining videos (no window, no lock):
   * ``none``: the first in rotation order;
   * ``sequential``: advance one video per boundary, then stay on the last;
   * ``cyclic``: advance one video per boundary, and start over after the last.

Locked videos (unlock time not reached) never play. Windows are half-open ``[start, end)``.

Rotation boundaries are wall-clock times in the company's time zone (every day at 09:00, every
Monday, every 1st of the month, or the fire times of a cron expression), so they follow daylight
saving time changes. The rule counts boundaries since its ``anchor``; a daily job moves the anchor
forward (``rebase``) so counting stays short whatever the rule's age.

A cron rule may stop firing (a year field: ``0 * * 1 * 0 2026`` is January 2026 only) or, saved
before rules were checked, never fire at all (``0 0 31 2 *``). Past its last boundary a rule has
nothing left to count, so the rotation stays on the video it had reached.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Protocol
from zoneinfo import ZoneInfo

from croniter import CroniterError, croniter

UTC = ZoneInfo("UTC")
KINDS = ("none", "sequential", "cyclic")
EVERY = ("day", "week", "month", "cron")
# Rotating faster than this is a mistake for a printed photo (and would make counting costly).
MIN_CRON_INTERVAL = timedelta(minutes=15)
# A new rule must fire within this long: one that would not (31 February, a year gone by) would
# never rotate anything, which the editor should hear about rather than save.
MAX_FIRST_FIRE = timedelta(days=366)
# What croniter raises for rules it cannot iterate (no next date, malformed fields), besides its own.
_CRON_ERRORS = (CroniterError, ValueError, KeyError, OverflowError)


class PlayableVideo(Protocol):
    pk: int
    is_active: bool
    schedule_start: datetime | None
    schedule_end: datetime | None
    schedule_repeats_yearly: bool
    unlock_at: datetime | None
    rotation_order: int


@dataclass(frozen=True)
class RotationRule:
    kind: str = "none"
    every: str = "day"
    at: time = time(0, 0)
    weekday: int = 0  # Monday = 0, for every == "week"
    monthday: int = 1  # clamped to the month's length, for every == "month"
    cron: str = ""
    tz: ZoneInfo = UTC
    anchor: datetime | None = None  # index `base_index` plays from here
    base_index: int = 0


def gettext_noop(message: str) -> str:
    """Marks a message for translation without importing Django (callers translate it)."""
    return message


def validate_cron(expression: str, *, now: datetime | None = None) -> str | None:
    """None if usable from *now* on, else the problem in plain words."""
    if not croniter.is_valid(expression):
        return gettext_noop("is not a valid cron expression (five fields: minute hour day month weekday)")
    now = now or datetime.now(UTC)
    fires = []
    try:
        it = croniter(expression, now)
        for _ in range(50):
            fires.append(it.get_next(datetime))
    except _CRON_ERRORS:
        pass  # it stops firing (a year field): what it still fires is checked below
    if not fires or fires[0] - now > MAX_FIRST_FIRE:
        return gettext_noop(
            "does not fire in the coming year (an impossible date such as 31 February, or a year that has passed)"
        )
    if any(b - a < MIN_CRON_INTERVAL for a, b in pairwise(fires)):
        return gettext_noop("fires more often than every 15 minutes")
    return None


def _local(d: date, at: time, tz: ZoneInfo) -> datetime:
    """The instant of wall time *at* on *d* in *tz* (the earlier one when clocks go back)."""
    return datetime.combine(d, at, tzinfo=tz)


def _boundaries_after(rule: RotationRule, start: datetime) -> Iterator[datetime]:
    """Boundary instants strictly after *start*, in order."""
    if rule.every == "cron":
        try:
            it = croniter(rule.cron, start.astimezone(rule.tz))
            while True:
                yield it.get_next(datetime)
        except _CRON_ERRORS:
            return  # no next boundary: the rotation stays where it is
    day = start.astimezone(rule.tz).date()
    while True:
        if rule.every == "day":
            candidate = _local(day, rule.at, rule.tz)
            day += timedelta(days=1)
        elif rule.every == "week":
            day += timedelta(days=(rule.weekday - day.weekday()) % 7)
            candidate = _local(day, rule.at, rule.tz)
            day += timedelta(days=7)
        else:
            monthday = min(rule.monthday, calendar.monthrange(day.year, day.month)[1])
            this_month = day.replace(day=monthday)
            if this_month < day:
                year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
                day = date(year, month, 1)
                continue
            candidate = _local(this_month, rule.at, rule.tz)
            year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
            day = date(year, month, 1)
        if candidate > start:
            yield candidate


def boundaries_between(rule: RotationRule, start: datetime, end: datetime, *, limit: int | None = None) -> int:
    """How many boundaries fall in ``(start, end]`` (stopping early at *limit*)."""
    count = 0
    for boundary in _boundaries_after(rule, start):
        if boundary > end or (limit is not None and count >= limit):
            break
        count += 1
    return count


def rotation_index(rule: RotationRule, count: int, moment: datetime) -> int | None:
    """Index into *count* rotation members playing at *moment*."""
    if count == 0:
        return None
    if rule.kind == "none" or rule.anchor is None:
        return 0
    if moment < rule.anchor:
        return rule.base_index % count if rule.kind == "cyclic" else min(rule.base_index, count - 1)
    if rule.kind == "sequential":
        steps = boundaries_between(rule, rule.anchor, moment, limit=max(count - 1 - rule.base_index, 0))
        return min(rule.base_index + steps, count - 1)
    return (rule.base_index + boundaries_between(rule, rule.anchor, moment)) % count


def rebase(rule: RotationRule, moment: datetime) -> RotationRule:
    """The same rule with its anchor moved to the last boundary before *moment*.

    Plays exactly the same videos at every instant after *moment*; it only keeps
    :func:`boundaries_between` short. (Sequential rules are rebased with their capped index.)
    """
    if rule.kind == "none" or rule.anchor is None or moment <= rule.anchor:
        return rule
    last, steps = rule.anchor, 0
    for boundary in _boundaries_after(rule, rule.anchor):
        if boundary > moment:
            break
        last, steps = boundary, steps + 1
    return replace(rule, anchor=last, base_index=rule.base_index + steps)


def _in_window(video: PlayableVideo, moment: datetime, tz: ZoneInfo) -> bool:
    start, end = video.schedule_start, video.schedule_end
    if start is None and end is None:
        return False
    if video.schedule_repeats_yearly and start is not None and end is not None:
        # Shift the window to the year of *moment* (and the one before, for windows spanning
        # New Year); 29 February falls back to 28 in common years.
        local = moment.astimezone(tz)
        for year in (local.year, local.year - 1):
            shifted_start = _same_wall_time_in_year(start, year, tz)
            shifted_end = shifted_start + (end - start)
            if shifted_start <= moment < shifted_end:
                return True
        return False
    return (start is None or start <= moment) and (end is None or moment < end)


def _same_wall_time_in_year(instant: datetime, year: int, tz: ZoneInfo) -> datetime:
    local = instant.astimezone(tz)
    day = min(local.day, calendar.monthrange(year, local.month)[1])
    return local.replace(year=year, day=day, tzinfo=tz)


def _unlocked(video: PlayableVideo, moment: datetime) -> bool:
    return video.unlock_at is None or video.unlock_at <= moment


def choose_video(
    videos: Sequence[PlayableVideo], moment: datetime, rule: RotationRule | None = None
) -> PlayableVideo | None:
    rule = rule or RotationRule()
    ordered = sorted((v for v in videos if _unlocked(v, moment)), key=lambda v: (v.rotation_order, v.pk))
    for video in ordered:
        if video.is_active:
            return video
    for video in ordered:
        if _in_window(video, moment, rule.tz):
            return video
    unlocked = [v for v in ordered if v.unlock_at is not None]
    if unlocked:
        return max(unlocked, key=lambda v: (v.unlock_at, -v.rotation_order))
    members = [v for v in ordered if v.schedule_start is None and v.schedule_end is None]
    index = rotation_index(rule, len(members), moment)
    return None if index is None else members[index]
