"""A small hand-made set of view sessions whose every metric is worked out by hand below.

Company A (Alpha), range 2026-03-01 … 2026-03-10 (UTC):

    id   day     photo  device   OS       browser  found  ms     played  watched
    s1   03-02   pa1    mobile   iOS      Safari   yes    1000   yes     20
    s1b  03-02   pa1    mobile   iOS      Safari   no     —      no      0
    s2   03-02   pa1    mobile   Android  Chrome   yes    3000   no      0
    s3   03-02   pa2    desktop  Windows  Chrome   no     —      no      0
    s4   03-03   pa1    tablet   iOS      Safari   yes    2000   yes     10
    s5   03-03   pa3    mobile   iOS      Safari   yes    500    yes     30
    s6   03-09   pa2    mobile   Android  Chrome   yes    4000   no      0
  outside the range: s7 (02-28, pa1) and s8 (03-11, pa1); company B: sb1 (03-02, found in 100 ms).

pa1 and pa2 are in project "Weddings", pa3 in "Birthdays".

    company A: 7 sessions, 5 found, 3 played, 60 s watched → found 5/7, play 3/7, watch 20 s;
               times 500 1000 2000 3000 4000 → median 2000; devices mobile 5, tablet 1, desktop 1;
               OS iOS 4, Android 2, Windows 1; browsers Safari 4, Chrome 3; top pa1 4, pa2 2, pa3 1.
    Weddings:  6 sessions (no s5) → times 1000 2000 3000 4000 → median 2500.
    pa1:       4 sessions, 3 found → times 1000 2000 3000 → median 2000.
    platform:  8 sessions (with sb1) → times 100 500 1000 2000 3000 4000 → median 1500.

Rolling up with "now" 2026-03-12 and 8 days kept moves every day before 03-04: s7, s1, s1b, s2,
s3, sb1, s4 and s5 (8 sessions, 3 days, 7 daily rows: s1 and s1b share one).
"""

import uuid
from datetime import UTC, date, datetime
from types import SimpleNamespace

from analytics.selectors import DateRange
from companies.models import Project
from viewer.models import ViewSession

RANGE = DateRange(date(2026, 3, 1), date(2026, 3, 10))
NOW = datetime(2026, 3, 12, 12, 0, tzinfo=UTC)


def visit(portrait, when, device="mobile", os="iOS", browser="Safari", ttf=None, watch=None, **extra):
    """One session; ``ttf`` (ms) makes it found, ``watch`` (s) makes it play the video."""
    return ViewSession.objects.create(
        session_id=uuid.uuid4(),
        company_id=portrait.company_id,
        project_id=portrait.project_id,
        portrait=portrait,
        created_at=when,
        device_type=device,
        os=os,
        browser=browser,
        found=ttf is not None or extra.pop("found", False),
        time_to_found_ms=ttf,
        video_played=watch is not None,
        watch_seconds=watch or 0,
        **extra,
    )


def at(day: int, hour: int = 12, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


def build(tenants, make_portrait) -> SimpleNamespace:
    birthdays = Project.objects.create(company=tenants.a, name="Birthdays", slug="birthdays")
    ns = SimpleNamespace(tenants=tenants, weddings=tenants.project_a, birthdays=birthdays)
    ns.pa1 = make_portrait(tenants.project_a, title="Anna & Boris")
    ns.pa2 = make_portrait(tenants.project_a, title="Clara")
    ns.pa3 = make_portrait(birthdays, title="Dima")
    ns.pb1 = make_portrait(tenants.project_b, title="Other company")
    visit(ns.pa1, at(2), ttf=1000, watch=20)  # s1
    visit(ns.pa1, at(2, 13))  # s1b
    visit(ns.pa1, at(2, 14), os="Android", browser="Chrome", ttf=3000)  # s2
    visit(ns.pa2, at(2, 15), device="desktop", os="Windows", browser="Chrome")  # s3
    visit(ns.pa1, at(3), device="tablet", ttf=2000, watch=10)  # s4
    visit(ns.pa3, at(3, 18), ttf=500, watch=30)  # s5
    visit(ns.pa2, at(9), os="Android", browser="Chrome", ttf=4000)  # s6
    visit(ns.pa1, at(28, month=2), ttf=9000, watch=99)  # s7, before the range
    visit(ns.pa1, at(11), ttf=9000, watch=99)  # s8, after the range
    visit(ns.pb1, at(2), ttf=100, watch=100)  # sb1, company B
    return ns
