"""A studio's brand as its customers see it: name, logo and accent colour. Pure (no queries).

The accent colour is only ever a ``#rrggbb`` string: checked on input, by a database constraint,
and again here before it reaches a ``style`` attribute, so no stored value can become CSS of its
own. Text on the accent is black or white, whichever contrasts more (WCAG relative luminance).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# \Z, not $: "$" also matches before a final newline (in Python, and so in SQLite's REGEXP).
HEX_COLOUR = re.compile(r"^#[0-9a-f]{6}\Z")
_SHORT = re.compile(r"^#?([0-9a-fA-F])([0-9a-fA-F])([0-9a-fA-F])$")
_LONG = re.compile(r"^#?([0-9a-fA-F]{6})$")


def normalize_colour(value: str) -> str:
    """``#RGB``, ``#RRGGBB`` (the # optional, any case) → ``#rrggbb``; "" stays ""."""
    text = (value or "").strip()
    if not text:
        return ""
    short = _SHORT.fullmatch(text)
    if short:
        return "#" + "".join(c * 2 for c in short.groups()).lower()
    long = _LONG.fullmatch(text)
    if long:
        return "#" + long.group(1).lower()
    raise ValidationError(
        _("Enter the colour as a hex code such as #1f6feb."), code="invalid_colour", params={"value": text[:20]}
    )


def hex_colour_condition(field: str):
    """HEX_COLOUR as a database condition, or empty: "#" then six of 0-9a-f.

    Written with LENGTH, SUBSTR and REPLACE, which SQLite and PostgreSQL both have: a REGEXP check
    would need Django's own function inside SQLite, and the backup/restore commands (plain
    sqlite3 connections) could then not copy the table.
    """
    from django.db.models import F, Q, Value
    from django.db.models.functions import Length, Replace, Substr
    from django.db.models.lookups import Exact

    rest = Substr(F(field), 2, 6)
    for digit in "0123456789abcdef":
        rest = Replace(rest, Value(digit), Value(""))
    return Q(**{field: ""}) | (
        Q(Exact(Length(F(field)), 7)) & Q(**{f"{field}__startswith": "#"}) & Q(Exact(rest, Value("")))
    )


def validate_colour(value: str) -> None:
    if value and not HEX_COLOUR.match(value):
        raise ValidationError(_("Enter the colour as a hex code such as #1f6feb."), code="invalid_colour")


def _luminance(colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast_ratio(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_colour_on(colour: str) -> str:
    """#000000 or #ffffff, whichever is more readable on *colour*."""
    return "#000000" if contrast_ratio(colour, "#000000") >= contrast_ratio(colour, "#ffffff") else "#ffffff"


@dataclass(frozen=True)
class Brand:
    """What the public pages, print sheets and e-mails show for a company."""

    name: str
    logo_url: str = ""
    logo_width: int = 0
    logo_height: int = 0
    accent: str = ""
    is_set: bool = False

    @property
    def on_accent(self) -> str:
        return text_colour_on(self.accent) if self.accent else ""

    @property
    def style(self) -> str:
        """CSS custom properties for a ``style`` attribute; empty without an accent colour."""
        if not HEX_COLOUR.match(self.accent or ""):
            return ""
        return f"--brand-accent:{self.accent};--brand-on-accent:{self.on_accent}"
