from datetime import date, timedelta

from django import forms
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from analytics.selectors import DateRange, bounded_range
from companies.models import Company

DEFAULT_DAYS = 30


# One-tap ranges for phones: (days, label, grouping).
PRESETS = (
    (7, _("Last 7 days"), "day"),
    (30, _("Last 30 days"), "day"),
    (90, _("Last 90 days"), "week"),
    (365, _("Last 12 months"), "month"),
)


def preset_links(today: date | None = None) -> list[tuple[str, str]]:
    """(label, query string) for each preset range ending today."""
    today = today or timezone.localdate(timezone=timezone.get_default_timezone())
    links = []
    for days, label, bucket in PRESETS:
        dates = DateRange.last(days, today=today)
        q = QueryDict(mutable=True)
        q.update({"start": dates.start.isoformat(), "end": dates.end.isoformat(), "bucket": bucket})
        links.append((label, q.urlencode()))
    return links


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


class OptionalDateField(forms.DateField):
    def to_python_or_none(self, value):
        try:
            return self.to_python(value)
        except forms.ValidationError:
            return None


class AnalyticsFilterForm(forms.Form):
    """The date range and grouping of an analytics page; every field may be left out (GET)."""

    start = OptionalDateField(label=_("From"), required=False, widget=DateInput)
    end = OptionalDateField(label=_("To"), required=False, widget=DateInput)
    bucket = forms.ChoiceField(
        label=_("Group by"),
        required=False,
        choices=[("day", _("Day")), ("week", _("Week")), ("month", _("Month"))],
    )

    def __init__(self, data=None, **kwargs):
        # Missing dates get their defaults in the data itself, so the form shows the range used.
        data = data.copy() if data is not None else QueryDict(mutable=True)
        today = timezone.localdate(timezone=timezone.get_default_timezone())
        if not data.get("end"):
            data["end"] = today.isoformat()
        if not data.get("start"):
            end = self.base_fields["end"].to_python_or_none(data["end"])
            if end is not None:
                last = min(end, today)
                # Clamped at year 1: an absurd end gets the bounds message below, not an OverflowError.
                data["start"] = (last - timedelta(days=min(DEFAULT_DAYS - 1, (last - date.min).days))).isoformat()
        super().__init__(data, **kwargs)

    def clean(self):
        data = super().clean()
        if self.errors:  # a date that does not parse: its own message is clearer than ours
            return data
        start, end = data.get("start"), data.get("end")
        if start is None or end is None:  # only when a default could not be worked out
            raise forms.ValidationError(_("Choose a start and an end date."), code="required")
        data["dates"] = bounded_range(start, end)
        data["bucket"] = data.get("bucket") or "day"
        return data

    def query_string(self) -> str:
        """The cleaned filter as a query string, for the CSV link of the same page."""
        q = QueryDict(mutable=True)
        dates = self.cleaned_data["dates"]
        q.update({"start": dates.start.isoformat(), "end": dates.end.isoformat()})
        q["bucket"] = self.cleaned_data["bucket"]
        for name in self.extra_query_fields:
            value = self.cleaned_data.get(name)
            if value:
                q[name] = str(getattr(value, "pk", value))
        return q.urlencode()

    extra_query_fields: tuple[str, ...] = ()


class StaffAnalyticsFilterForm(AnalyticsFilterForm):
    """The admin's version: the whole platform, or one company."""

    company = forms.ModelChoiceField(
        label=_("Company"), required=False, queryset=Company.objects.order_by("name"), empty_label=_("All companies")
    )
    extra_query_fields = ("company",)
