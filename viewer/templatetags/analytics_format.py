"""Number formats of the analytics pages: shares as percentages, durations in seconds."""

from django import template
from django.utils import formats
from django.utils.translation import gettext as _

register = template.Library()

NONE = "—"


@register.filter
def percent(value, digits=0):
    """0.714 → "71%"; None (nothing to divide by) → "—"."""
    if value is None:
        return NONE
    digits = int(digits)
    # number_format cuts extra decimals; rounding first makes 3/7 "43%", not "42%".
    return _("%(value)s%%") % {"value": formats.number_format(round(value * 100, digits), decimal_pos=digits)}


@register.filter
def seconds(value, digits=1):
    """12.34 → "12.3 s"."""
    if value is None:
        return NONE
    digits = int(digits)
    return _("%(value)s s") % {"value": formats.number_format(round(value, digits), decimal_pos=digits)}


@register.filter
def ms_as_seconds(value, digits=1):
    """2500 → "2.5 s"."""
    return seconds(None if value is None else value / 1000, digits)


@register.filter
def share_width(value):
    """A 0..1 share as a bar length in a 0..100 viewBox, never 0-wide for a non-zero share."""
    if not value:
        return 0
    return f"{max(value * 100, 0.5):.2f}"
