"""REST API for portraits and their videos, markers and QR codes, on the portal's services.

Uploads go through the portal's validators (``content.validators``) inside the serializer fields,
so a refused file is a 400 naming the field and nothing is stored: the services write files only
after validation passed, and undo everything if they fail midway.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch, prefetch_related_objects
from django.http import HttpResponse
from django.urls import reverse
from django.utils.text import slugify
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from companies.access import check_write
from companies.api import ProjectSlugField, TenantApiView, paginated, validate_period
from content import qr, services
from content.access import get_portrait_for_user, get_video_for_user
from content.models import Portrait, Video
from content.validators import ValidatedVideo, validate_image, validate_video
from lib.api import QuerySerializer
from lib.api_fields import (
    StoredFileUrlField,
    StrictCharField,
    StrictChoiceField,
    StrictEmailField,
    StrictSlugField,
    StrictURLField,
    absolute_url,
    stored_file_url,
)
from lib.api_policies import Pagination
from lib.bodylimit import upload_limit_bytes
from markers.jobs import regenerate_marker
from markers.models import Job
from markers.reports import marker_summary

logger = logging.getLogger(__name__)


# --- Fields ------------------------------------------------------------------------------------------


class ImageUploadField(serializers.FileField):
    """A photo, decoded and normalised by the portal's validator: the value is a ValidatedImage."""

    def __init__(self, **kwargs):
        # The validator says "The file is empty." like the portal does.
        super().__init__(allow_empty_file=True, **kwargs)

    def to_internal_value(self, data):
        upload = super().to_internal_value(data)
        return validate_image(upload)


class VideoUploadField(serializers.FileField):
    """A video checked by the portal's validator: the value is a ValidatedVideo.

    The validator may copy the upload to a temporary file; the field remembers every video it
    validated so that :func:`cleanup_uploads` removes those files whatever happens next, even
    when another field of the same request turned out invalid.
    """

    def __init__(self, **kwargs):
        super().__init__(allow_empty_file=True, **kwargs)
        self.validated: list[ValidatedVideo] = []

    def to_internal_value(self, data):
        upload = super().to_internal_value(data)
        video = validate_video(upload)
        self.validated.append(video)
        return video

    def cleanup(self) -> None:
        for video in self.validated:
            video.cleanup()
        self.validated.clear()


def cleanup_uploads(serializer: serializers.Serializer) -> None:
    for field in serializer.fields.values():
        if isinstance(field, VideoUploadField):
            field.cleanup()


class PortraitApiUrlField(StrictURLField):
    """Absolute URL of one of the portrait's API endpoints."""

    def __init__(self, url_name: str, **kwargs):
        self.url_name = url_name
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, portrait):
        path = reverse(self.url_name, kwargs={"uuid": portrait.unique_id})
        return absolute_url(path, self.context.get("request"))


# --- Representations ---------------------------------------------------------------------------------


class WarningSerializer(serializers.Serializer):
    code = StrictCharField()
    text = StrictCharField(help_text="In the language of the request (Accept-Language).")


class MarkerSerializer(serializers.Serializer):
    kind = StrictChoiceField(choices=Job.MARKER_KINDS)
    status = StrictChoiceField(choices=Job.Status.choices)
    score = serializers.IntegerField(allow_null=True, help_text="Trackability, 0–100; null until compiled.")
    warnings = WarningSerializer(many=True)
    error = StrictCharField(help_text="Why the marker failed, in plain language; empty otherwise.")
    reused = serializers.BooleanField(help_text="True when an identical photo's marker was reused.")
    url = StrictURLField(allow_null=True, help_text="Download URL of the marker file once ready.")


class MarkersSerializer(serializers.Serializer):
    mindar = MarkerSerializer(allow_null=True, help_text="The MindAR marker (.mind) the viewer uses.")
    nft = MarkerSerializer(allow_null=True, help_text="The AR.js NFT marker, when one was made.")


def marker_data(job: Job | None, request) -> dict | None:
    summary = marker_summary(job)
    if summary is None:
        return None
    url = stored_file_url(job.output, request) if job.status == Job.Status.READY else None
    return {**summary, "kind": job.kind, "url": url}


def markers_data(portrait: Portrait, request) -> dict:
    jobs = getattr(portrait, "marker_jobs", None)
    if jobs is None:
        jobs = list(portrait.jobs.markers())
    by_kind = {job.kind: job for job in jobs}
    return {kind: marker_data(by_kind.get(kind), request) for kind in Job.MARKER_KINDS}


class VideoOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = StrictCharField()
    status = StrictChoiceField(choices=Video.Status.choices)
    status_message = StrictCharField()
    is_active = serializers.BooleanField(help_text="Chosen to play regardless of the schedules.")
    schedule_start = serializers.DateTimeField(allow_null=True)
    schedule_end = serializers.DateTimeField(allow_null=True)
    rotation_order = serializers.IntegerField()
    duration = serializers.FloatField(help_text="Seconds.")
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    size_bytes = serializers.IntegerField()
    mime_type = StrictCharField()
    original_filename = StrictCharField()
    url = StoredFileUrlField(source="playback_file", help_text="What phones play: the web rendition once made.")
    poster_url = StoredFileUrlField(source="poster")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class PortraitOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="unique_id", help_text="The portrait's identifier in API and public URLs.")
    project = StrictSlugField(source="project.slug")
    title = StrictCharField()
    description = StrictCharField()
    status = StrictChoiceField(choices=Portrait.Status.choices)
    is_active = serializers.BooleanField()
    published_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    customer_name = StrictCharField()
    customer_phone = StrictCharField()
    customer_email = StrictCharField()
    order_reference = StrictCharField()
    image_url = StoredFileUrlField(source="image", help_text="The stored photo (normalised JPEG).")
    image_width = serializers.IntegerField()
    image_height = serializers.IntegerField()
    original_filename = StrictCharField()
    preview_url = StoredFileUrlField(source="preview")
    viewer_url = StrictURLField(source="public_url", help_text="The public AR page the QR code opens.")
    qr_png_url = PortraitApiUrlField("api:portrait_qr_png")
    qr_svg_url = PortraitApiUrlField("api:portrait_qr_svg")
    markers = serializers.SerializerMethodField()
    videos = VideoOutputSerializer(many=True, source="videos.all")
    views_count = serializers.IntegerField()
    last_viewed_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    @extend_schema_field(MarkersSerializer)
    def get_markers(self, portrait):
        return MarkersSerializer(markers_data(portrait, self.context.get("request"))).data


def _prefetches():
    return [Prefetch("jobs", queryset=Job.objects.markers(), to_attr="marker_jobs"), "videos"]


def with_api_relations(portraits):
    """What the representation reads, in a fixed number of queries whatever the page size."""
    return portraits.select_related("project", "company__storage_connection").prefetch_related(*_prefetches())


def _portraits(request):
    return with_api_relations(Portrait.objects.for_company(request.tenant.company))


def portrait_response(request, portrait: Portrait, *, status_code=status.HTTP_200_OK) -> Response:
    prefetch_related_objects([portrait], *_prefetches())
    return Response(PortraitOutputSerializer(portrait, context={"request": request}).data, status=status_code)


# --- Portraits ---------------------------------------------------------------------------------------


class PortraitMetaInputSerializer(serializers.Serializer):
    """The portal's photo fields (PortraitMetaForm)."""

    title = StrictCharField(max_length=200, required=False)
    description = StrictCharField(max_length=5000, allow_blank=True, required=False)
    customer_name = StrictCharField(max_length=200, allow_blank=True, required=False)
    customer_phone = StrictCharField(max_length=40, allow_blank=True, required=False)
    customer_email = StrictEmailField(allow_blank=True, required=False)
    order_reference = StrictCharField(max_length=100, allow_blank=True, required=False)
    published_at = serializers.DateTimeField(allow_null=True, required=False, help_text="Shown to visitors from.")
    expires_at = serializers.DateTimeField(allow_null=True, required=False, help_text="Shown to visitors until.")

    def validate(self, attrs):
        return validate_period(
            attrs,
            self.instance,
            "published_at",
            "expires_at",
            _("The photo must stop being shown after it starts."),
        )


class PortraitListApi(TenantApiView):
    pagination_class = Pagination

    class FilterSerializer(QuerySerializer):
        project = StrictSlugField(required=False, help_text="Only this project's photos (its slug).")
        status = StrictChoiceField(choices=Portrait.Status.choices, required=False)
        active = serializers.BooleanField(required=False, allow_null=True, default=None)
        search = StrictCharField(
            max_length=100,
            required=False,
            allow_blank=True,
            help_text="In the title, customer name, e-mail, phone and order reference.",
        )
        created_after = serializers.DateTimeField(required=False)
        created_before = serializers.DateTimeField(required=False)

    query_serializer = FilterSerializer

    @extend_schema(
        operation_id="portraits_list",
        summary="List portraits",
        description="Newest first.",
        parameters=[FilterSerializer],
        responses=PortraitOutputSerializer(many=True),
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        f = filters.validated_data
        portraits = _portraits(request).search(f.get("search", ""))
        if "project" in f:
            portraits = portraits.filter(project__slug=f["project"])
        if "status" in f:
            portraits = portraits.filter(status=f["status"])
        if f.get("active") is not None:
            portraits = portraits.filter(is_active=f["active"])
        if "created_after" in f:
            portraits = portraits.filter(created_at__gte=f["created_after"])
        if "created_before" in f:
            portraits = portraits.filter(created_at__lt=f["created_before"])
        return paginated(self, request, portraits.order_by("-created_at", "-id"), PortraitOutputSerializer)


class PortraitCreateApi(TenantApiView):
    parser_classes = [MultiPartParser]
    uses_storage = True

    @extend_schema_serializer(component_name="PortraitCreateInput")
    class InputSerializer(PortraitMetaInputSerializer):
        project = ProjectSlugField(help_text="Slug of the project the photo goes into.")
        image = ImageUploadField(help_text="JPEG, PNG, WebP or HEIC; at least 480 px on the short side.")
        video = VideoUploadField(required=False, help_text="MP4, MOV or WebM; more videos can be added later.")
        video_title = StrictCharField(max_length=200, allow_blank=True, required=False)
        title = StrictCharField(
            max_length=200, allow_blank=True, default="", help_text="Defaults to the image's file name."
        )

    def get_max_body_bytes(self) -> int:
        return upload_limit_bytes(settings.UPLOAD_MAX_MB, settings.VIDEO_MAX_MB)

    @extend_schema(
        operation_id="portraits_create",
        summary="Upload a portrait",
        description="Multipart upload of the photo and, optionally, its first video. Markers and the "
        "preview are made in the background: follow `status` and `markers`.",
        request={"multipart/form-data": InputSerializer},
        responses={201: PortraitOutputSerializer},
    )
    def post(self, request):
        check_write(request)
        serializer = self.InputSerializer(data=request.data, context={"request": request})
        try:
            serializer.is_valid(raise_exception=True)
            portrait = services.create_portrait(uploaded_by=request.user, **serializer.validated_data)
        finally:
            cleanup_uploads(serializer)
        response = portrait_response(request, portrait, status_code=status.HTTP_201_CREATED)
        response["Location"] = request.build_absolute_uri(reverse("api:portrait", kwargs={"uuid": portrait.unique_id}))
        return response


class PortraitDetailApi(TenantApiView):
    @extend_schema(operation_id="portraits_retrieve", summary="Get a portrait", responses=PortraitOutputSerializer)
    def get(self, request, uuid):
        portrait = get_portrait_for_user(request, uuid)
        return portrait_response(request, portrait)


class PortraitUpdateApi(TenantApiView):
    @extend_schema_serializer(component_name="PortraitUpdateInput")
    class InputSerializer(PortraitMetaInputSerializer):
        title = StrictCharField(max_length=200, required=False)
        is_active = serializers.BooleanField(required=False, help_text="False hides the photo from visitors.")

    @extend_schema(
        operation_id="portraits_partial_update",
        summary="Change a portrait",
        description="Only the fields sent are changed.",
        request=InputSerializer,
        responses=PortraitOutputSerializer,
    )
    def patch(self, request, uuid):
        portrait = get_portrait_for_user(request, uuid, write=True)
        serializer = self.InputSerializer(portrait, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        if serializer.validated_data:
            services.update_portrait(portrait=portrait, **serializer.validated_data)
        return portrait_response(request, portrait)


class PortraitDeleteApi(TenantApiView):
    @extend_schema(
        operation_id="portraits_destroy",
        summary="Delete a portrait",
        description="Deletes the photo, its videos, markers and every file, and gives the storage back.",
        responses={204: None},
    )
    def delete(self, request, uuid):
        portrait = get_portrait_for_user(request, uuid, write=True)
        services.delete_portrait(portrait=portrait)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Markers and QR codes ----------------------------------------------------------------------------


class MarkerStatusSerializer(serializers.Serializer):
    status = StrictChoiceField(choices=Portrait.Status.choices, help_text="The portrait's overall status.")
    markers = MarkersSerializer()


def marker_status_response(request, portrait: Portrait, *, status_code=status.HTTP_200_OK) -> Response:
    data = {"status": portrait.status, "markers": markers_data(portrait, request)}
    return Response(MarkerStatusSerializer(data).data, status=status_code)


class PortraitMarkersApi(TenantApiView):
    @extend_schema(
        operation_id="portraits_markers_retrieve",
        summary="Marker status and downloads",
        description="Per marker kind: status, trackability score, warnings and the file's URL once ready.",
        responses=MarkerStatusSerializer,
    )
    def get(self, request, uuid):
        portrait = get_portrait_for_user(request, uuid)
        return marker_status_response(request, portrait)


class PortraitRegenerateApi(TenantApiView):
    @extend_schema(
        operation_id="portraits_regenerate",
        summary="Make the marker again",
        description="Queues the MindAR marker again (an unchanged photo reuses its marker). Answers at once.",
        request=None,
        responses={202: MarkerStatusSerializer},
    )
    def post(self, request, uuid):
        portrait = get_portrait_for_user(request, uuid, write=True)
        regenerate_marker(portrait=portrait)
        portrait.refresh_from_db(fields=["status"])
        return marker_status_response(request, portrait, status_code=status.HTTP_202_ACCEPTED)


class QrCodeApi(TenantApiView):
    content_type = ""
    extension = ""

    class DownloadSerializer(QuerySerializer):
        download = serializers.BooleanField(
            required=False, default=False, help_text="Send as an attachment instead of inline."
        )

    query_serializer = DownloadSerializer

    def perform_content_negotiation(self, request, force=False):
        # The image bypasses rendering; errors are always JSON whatever the client accepts.
        return super().perform_content_negotiation(request, force=True)

    def get(self, request, uuid):
        query = self.DownloadSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        portrait = get_portrait_for_user(request, uuid)
        body = self.render_code(portrait.public_url)
        response = HttpResponse(body, content_type=self.content_type)
        disposition = "attachment" if query.validated_data["download"] else "inline"
        name = slugify(portrait.title) or portrait.unique_id
        response["Content-Disposition"] = f'{disposition}; filename="qr-{name}.{self.extension}"'
        response["Cache-Control"] = "private, max-age=3600"
        return response

    def render_code(self, url: str) -> bytes:
        raise NotImplementedError


class PortraitQrPngApi(QrCodeApi):
    content_type = "image/png"
    extension = "png"

    def render_code(self, url: str) -> bytes:
        return qr.qr_png(url)

    @extend_schema(
        operation_id="portraits_qr_png",
        summary="QR code (PNG)",
        description="The QR code of the portrait's viewer URL, 12 px per module.",
        parameters=[QrCodeApi.DownloadSerializer],
        responses={(200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, "The QR code.")},
    )
    def get(self, request, uuid):
        return super().get(request, uuid)


class PortraitQrSvgApi(QrCodeApi):
    content_type = "image/svg+xml"
    extension = "svg"

    def render_code(self, url: str) -> bytes:
        return qr.qr_svg(url)

    @extend_schema(
        operation_id="portraits_qr_svg",
        summary="QR code (SVG)",
        description="The QR code of the portrait's viewer URL, as vector graphics for print.",
        parameters=[QrCodeApi.DownloadSerializer],
        responses={(200, "image/svg+xml"): OpenApiResponse(OpenApiTypes.BINARY, "The QR code.")},
    )
    def get(self, request, uuid):
        return super().get(request, uuid)


# --- Videos ------------------------------------------------------------------------------------------


class VideoAddApi(TenantApiView):
    parser_classes = [MultiPartParser]
    uses_storage = True

    @extend_schema_serializer(component_name="VideoAddInput")
    class InputSerializer(serializers.Serializer):
        video = VideoUploadField(help_text="MP4, MOV or WebM.")
        title = StrictCharField(max_length=200, allow_blank=True, required=False)
        activate = serializers.BooleanField(
            required=False, default=False, help_text="Play this video from now on, regardless of schedules."
        )
        schedule_start = serializers.DateTimeField(allow_null=True, required=False)
        schedule_end = serializers.DateTimeField(allow_null=True, required=False)

        def validate(self, attrs):
            return validate_period(
                attrs, None, "schedule_start", "schedule_end", _("The video must stop playing after it starts.")
            )

    def get_max_body_bytes(self) -> int:
        return upload_limit_bytes(settings.VIDEO_MAX_MB)

    @extend_schema(
        operation_id="portraits_videos_create",
        summary="Add a video",
        description="The portrait's first video plays without being activated.",
        request={"multipart/form-data": InputSerializer},
        responses={201: VideoOutputSerializer},
    )
    def post(self, request, uuid):
        portrait = get_portrait_for_user(request, uuid, write=True)
        serializer = self.InputSerializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
            video = services.add_video(portrait=portrait, by=request.user, **serializer.validated_data)
        finally:
            cleanup_uploads(serializer)
        return Response(VideoOutputSerializer(video, context={"request": request}).data, status=status.HTTP_201_CREATED)


class VideoUpdateApi(TenantApiView):
    @extend_schema_serializer(component_name="VideoUpdateInput")
    class InputSerializer(serializers.Serializer):
        title = StrictCharField(max_length=200, allow_blank=True, required=False)
        schedule_start = serializers.DateTimeField(allow_null=True, required=False)
        schedule_end = serializers.DateTimeField(allow_null=True, required=False)
        is_active = serializers.BooleanField(
            required=False, help_text="True: play this video regardless of schedules; false: let the schedules decide."
        )

        def validate(self, attrs):
            return validate_period(
                attrs,
                self.instance,
                "schedule_start",
                "schedule_end",
                _("The video must stop playing after it starts."),
            )

    @extend_schema(
        operation_id="portraits_videos_partial_update",
        summary="Change a video",
        description="Title, schedule window and whether it is the active video; only the fields sent change.",
        request=InputSerializer,
        responses=VideoOutputSerializer,
    )
    def patch(self, request, uuid, video_id):
        portrait = get_portrait_for_user(request, uuid, write=True)
        video = get_video_for_user(request, portrait, video_id, write=True)
        serializer = self.InputSerializer(video, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        active = fields.pop("is_active", None)
        with transaction.atomic():
            if fields:
                services.update_video(video=video, by=request.user, **fields)
            if active is True:
                services.activate_video(video=video, by=request.user)
            elif active is False:
                services.deactivate_video(video=video, by=request.user)
        return Response(VideoOutputSerializer(video, context={"request": request}).data)


class VideoDeleteApi(TenantApiView):
    @extend_schema(
        operation_id="portraits_videos_destroy",
        summary="Delete a video",
        description="Deletes the video and its files and gives the storage back.",
        responses={204: None},
    )
    def delete(self, request, uuid, video_id):
        portrait = get_portrait_for_user(request, uuid, write=True)
        video = get_video_for_user(request, portrait, video_id, write=True)
        services.delete_video(video=video, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
