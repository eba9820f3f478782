"""View analytics: the one implementation of every metric the portal, the admin and the API show.

Every selector takes a :class:`Scope` (what: a company, a project, a portrait, or the whole
platform for staff) and a :class:`DateRange` (when: local dates, both inclusive), aggregates in the
database, and returns plain frozen dataclasses (``dataclasses.asdict`` makes them JSON-ready).

Two tables are read and added up: raw :class:`~viewer.models.ViewSession` rows and the
:class:`~viewer.models.ViewSessionDaily` rollups that ``viewer.retention`` makes of old sessions.
The rollup moves a whole local day at a time and deletes what it adds up in the same transaction,
so every session is counted exactly once, and every figure is the same before and after a rollup,
except the median time to found (see :func:`median_time_to_found`).

Definitions
    sessions
        Visits of a viewer page whose browser reported back at least once (the beacon). One row per
        random session id, so these are unique sessions. ``Portrait.views_count`` counts page
        loads, including those that never reported; the two differ.
    found share
        Sessions in which the camera found the photo, over sessions.
    median time to found
        Milliseconds from camera start to the photo being found, over the found sessions that
        reported a time.
    play rate
        Sessions in which the video started, over sessions.
    average watch time
        Seconds of video watched, averaged over the sessions that played it.
    breakdowns
        Sessions per device type, OS and browser family.
    top portraits
        The portraits with the most sessions.
    rarely found
        Portraits with enough sessions and a found share below a threshold: prints the camera
        keeps missing.

Day boundaries are midnights in the site's ``TIME_ZONE`` (the rollup's days are the same ones).
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Literal

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from companies.models import Company, Project
from content.models import Portrait
from lib.dates import local_midnight
from viewer.models import (
    FELL_BACK,
    TIME_TO_FOUND_BUCKETS_MS,
    TIMED,
    TTF_BUCKET_FIELDS,
    VIDEO_ONLY,
    ViewSession,
    ViewSessionDaily,
)

Bucket = Literal["day", "week", "month"]
BUCKETS: tuple[Bucket, ...] = ("day", "week", "month")
BREAKDOWN_FIELDS = ("device_type", "os", "browser")


# --- Inputs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Whose sessions: at most one of company, project and portrait (instances or primary keys).

    ``Scope()`` is the whole platform, for staff. Callers are responsible for tenancy: portal views
    build a scope only from objects fetched through the access helpers.
    """

    company: Company | int | None = None
    project: Project | int | None = None
    portrait: Portrait | int | None = None

    def __post_init__(self):
        if sum(x is not None for x in (self.company, self.project, self.portrait)) > 1:
            raise ValueError("A scope is one company, one project or one portrait.")

    def filter(self, queryset):
        """Restrict a ViewSession or ViewSessionDaily queryset (both have ``in_scope``).

        A project or portrait given as an instance also filters on its company: that lets
        PostgreSQL answer from the covering (company, created_at, …) index alone when the
        project is big, while the planner still picks the narrow project index for small ones.
        """
        company = self.company
        for owned in (self.project, self.portrait):
            company = getattr(owned, "company_id", None) or company
        return queryset.in_scope(company=company, project=self.project, portrait=self.portrait)

    def portraits(self):
        lookups = {"company": self.company, "project": self.project, "pk": getattr(self.portrait, "pk", self.portrait)}
        return Portrait.objects.filter(**{k: v for k, v in lookups.items() if v is not None})


@dataclass(frozen=True)
class DateRange:
    """Local dates, both inclusive."""

    start: date
    end: date

    def __post_init__(self):
        if self.start > self.end:
            raise ValueError("The start date is after the end date.")

    @classmethod
    def last(cls, days: int, *, today: date | None = None) -> DateRange:
        """The *days* days ending today (local)."""
        today = today or timezone.localdate(timezone=timezone.get_default_timezone())
        return cls(today - timedelta(days=days - 1), today)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def bounds(self) -> tuple[datetime, datetime]:
        """[local midnight of start, local midnight after end) as aware datetimes."""
        return local_midnight(self.start), local_midnight(self.end + timedelta(days=1))


# A year and a day: a dashboard's cost grows with the range, so it is bounded (see the benchmark).
MAX_RANGE_DAYS = 366
# Dates outside these are typing mistakes (and past 9999-12-30 a day's end is no datetime at all).
EARLIEST = date(2000, 1, 1)
LATEST = date(2999, 12, 31)


def bounded_range(start: date, end: date) -> DateRange:
    """The range every analytics page and the API accept, or a ValidationError saying what is wrong
    (codes: ``out_of_bounds``, ``reversed``, ``too_long``)."""
    if not (EARLIEST <= start <= LATEST and EARLIEST <= end <= LATEST):
        raise ValidationError(
            _("Choose dates between %(earliest)s and %(latest)s."),
            params={"earliest": EARLIEST.isoformat(), "latest": LATEST.isoformat()},
            code="out_of_bounds",
        )
    if start > end:
        raise ValidationError(_("The start date must not be after the end date."), code="reversed")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise ValidationError(
            _("Choose a range of at most %(max)d days."), params={"max": MAX_RANGE_DAYS}, code="too_long"
        )
    return DateRange(start, end)


# --- Results ------------------------------------------------------------------------------------


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class Totals:
    """Additive counts: raw and rolled-up totals are simply summed."""

    sessions: int = 0
    found: int = 0
    timed: int = 0
    played: int = 0
    watch_seconds: int = 0
    # Sessions that needed the viewer's fallback chain (an engine or variant failed first), and
    # those of them left with the video alone.
    fell_back: int = 0
    video_only: int = 0

    def __add__(self, other: Totals) -> Totals:
        return Totals(*(a + b for a, b in zip(self._values(), other._values(), strict=True)))

    def _values(self):
        return (self.sessions, self.found, self.timed, self.played, self.watch_seconds, self.fell_back, self.video_only)

    @property
    def fallback_share(self) -> float | None:
        """Sessions that needed a fallback / sessions, 0..1; None without sessions."""
        return _share(self.fell_back, self.sessions)

    @property
    def found_share(self) -> float | None:
        """Found sessions / sessions, 0..1; None without sessions."""
        return _share(self.found, self.sessions)

    @property
    def play_rate(self) -> float | None:
        """Sessions that played the video / sessions, 0..1; None without sessions."""
        return _share(self.played, self.sessions)

    @property
    def average_watch_seconds(self) -> float | None:
        """Mean seconds watched over the sessions that played the video; None if none did."""
        return self.watch_seconds / self.played if self.played else None


@dataclass(frozen=True)
class Summary(Totals):
    median_time_to_found_ms: float | None = None
    # False when rolled-up days are in the range: the median is then interpolated (see below).
    median_is_exact: bool = True


@dataclass(frozen=True)
class Slice:
    """One value of a breakdown: e.g. device "mobile", 120 sessions, 0.8 of the total."""

    value: str
    sessions: int
    share: float


@dataclass(frozen=True)
class Breakdowns:
    devices: list[Slice]
    systems: list[Slice]
    browsers: list[Slice]


@dataclass(frozen=True)
class ClientFallbacks:
    """How often the viewer's fallback chain was needed in one browser on one OS."""

    browser: str
    os: str
    totals: Totals


@dataclass(frozen=True)
class TimePoint:
    """One bucket of a time series; ``start`` is its first day (a Monday for weeks, the 1st for months)."""

    start: date
    totals: Totals


@dataclass(frozen=True)
class PortraitTotals:
    portrait_id: int
    unique_id: str
    title: str
    project_id: int
    project_name: str
    project_slug: str
    company_name: str
    totals: Totals


@dataclass(frozen=True)
class CompanyTotals:
    company_id: int
    name: str
    slug: str
    totals: Totals


@dataclass(frozen=True)
class Dashboard:
    scope: Scope
    dates: DateRange
    bucket: Bucket
    summary: Summary
    series: list[TimePoint]
    breakdowns: Breakdowns
    # Empty for a portrait's own dashboard.
    top_portraits: list[PortraitTotals] = field(default_factory=list)
    # Browser/OS pairs whose visits needed a fallback, most such visits first.
    fallbacks: list[ClientFallbacks] = field(default_factory=list)


# --- Aggregation building blocks ---------------------------------------------------------------


def _count(condition: Q | None = None) -> Count:
    # created_at, never null, rather than the primary key: it is in the covering dashboard index
    # (viewsession_company_stats_idx) and the id is not, so PostgreSQL never has to visit the table.
    return Count("created_at", filter=condition)


# The same five numbers from either table: raw rows are counted, rollups summed. (The ``_n``
# suffix keeps the names clear of the rollup's own columns.)
_RAW_TOTALS = {
    "sessions_n": _count(),
    "found_n": _count(Q(found=True)),
    "timed_n": _count(TIMED),
    "played_n": _count(Q(video_played=True)),
    "watch_n": Sum("watch_seconds", filter=Q(video_played=True)),
    "fell_back_n": _count(FELL_BACK),
    "video_only_n": _count(VIDEO_ONLY),
}
_DAILY_TOTALS = {
    "sessions_n": Sum("sessions"),
    "found_n": Sum("found"),
    "timed_n": Sum("timed"),
    "played_n": Sum("played"),
    "watch_n": Sum("watch_seconds"),
    "fell_back_n": Sum("fell_back"),
    "video_only_n": Sum("video_only"),
}


_TOTAL_NAMES = ("sessions_n", "found_n", "timed_n", "played_n", "watch_n", "fell_back_n", "video_only_n")


def _totals(row: dict) -> Totals:
    return Totals(
        sessions=row["sessions_n"] or 0,
        found=row["found_n"] or 0,
        timed=row["timed_n"] or 0,
        played=row["played_n"] or 0,
        watch_seconds=row["watch_n"] or 0,
        fell_back=row.get("fell_back_n") or 0,
        video_only=row.get("video_only_n") or 0,
    )


def _raw(scope: Scope, dates: DateRange):
    return scope.filter(ViewSession.objects.between(*dates.bounds()))


def _daily(scope: Scope, dates: DateRange):
    return scope.filter(ViewSessionDaily.objects.between(dates.start, dates.end))


def _local_day():
    # A cast, not DATE_TRUNC: on PostgreSQL ``(created_at AT TIME ZONE …)::date`` costs about
    # half as much per row, and weeks and months are folded from days in Python anyway.
    return TruncDate("created_at", tzinfo=timezone.get_default_timezone())


def _grouped(scope: Scope, dates: DateRange, keys: list[str], *, histogram=False):
    """``{key values: Totals}`` from both tables added up, plus the rolled-up histogram. Two queries.

    The key "day" is the local day (the rollup's own column). With *histogram*, also
    ``(timed sessions, cumulative ttf_le_* counts)`` over the rolled-up rows.
    """
    # Plain lists while adding up: a dashboard folds thousands of rows.
    merged: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(_TOTAL_NAMES))

    def add(row):
        acc = merged[tuple(row[k] for k in keys)]
        for i, name in enumerate(_TOTAL_NAMES):
            acc[i] += row[name] or 0

    raw = _raw(scope, dates)
    if "day" in keys:
        raw = raw.annotate(day=_local_day())
    for row in raw.values(*keys).annotate(**_RAW_TOTALS).order_by():
        add(row)
    sums = {f: Sum(f) for f in TTF_BUCKET_FIELDS} if histogram else {}
    rolled_timed, rolled_hist = 0, [0] * len(TTF_BUCKET_FIELDS)
    for row in _daily(scope, dates).values(*keys).annotate(**_DAILY_TOTALS, **sums).order_by():
        add(row)
        if histogram:
            rolled_timed += row["timed_n"] or 0
            rolled_hist = [a + (row[f] or 0) for a, f in zip(rolled_hist, TTF_BUCKET_FIELDS, strict=True)]
    return {key: Totals(*values) for key, values in merged.items()}, (rolled_timed, rolled_hist)


# --- Median time to found -----------------------------------------------------------------------


def median_time_to_found(scope: Scope, dates: DateRange) -> tuple[float | None, bool]:
    """(median ms, exact?) over the found sessions that reported a time; (None, True) if none.

    Standalone: two or three queries. :func:`summary` and :func:`dashboard` get it with one
    query on top of their totals, which already hold the counts.
    """
    rolled = _rolled_histogram(scope, dates)
    raw_timed = _raw(scope, dates).filter(TIMED).count()
    return _median(scope, dates, raw_timed=raw_timed, rolled=rolled)


def _rolled_histogram(scope: Scope, dates: DateRange) -> tuple[int, list[int]]:
    row = _daily(scope, dates).aggregate(timed_n=Sum("timed"), **{f: Sum(f) for f in TTF_BUCKET_FIELDS})
    return row["timed_n"] or 0, [row[f] or 0 for f in TTF_BUCKET_FIELDS]


def _median(scope: Scope, dates: DateRange, *, raw_timed: int, rolled: tuple[int, list[int]]):
    """One query at most. Exact on raw data; interpolated in a histogram when rollups are mixed in.

    Exact: SQLite has no ``percentile_cont``, so the portable way is to sort the timed raw rows and
    read the middle one or two with LIMIT/OFFSET (the same answer as ``percentile_cont(0.5)``:
    the mean of the two middle values when their number is even).

    Mixed with rollups: the rolled-up days only kept a histogram, so the raw rows are bucketed
    the same way (one conditional COUNT per bound, in the database), the two histograms added,
    and the median linearly interpolated inside the bucket that holds it. Its error is at most
    that bucket's width (250 ms up to 1 s, growing after); above the last bound (60 s) the bound
    itself is returned.
    """
    rolled_timed, rolled_hist = rolled
    if raw_timed + rolled_timed == 0:
        return None, True
    timed = _raw(scope, dates).filter(TIMED)
    if rolled_timed == 0:
        k = (raw_timed - 1) // 2
        middle = list(timed.order_by("time_to_found_ms").values_list("time_to_found_ms", flat=True)[k : k + 2])
        if not middle:  # rolled up between the two queries: no raw rows left to read
            return None, True
        if raw_timed % 2 or len(middle) == 1:
            return float(middle[0]), True
        return (middle[0] + middle[1]) / 2, True
    bounds = zip(TTF_BUCKET_FIELDS, TIME_TO_FOUND_BUCKETS_MS, strict=True)
    counts = timed.aggregate(**{f: _count(Q(time_to_found_ms__lte=b)) for f, b in bounds})
    cumulative = [counts[f] + rolled_hist[i] for i, f in enumerate(TTF_BUCKET_FIELDS)]
    return interpolate_median(cumulative, raw_timed + rolled_timed), False


def interpolate_median(cumulative: list[int], total: int) -> float:
    """The median of *total* values given cumulative counts at ``TIME_TO_FOUND_BUCKETS_MS``."""
    rank = total / 2
    below, lower = 0, 0
    for count, upper in zip(cumulative, TIME_TO_FOUND_BUCKETS_MS, strict=True):
        if count >= rank and count > below:
            return lower + (rank - below) / (count - below) * (upper - lower)
        below, lower = count, upper
    return float(TIME_TO_FOUND_BUCKETS_MS[-1])


# --- Totals, breakdowns, time series ------------------------------------------------------------


def _by_client(scope: Scope, dates: DateRange):
    """Totals per (device type, OS, browser): enough for the summary and all three breakdowns."""
    return _grouped(scope, dates, list(BREAKDOWN_FIELDS), histogram=True)


def _summary(groups: dict[tuple, Totals], rolled, scope: Scope, dates: DateRange) -> Summary:
    totals = sum(groups.values(), Totals())
    median, exact = _median(scope, dates, raw_timed=totals.timed - rolled[0], rolled=rolled)
    return Summary(*totals._values(), median_time_to_found_ms=median, median_is_exact=exact)


def _breakdowns(groups: dict[tuple, Totals]) -> Breakdowns:
    total = sum(t.sessions for t in groups.values())
    result = []
    for index in range(len(BREAKDOWN_FIELDS)):
        counts: dict[str, int] = defaultdict(int)
        for key, totals in groups.items():
            counts[key[index]] += totals.sessions
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        result.append([Slice(value, n, n / total) for value, n in ordered if n])
    return Breakdowns(*result)


def summary(scope: Scope, dates: DateRange) -> Summary:
    """Sessions, found share, median time to found, play rate, average watch time. Two or three queries."""
    groups, rolled = _by_client(scope, dates)
    return _summary(groups, rolled, scope, dates)


def breakdowns(scope: Scope, dates: DateRange) -> Breakdowns:
    """Sessions per device type, OS and browser, most frequent first. Two queries."""
    return _breakdowns(_by_client(scope, dates)[0])


def summary_and_breakdowns(scope: Scope, dates: DateRange) -> tuple[Summary, Breakdowns]:
    """Both from the same grouped read (what the REST API answers with)."""
    groups, rolled = _by_client(scope, dates)
    return _summary(groups, rolled, scope, dates), _breakdowns(groups)


def bucket_start(day: date, bucket: Bucket) -> date:
    """The first day of the bucket holding *day*: itself, its week's Monday or its month's 1st."""
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {BUCKETS}")
    if bucket == "week":
        return day - timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    return day


def bucket_starts(dates: DateRange, bucket: Bucket) -> list[date]:
    """Every bucket the range touches, in order (the first and last may be partly outside it)."""
    starts, current = [], bucket_start(dates.start, bucket)
    while current <= dates.end:
        starts.append(current)
        if bucket == "day":
            current += timedelta(days=1)
        elif bucket == "week":
            current += timedelta(days=7)
        else:
            current = (current.replace(day=28) + timedelta(days=4)).replace(day=1)
    return starts


def sessions_over_time(scope: Scope, dates: DateRange, *, bucket: Bucket = "day") -> list[TimePoint]:
    """Totals per day, week (from Monday) or month, with empty buckets as zeros. Two queries."""
    groups, _ = _grouped(scope, dates, ["day"])
    return _series({day: totals for (day,), totals in groups.items()}, dates, bucket)


def _fold(groups: dict[tuple, Totals], key) -> dict[tuple, Totals]:
    """Totals added up by ``key(group key)``; lists while adding, as a year by day is thousands of groups."""
    acc: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(_TOTAL_NAMES))
    for group, totals in groups.items():
        values = acc[key(group)]
        for i, value in enumerate(totals._values()):
            values[i] += value
    return {k: Totals(*v) for k, v in acc.items()}


def _series(by_day: dict[date, Totals], dates: DateRange, bucket: Bucket) -> list[TimePoint]:
    """Days folded into buckets (a week's days are added up in Python, not grouped in SQL)."""
    by_bucket: dict[date, Totals] = defaultdict(Totals)
    for day, totals in by_day.items():
        by_bucket[bucket_start(day, bucket)] += totals
    return [TimePoint(start, by_bucket.get(start, Totals())) for start in bucket_starts(dates, bucket)]


# --- Top portraits and companies ----------------------------------------------------------------


def _top(scope: Scope, dates: DateRange, key: str, limit: int) -> list[tuple[int, Totals]]:
    """The *limit* ids of *key* with the most sessions (ties: lower id first). Two queries.

    Without rollups in the range (the usual case) the database sorts and cuts; with them, both
    tables' per-id totals are fetched (one row per id that had sessions) and added up here, since
    a top list of either table alone could miss an id that is high only in their sum.
    """
    daily = list(_daily(scope, dates).values(key).annotate(**_DAILY_TOTALS).order_by())
    raw = _raw(scope, dates).values(key).annotate(**_RAW_TOTALS)
    raw = raw.order_by() if daily else raw.order_by("-sessions_n", key)[:limit]
    merged: dict[int, Totals] = defaultdict(Totals)
    for row in (*raw, *daily):
        merged[row[key]] += _totals(row)
    return sorted(merged.items(), key=lambda kv: (-kv[1].sessions, kv[0]))[:limit]


def top_portraits(scope: Scope, dates: DateRange, *, limit: int = 10) -> list[PortraitTotals]:
    """The portraits with most sessions in the scope, with their titles. Three queries (two if none)."""
    top = _top(scope, dates, "portrait", limit)
    if not top:
        return []
    info = _portrait_info(Portrait.objects.filter(pk__in=[pk for pk, _ in top]))
    return [replace(info[pk], totals=totals) for pk, totals in top if pk in info]


def rarely_found_portraits(
    scope: Scope, dates: DateRange, *, min_sessions: int = 5, below_share: float = 0.5, limit: int = 5
) -> list[PortraitTotals]:
    """Prints that are scanned but seldom found: portraits with at least *min_sessions* sessions
    whose found share is below *below_share*, most sessions first (ties: lower id first).

    A print the camera keeps missing is usually too small, glossy or low in detail; the studio
    wants to know. Three queries (two if none): every portrait's totals in the range, from both
    tables (a rolled-up day counts the same as a raw one), then the flagged portraits' titles.
    """
    groups, _rolled = _grouped(scope, dates, ["portrait"])
    flagged = [
        (pk, totals)
        for (pk,), totals in groups.items()
        if totals.sessions >= min_sessions and totals.found < below_share * totals.sessions
    ]
    flagged = sorted(flagged, key=lambda kv: (-kv[1].sessions, kv[0]))[:limit]
    if not flagged:
        return []
    info = _portrait_info(Portrait.objects.filter(pk__in=[pk for pk, _ in flagged]))
    return [replace(info[pk], totals=totals) for pk, totals in flagged if pk in info]


def _portrait_info(portraits) -> dict[int, PortraitTotals]:
    rows = portraits.order_by().values_list(
        "pk", "unique_id", "title", "project_id", "project__name", "project__slug", "company__name"
    )
    return {row[0]: PortraitTotals(row[0], str(row[1]), *row[2:], totals=Totals()) for row in rows}


def top_companies(dates: DateRange, *, limit: int = 20) -> list[CompanyTotals]:
    """Staff: the companies with most sessions. Three queries (two if none)."""
    top = _top(Scope(), dates, "company", limit)
    if not top:
        return []
    companies = Company.objects.filter(pk__in=[pk for pk, _ in top]).values_list("pk", "name", "slug")
    names = {pk: (name, slug) for pk, name, slug in companies}
    return [CompanyTotals(pk, *names[pk], totals=totals) for pk, totals in top if pk in names]


# --- Everything for one page --------------------------------------------------------------------


def dashboard(scope: Scope, dates: DateRange, *, bucket: Bucket = "day", top: int = 10) -> Dashboard:
    """Summary, time series, breakdowns and (except for a portrait) top portraits.

    Six queries whatever the number of sessions (three for a portrait, which has no top list; one
    less without timed sessions): totals per local day and device/OS/browser (raw and rolled up:
    the summary, the breakdowns and the series all come from these two), the median, and the top
    portraits (3).
    Over a year of a big company each raw query reads the scope's whole range, so they are as
    few as possible: one pass for the totals, one for the median, one for the top list.
    """
    bucket_start(dates.start, bucket)  # an unknown bucket fails before any query
    groups, rolled = _grouped(scope, dates, ["day", *BREAKDOWN_FIELDS], histogram=True)
    by_client = _fold(groups, lambda key: key[1:])
    by_day = {day: totals for (day,), totals in _fold(groups, lambda key: key[:1]).items()}
    return Dashboard(
        scope=scope,
        dates=dates,
        bucket=bucket,
        summary=_summary(by_client, rolled, scope, dates),
        series=_series(by_day, dates, bucket),
        breakdowns=_breakdowns(by_client),
        top_portraits=top_portraits(scope, dates, limit=top) if scope.portrait is None else [],
        fallbacks=_fallbacks(by_client),
    )


def _fallbacks(by_client: dict[tuple, Totals]) -> list[ClientFallbacks]:
    """Browser/OS pairs with visits that needed a fallback, from the totals per device/OS/browser
    the dashboard has already read (no query of its own)."""
    pairs = _fold(by_client, lambda key: (key[2], key[1]))
    rows = [ClientFallbacks(browser, os, totals) for (browser, os), totals in pairs.items() if totals.fell_back]
    return sorted(rows, key=lambda r: (-r.totals.fell_back, -r.totals.sessions, r.browser, r.os))


# --- Export -------------------------------------------------------------------------------------


def portrait_rows(scope: Scope, dates: DateRange, *, bucket: Bucket = "day") -> Iterator[tuple[date, PortraitTotals]]:
    """Totals per bucket per portrait with sessions, ordered by bucket then portrait id: for exports.

    A generator: three queries when iterated, the two big ones streamed (``iterator()``) and
    merged on the fly, so memory stays flat however long the export.
    """
    info = _portrait_info(scope.portraits())
    bucket_start(dates.start, bucket)  # an unknown bucket fails before any query
    keys = ("day", "portrait")
    raw = _raw(scope, dates).annotate(day=_local_day()).values(*keys).annotate(**_RAW_TOTALS).order_by(*keys)
    daily = _daily(scope, dates).values(*keys).annotate(**_DAILY_TOTALS).order_by(*keys)

    def keyed(rows: Iterable[dict]):
        for row in rows:
            yield row["day"], row["portrait"], _totals(row)

    # Days arrive in order; a bucket's portraits are added up until the next bucket starts, then
    # written out by portrait id (so memory holds at most one bucket's portraits).
    current, acc = None, defaultdict(Totals)
    streams = (keyed(raw.iterator(chunk_size=2000)), keyed(daily.iterator(chunk_size=2000)))
    for day, portrait, totals in heapq.merge(*streams, key=lambda row: row[:2]):
        start = bucket_start(day, bucket)
        if start != current:
            yield from _flush(current, acc, info)
            current, acc = start, defaultdict(Totals)
        acc[portrait] += totals
    yield from _flush(current, acc, info)


def _flush(start, acc: dict[int, Totals], info: dict[int, PortraitTotals]):
    for portrait in sorted(acc):
        if portrait in info:
            yield start, replace(info[portrait], totals=acc[portrait])
