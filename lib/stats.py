"""Statistics the database works out for any queryset: percentiles without ``percentile_cont``."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Count, ExpressionWrapper, F, FloatField, Q, Value, Window
from django.db.models.functions import RowNumber


def percentiles(queryset, field: str, fractions: tuple[float, ...], *, partition: str) -> dict:
    """``{partition value: {fraction: value}}`` like ``percentile_cont``, in one portable query.

    Window functions number the sorted rows of each partition and count them; only the one or two
    rows around each wanted position ``fraction * (n - 1)`` come back, and are interpolated here.
    """
    ranked = (
        queryset.filter(**{f"{field}__isnull": False})
        .order_by()
        .annotate(
            _rank=Window(RowNumber(), partition_by=[F(partition)], order_by=[F(field).asc(), F("pk").asc()]),
            _n=Window(Count("pk"), partition_by=[F(partition)]),
        )
    )
    near = Q()
    for i, fraction in enumerate(fractions):
        # Distance of this row's 0-based position from the wanted one. The two rows interpolated
        # are floor(position) and the next, which is a whole 1 away when the position is whole
        # (the median of an odd count): keep the rows within 2, so float rounding in the
        # database can never drop one of them.
        distance = ExpressionWrapper((F("_rank") - 1) - Value(fraction) * (F("_n") - 1), output_field=FloatField())
        ranked = ranked.annotate(**{f"_d{i}": distance})
        near |= Q(**{f"_d{i}__gt": -2, f"_d{i}__lt": 2})
    found: dict = defaultdict(dict)
    for part, rank, n, value in ranked.filter(near).values_list(partition, "_rank", "_n", field):
        found[part][rank - 1] = (n, value)
    result: dict = {}
    for part, rows in found.items():
        n = next(iter(rows.values()))[0]
        result[part] = {}
        for fraction in fractions:
            position = fraction * (n - 1)
            low, high = int(position), min(int(position) + 1, n - 1)
            lo_value, hi_value = rows[low][1], rows[high][1]
            result[part][fraction] = lo_value + (hi_value - lo_value) * (position - low)
    return result
