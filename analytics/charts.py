"""Chart geometry for server-drawn inline SVG: no JavaScript, no chart library, nothing fetched.

Only the shapes live in the SVG, which stretches to the width of the page
(``preserveAspectRatio="none"``, strokes that do not scale); every word and number is HTML next to
it, so labels stay readable on a phone at any width. Templates render the markup
(``analytics/_time_chart.html``), so every label goes through autoescaping.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from analytics.selectors import Bucket, TimePoint

# Above this many points, bars would be thinner than a pixel on a phone: draw a line instead.
MAX_BARS = 62
STEP = 10  # viewBox units per point
HEIGHT = 100
TOP_MARGIN = 4


@dataclass(frozen=True)
class Mark:
    x: float
    y: float
    width: float
    height: float
    label: str  # the bucket, e.g. "Mar 2, 2026" or "week of Mar 2, 2026"
    value: int
    title: str  # "<label>: <n> sessions", the tooltip and the data table's row


@dataclass(frozen=True)
class TimeChart:
    kind: str  # "bars" or "line"
    width: int
    height: int
    marks: list[Mark]
    line: str  # polyline points for the line kind
    area: str  # polygon points under the line
    max_value: int
    mid_value: int
    first_label: str
    last_label: str
    title: str
    description: str


def bucket_label(start, bucket: Bucket) -> str:
    if bucket == "month":
        return formats.date_format(start, "YEAR_MONTH_FORMAT")
    if bucket == "week":
        return _("week of %(date)s") % {"date": formats.date_format(start, "DATE_FORMAT")}
    return formats.date_format(start, "DATE_FORMAT")


def nice_ceiling(value: int) -> int:
    """A round whole number at or above *value* for the top of the axis: 1, 2, 5, 12, 150, 400…"""
    if value <= 0:
        return 1
    magnitude = 1
    while magnitude * 10 <= value:
        magnitude *= 10
    for factor in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        top = factor * magnitude
        if top >= value and top == int(top):
            return int(top)
    return 10 * magnitude  # unreachable: factor 10 always fits


def _mark_text(unit: str, label: str, n: int) -> str:
    value = formats.number_format(n, force_grouping=True)
    if unit == "failures":
        return ngettext("%(label)s: %(n)s failure", "%(label)s: %(n)s failures", n) % {"label": label, "n": value}
    return ngettext("%(label)s: %(n)s session", "%(label)s: %(n)s sessions", n) % {"label": label, "n": value}


def _description(unit: str, total: int, peak: int, when: str) -> str:
    values = {
        "total": formats.number_format(total, force_grouping=True),
        "peak": formats.number_format(peak, force_grouping=True),
        "when": when,
    }
    if unit == "failures":
        return _("%(total)s failures in total. Most: %(peak)s (%(when)s).") % values
    return _("%(total)s sessions in total. Busiest: %(when)s, with %(peak)s.") % values


def time_chart(points: list[tuple[date, int]], bucket: Bucket, *, title: str, unit: str = "sessions") -> TimeChart:
    """A bar chart (a line above ``MAX_BARS`` points) of one count per bucket.

    *points* are (bucket start, count); *unit* ("sessions" or "failures") words the tooltips.
    """
    values = [value for _start, value in points]
    top = nice_ceiling(max(values, default=0))
    usable = HEIGHT - TOP_MARGIN
    marks, line = [], []
    for i, (start, value) in enumerate(points):
        height = round(usable * value / top, 2)
        label = bucket_label(start, bucket)
        text = _mark_text(unit, label, value)
        marks.append(Mark(i * STEP + 1, round(HEIGHT - height, 2), STEP - 2, height, label, value, text))
        line.append(f"{i * STEP + STEP / 2:g},{HEIGHT - height:g}")
    width = max(len(points), 1) * STEP
    if values and max(values):
        peak = max(range(len(values)), key=lambda i: (values[i], -i))
        description = _description(unit, sum(values), values[peak], marks[peak].label)
    else:
        description = _("Nothing in this period.")
    return TimeChart(
        kind="bars" if len(points) <= MAX_BARS else "line",
        width=width,
        height=HEIGHT,
        marks=marks,
        line=" ".join(line),
        area=f"{STEP / 2:g},{HEIGHT} {' '.join(line)} {width - STEP / 2:g},{HEIGHT}" if line else "",
        max_value=top,
        mid_value=top // 2 if top % 2 == 0 and top > 2 else 0,
        first_label=marks[0].label if marks else "",
        last_label=marks[-1].label if marks else "",
        title=title,
        description=description,
    )


def sessions_chart(series: list[TimePoint], bucket: Bucket, *, title: str) -> TimeChart:
    return time_chart([(p.start, p.totals.sessions) for p in series], bucket, title=title)
