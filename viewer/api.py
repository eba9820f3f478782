"""REST API: view statistics per portrait and per project, from the analytics selectors."""

from __future__ import annotations

from datetime import date

from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from arv.api import QuerySerializer
from companies.access import get_project_for_user
from companies.api import TenantApiView
from content.access import get_portrait_for_user
from viewer import analytics
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
    start = serializers.DateField(required=False, help_text="First day (local date); default: the first day there is.")
    end = serializers.DateField(required=False, help_text="Last day (local date, inclusive); default: today.")

    def validate(self, data):
        if "start" in data and "end" in data and data["end"] < data["start"]:
            raise serializers.ValidationError({"end": _("The end must not be before the start.")})
        return data


def _statistics(request, scope: analytics.Scope, *, first: date, views: int) -> dict:
    period = PeriodSerializer(data=request.query_params)
    period.is_valid(raise_exception=True)
    end = period.validated_data.get("end", timezone.localdate())
    start = period.validated_data.get("start", min(first, end))
    dates = analytics.DateRange(start, max(start, end))
    summary, breakdowns = analytics.summary_and_breakdowns(scope, dates)
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
        data = _statistics(request, analytics.Scope(portrait=portrait), first=first, views=portrait.views_count)
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
        data = _statistics(request, analytics.Scope(project=project), first=first, views=views)
        return Response(AnalyticsSerializer(data).data)
