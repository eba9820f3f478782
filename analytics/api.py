"""REST API: view statistics per portrait and per project, from the analytics selectors."""

from __future__ import annotations

from datetime import date, timedelta

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Sum
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from analytics import selectors
from companies.access import get_project_for_user
from companies.api import TenantApiView
from content.access import get_portrait_for_user
from lib.api import QuerySerializer
from viewer.models import ViewSession


class DevicesSerializer(serializers.Serializer):
    mobile = serializers.IntegerField()
    tablet = serializers.IntegerField()
    desktop = serializers.IntegerField()
    other = serializers.IntegerField()


class AnalyticsSerializer(serializers.Serializer):
    views_count = serializers.IntegerField(help_text="Viewer page loads, all time (not limited by start/end).")
    start = serializers.DateField(help_text="First day counted (local date).")
    end = serializers.DateField(help_text="Last day counted (local date).")
    sessions = serializers.IntegerField(help_text="Visits in the period.")
    found = serializers.IntegerField(help_text="Visits in which the camera found the print.")
    found_share = serializers.FloatField(allow_null=True, help_text="found / sessions, 0–1.")
    median_time_to_found_ms = serializers.FloatField(
        allow_null=True, help_text="Median time from opening the page to finding the print."
    )
    median_is_exact = serializers.BooleanField(
        help_text="False when the period reaches days already rolled up into daily totals (interpolated)."
    )
    plays = serializers.IntegerField(help_text="Visits in which the video started.")
    play_rate = serializers.FloatField(allow_null=True, help_text="plays / sessions, 0–1.")
    average_watch_seconds = serializers.FloatField(
        allow_null=True, help_text="Average seconds watched in the visits in which the video played."
    )
    devices = DevicesSerializer(help_text="Visits per device type.")


class PeriodSerializer(QuerySerializer):
    """The period of the statistics, with the portal dashboards' bounds: dates from
    EARLIEST to LATEST, at most MAX_RANGE_DAYS days (so no period costs the API more than them)."""

    start = serializers.DateField(
        required=False,
        help_text=(
            f"First day (local date, from {selectors.EARLIEST.isoformat()}); default: the first day there is, "
            f"at most {selectors.MAX_RANGE_DAYS} days before the end."
        ),
    )
    end = serializers.DateField(
        required=False,
        help_text=(
            f"Last day (local date, inclusive, until {selectors.LATEST.isoformat()}); default: today. "
            f"The period is at most {selectors.MAX_RANGE_DAYS} days."
        ),
    )


def _period(request, *, first: date) -> selectors.DateRange:
    """The asked-for period, with the portal's bounds; a 400 naming the parameter otherwise."""
    period = PeriodSerializer(data=request.query_params)
    period.is_valid(raise_exception=True)
    given = period.validated_data
    end = given.get("end", timezone.localdate())
    start = given.get("start")
    if start is None:
        last = min(first, end)
        longest = min(selectors.MAX_RANGE_DAYS - 1, (end - date.min).days)
        start = max(last, end - timedelta(days=longest))
    try:
        return selectors.bounded_range(start, end)
    except DjangoValidationError as exc:
        if exc.code == "out_of_bounds":
            bounds = (selectors.EARLIEST, selectors.LATEST)
            fields = [name for name in ("start", "end") if name in given and not bounds[0] <= given[name] <= bounds[1]]
        elif exc.code == "too_long" and "end" not in given:
            fields = ["start"]
        else:
            fields = ["end"]
        raise serializers.ValidationError({name: [exc.messages[0]] for name in fields or ["end"]}) from None


def _statistics(request, scope: selectors.Scope, *, first: date, views: int) -> dict:
    dates = _period(request, first=first)
    summary, breakdowns = selectors.summary_and_breakdowns(scope, dates)
    devices = {device: 0 for device in ViewSession.Device.values}
    devices.update({item.value: item.sessions for item in breakdowns.devices if item.value in devices})
    return {
        "views_count": views,
        "start": dates.start,
        "end": dates.end,
        "sessions": summary.sessions,
        "found": summary.found,
        "found_share": summary.found_share,
        "median_time_to_found_ms": summary.median_time_to_found_ms,
        "median_is_exact": summary.median_is_exact,
        "plays": summary.played,
        "play_rate": summary.play_rate,
        "average_watch_seconds": summary.average_watch_seconds,
        "devices": devices,
    }


class PortraitAnalyticsApi(TenantApiView):
    query_serializer = PeriodSerializer

    @extend_schema(
        operation_id="portraits_analytics",
        summary="View statistics of a portrait",
        parameters=[PeriodSerializer],
        responses=AnalyticsSerializer,
    )
    def get(self, request, uuid):
        portrait = get_portrait_for_user(request, uuid)
        first = timezone.localdate(portrait.created_at)
        data = _statistics(request, selectors.Scope(portrait=portrait), first=first, views=portrait.views_count)
        return Response(AnalyticsSerializer(data).data)


class ProjectAnalyticsApi(TenantApiView):
    query_serializer = PeriodSerializer

    @extend_schema(
        operation_id="projects_analytics",
        summary="View statistics of a project",
        description="All the project's portraits together.",
        parameters=[PeriodSerializer],
        responses=AnalyticsSerializer,
    )
    def get(self, request, slug):
        project = get_project_for_user(request, slug)
        views = project.portraits.aggregate(n=Sum("views_count"))["n"] or 0
        first = timezone.localdate(project.created_at)
        data = _statistics(request, selectors.Scope(project=project), first=first, views=views)
        return Response(AnalyticsSerializer(data).data)
