"""REST API: view statistics per portrait and per project."""

from __future__ import annotations

from django.db.models import Sum
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from arv.api import QuerySerializer
from companies.access import get_project_for_user
from companies.api import TenantApiView
from content.access import get_portrait_for_user
from viewer.models import ViewSession
from viewer.selectors import view_summary


class DevicesSerializer(serializers.Serializer):
    mobile = serializers.IntegerField()
    tablet = serializers.IntegerField()
    desktop = serializers.IntegerField()
    other = serializers.IntegerField()


class AnalyticsSerializer(serializers.Serializer):
    views_count = serializers.IntegerField(help_text="Viewer page loads, all time (not limited by since/until).")
    sessions = serializers.IntegerField(help_text="Visits in the period.")
    found = serializers.IntegerField(help_text="Visits in which the camera found the print.")
    found_share = serializers.FloatField(allow_null=True, help_text="found / sessions, 0–1.")
    median_time_to_found_ms = serializers.FloatField(
        allow_null=True, help_text="Median time from opening the page to finding the print."
    )
    plays = serializers.IntegerField(help_text="Visits in which the video started.")
    play_rate = serializers.FloatField(allow_null=True, help_text="plays / sessions, 0–1.")
    average_watch_seconds = serializers.FloatField(
        allow_null=True, help_text="Average seconds watched in the visits in which the video played."
    )
    devices = DevicesSerializer(help_text="Visits per device type.")


class PeriodSerializer(QuerySerializer):
    since = serializers.DateTimeField(required=False, help_text="Only visits from this moment on.")
    until = serializers.DateTimeField(required=False, help_text="Only visits before this moment.")


def _in_period(sessions, request):
    period = PeriodSerializer(data=request.query_params)
    period.is_valid(raise_exception=True)
    if "since" in period.validated_data:
        sessions = sessions.filter(created_at__gte=period.validated_data["since"])
    if "until" in period.validated_data:
        sessions = sessions.filter(created_at__lt=period.validated_data["until"])
    return sessions


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
        sessions = _in_period(ViewSession.objects.filter(portrait=portrait), request)
        data = {"views_count": portrait.views_count, **view_summary(sessions)}
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
        sessions = _in_period(ViewSession.objects.filter(project=project), request)
        views = project.portraits.aggregate(n=Sum("views_count"))["n"] or 0
        return Response(AnalyticsSerializer({"views_count": views, **view_summary(sessions)}).data)
