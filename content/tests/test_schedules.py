"""Which video plays when: a table of instants against the pure rules (content/schedules.py)."""

from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from content.schedules import RotationRule, boundaries_between, choose_video, rebase, rotation_index, validate_cron

BERLIN = ZoneInfo("Europe/Berlin")
T = datetime(2026, 12, 24, 12, 0, tzinfo=UTC)


@dataclass
class V:
    pk: int
    is_active: bool = False
    schedule_start: datetime | None = None
    schedule_end: datetime | None = None
    schedule_repeats_yearly: bool = False
    unlock_at: datetime | None = None
    rotation_order: int = 0


def berlin(*args) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


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


def test_a_yearly_window_plays_every_year_in_local_time():
    birthday = V(
        2,
        schedule_start=berlin(2025, 3, 14, 0, 0),
        schedule_end=berlin(2025, 3, 15, 0, 0),
        schedule_repeats_yearly=True,
    )
    videos = [V(1), birthday]
    rule = RotationRule(tz=BERLIN)
    assert choose_video(videos, berlin(2027, 3, 14, 0, 0), rule).pk == 2
    assert choose_video(videos, berlin(2027, 3, 14, 23, 59), rule).pk == 2
    assert choose_video(videos, berlin(2027, 3, 15, 0, 0), rule).pk == 1
    assert choose_video(videos, berlin(2027, 3, 13, 23, 59), rule).pk == 1
    new_year = V(
        3, schedule_start=berlin(2025, 12, 31, 18), schedule_end=berlin(2026, 1, 1, 6), schedule_repeats_yearly=True
    )
    assert choose_video([V(1), new_year], berlin(2031, 1, 1, 2), rule).pk == 3
    leap = V(4, schedule_start=berlin(2024, 2, 29), schedule_end=berlin(2024, 3, 1), schedule_repeats_yearly=True)
    assert choose_video([V(1), leap], berlin(2027, 2, 28, 12), rule).pk == 4


def test_date_locked_videos_never_play_early_and_then_take_over():
    anniversary = V(2, unlock_at=berlin(2027, 6, 1, 0, 0))
    later = V(3, unlock_at=berlin(2028, 6, 1, 0, 0))
    videos = [V(1), anniversary, later]
    assert choose_video(videos, berlin(2027, 5, 31, 23, 59)).pk == 1
    assert choose_video(videos, berlin(2027, 6, 1, 0, 0)).pk == 2
    assert choose_video(videos, berlin(2029, 1, 1)).pk == 3
    # Even the manual choice cannot play a locked video.
    assert choose_video([V(1), V(2, is_active=True, unlock_at=berlin(2027, 6, 1))], berlin(2027, 1, 1)).pk == 1


DAILY_9 = RotationRule(kind="cyclic", every="day", at=time(9, 0), tz=BERLIN, anchor=berlin(2026, 3, 27, 12, 0))

# Europe/Berlin springs forward on 29 March 2026 (02:00 → 03:00) and falls back on 25 October.
ROTATION_TABLE = [
    # (rule, instant, index among 3 members)
    (DAILY_9, berlin(2026, 3, 27, 12, 0), 0),
    (DAILY_9, berlin(2026, 3, 28, 8, 59), 0),
    (DAILY_9, berlin(2026, 3, 28, 9, 0), 1),
    (DAILY_9, berlin(2026, 3, 29, 8, 59), 1),  # DST day: 08:59 CEST, still yesterday's video
    (DAILY_9, berlin(2026, 3, 29, 9, 0), 2),  # ...and 09:00 CEST switches, not 09:00 CET
    (DAILY_9, datetime(2026, 3, 29, 7, 30, tzinfo=UTC), 2),  # 09:30 local
    (DAILY_9, berlin(2026, 3, 30, 9, 0), 0),  # cyclic: back to the first
    (DAILY_9, berlin(2026, 10, 25, 8, 59), 211 % 3),  # 211 boundaries (28 Mar - 24 Oct), autumn change day
    (
        RotationRule(kind="sequential", every="day", at=time(9, 0), tz=BERLIN, anchor=berlin(2026, 3, 27, 12)),
        berlin(2026, 4, 30),
        2,
    ),
    (RotationRule(kind="none", tz=BERLIN, anchor=berlin(2026, 3, 27)), berlin(2026, 4, 30), 0),
    (
        RotationRule(kind="cyclic", every="week", weekday=0, at=time(0, 0), tz=BERLIN, anchor=berlin(2026, 3, 25)),
        berlin(2026, 3, 29, 23, 59),
        0,
    ),
    (
        RotationRule(kind="cyclic", every="week", weekday=0, at=time(0, 0), tz=BERLIN, anchor=berlin(2026, 3, 25)),
        berlin(2026, 3, 30, 0, 0),
        1,
    ),
    (
        RotationRule(kind="cyclic", every="month", monthday=31, at=time(0, 0), tz=BERLIN, anchor=berlin(2026, 1, 15)),
        berlin(2026, 2, 28, 0, 0),
        2,
    ),
    (
        RotationRule(kind="cyclic", every="cron", cron="0 18 * * 5", tz=BERLIN, anchor=berlin(2026, 3, 23)),
        berlin(2026, 3, 27, 18, 0),
        1,
    ),
    (
        RotationRule(kind="cyclic", every="cron", cron="0 18 * * 5", tz=BERLIN, anchor=berlin(2026, 3, 23)),
        berlin(2026, 4, 3, 17, 59),
        1,
    ),
    (
        RotationRule(kind="cyclic", every="cron", cron="0 18 * * 5", tz=BERLIN, anchor=berlin(2026, 3, 23)),
        berlin(2026, 4, 3, 18, 0),
        2,
    ),
]


@pytest.mark.parametrize(("rule", "instant", "expected"), ROTATION_TABLE)
def test_rotation_table(rule, instant, expected):
    assert rotation_index(rule, 3, instant) == expected
    members = [V(10), V(11, rotation_order=1), V(12, rotation_order=2)]
    assert choose_video(members, instant, rule).pk == 10 + expected


def test_the_autumn_change_day_counts_one_boundary():
    # 25 October 2026: 09:00 local happens once even though the day has 25 hours.
    assert boundaries_between(DAILY_9, berlin(2026, 10, 24, 12), berlin(2026, 10, 25, 12)) == 1
    assert boundaries_between(DAILY_9, berlin(2026, 3, 28, 12), berlin(2026, 3, 29, 12)) == 1


def test_only_rotation_members_rotate():
    # A windowed video and a locked one stay out of the rotation.
    videos = [
        V(1),
        V(2, rotation_order=1, schedule_start=berlin(2030, 1, 1)),
        V(3, rotation_order=2, unlock_at=berlin(2030, 1, 1)),
        V(4, rotation_order=3),
    ]
    assert choose_video(videos, berlin(2026, 3, 28, 9, 0), DAILY_9).pk == 4
    assert choose_video(videos, berlin(2026, 3, 29, 9, 0), DAILY_9).pk == 1


@pytest.mark.parametrize("kind", ["cyclic", "sequential"])
@pytest.mark.parametrize("every", ["day", "week", "month", "cron"])
def test_rebasing_never_changes_what_plays(kind, every):
    rule = RotationRule(
        kind=kind,
        every=every,
        at=time(9, 30),
        weekday=2,
        monthday=30,
        cron="15 */6 * * *",
        tz=BERLIN,
        anchor=berlin(2026, 1, 31, 10),
    )
    rebased = rebase(rule, berlin(2026, 7, 1, 12))
    assert rebased.anchor > rule.anchor
    instant = berlin(2026, 7, 1, 12)
    while instant < berlin(2026, 12, 31):
        assert rotation_index(rebased, 4, instant) == rotation_index(rule, 4, instant), instant
        instant += timedelta(days=3, hours=5, minutes=17)


def test_cron_validation():
    assert validate_cron("0 9 * * 1-5") is None
    assert "is not a valid cron expression" in validate_cron("every day at nine")
    assert "more often than every 15 minutes" in validate_cron("*/5 * * * *")


def test_cron_rules_are_checked_from_now_not_from_a_fixed_date():
    """The review's rule: January 2026 only. It validated in 2026 against a fixed 1 January 2026."""
    january_2026 = "0 * * 1 * 0 2026"
    assert validate_cron(january_2026, now=datetime(2025, 12, 20, tzinfo=UTC)) is None
    assert validate_cron(january_2026, now=datetime(2026, 1, 20, tzinfo=UTC)) is None  # still fires this month
    late = validate_cron(january_2026, now=datetime(2026, 2, 1, tzinfo=UTC))
    assert late.startswith("does not fire in the coming year")
    assert validate_cron(january_2026).startswith("does not fire in the coming year")  # today is later still


@pytest.mark.parametrize(
    "expression",
    ["0 0 31 2 *", "0 0 30 2 *", "0 0 31 4 *", "0 0 1 1 * 0 2020", "0 0 1 1 * 0 2099"],
)
def test_rules_that_never_fire_in_the_coming_year_are_refused_not_crashed_on(expression):
    problem = validate_cron(expression, now=datetime(2026, 12, 3, tzinfo=UTC))
    assert problem == (
        "does not fire in the coming year (an impossible date such as 31 February, or a year that has passed)"
    )


def test_a_rule_that_fires_once_more_is_fine():
    assert validate_cron("0 9 25 12 *", now=datetime(2026, 12, 3, tzinfo=UTC)) is None
    assert validate_cron("0 12 1 1 * 0 2027", now=datetime(2026, 12, 3, tzinfo=UTC)) is None


JANUARY_2026_HOURLY = RotationRule(
    kind="cyclic", every="cron", cron="0 * * 1 * 0 2026", tz=UTC, anchor=datetime(2026, 1, 31, 21, 30, tzinfo=UTC)
)


@pytest.mark.parametrize("kind", ["cyclic", "sequential"])
def test_past_its_last_boundary_a_rule_stays_on_its_video(kind):
    rule = replace(JANUARY_2026_HOURLY, kind=kind)
    # Boundaries at 22:00 and 23:00 on 31 January 2026, then none ever again.
    assert boundaries_between(rule, rule.anchor, datetime(2026, 12, 3, tzinfo=UTC)) == 2
    assert rotation_index(rule, 5, datetime(2026, 12, 3, tzinfo=UTC)) == 2
    assert rotation_index(rule, 5, datetime(2030, 1, 1, tzinfo=UTC)) == 2
    rebased = rebase(rule, datetime(2026, 12, 3, tzinfo=UTC))
    assert rebased.anchor == datetime(2026, 1, 31, 23, 0, tzinfo=UTC) and rebased.base_index == 2
    assert rebase(rebased, datetime(2027, 6, 1, tzinfo=UTC)) == rebased


@pytest.mark.parametrize("cron", ["0 0 31 2 *", "not a cron at all", "0 0 1 1 * 0 2020", "99 99 * * *"])
def test_a_stored_rule_that_never_fires_plays_the_anchor_video(cron):
    """Rules saved before they were checked (or edited in the database) never break the page."""
    rule = RotationRule(kind="cyclic", every="cron", cron=cron, tz=BERLIN, anchor=berlin(2026, 3, 1), base_index=1)
    members = [V(10), V(11, rotation_order=1), V(12, rotation_order=2)]
    assert choose_video(members, berlin(2026, 12, 3), rule).pk == 11
    assert rebase(rule, berlin(2026, 12, 3)) == rule
