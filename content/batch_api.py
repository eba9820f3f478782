"""REST API for batches: upload a ZIP (or files), follow the check, confirm, follow the rows,
download the print PDF and the orders CSV. The same services as the portal (``content.batches``).

The upload is parsed with Django's temporary-file handler only, so an API request never holds a
whole file in memory, and answers 202 at once: the archive is checked by a worker.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.http import FileResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from companies.access import check_write
from companies.api import ProjectSlugField, TenantApiView, paginated
from content import batches
from content.access import get_batch_for_user
from content.batch_views import csv_response
from content.models import Batch, BatchPrintFile, BatchRow, Portrait
from lib.api import QuerySerializer
from lib.api_fields import StrictCharField, StrictChoiceField, StrictSlugField, StrictURLField, absolute_url
from lib.api_policies import Pagination
from lib.api_schema import ErrorSerializer
from lib.bodylimit import upload_limit_bytes
from lib.storage import StorageUnavailable

LIVE_STATUSES = [
    ("queued", "Queued"),
    ("processing", "Processing"),
    ("ready", "Ready"),
    ("failed", "Failed"),
    *[(value, label) for value, label in BatchRow.Status.choices if value not in ("queued", "processing", "failed")],
]


class MessageSerializer(serializers.Serializer):
    code = StrictCharField(help_text="Stable machine-readable code, e.g. `zip_slip`, `file_missing`.")
    text = StrictCharField(help_text="In plain language, in the language of the person who uploaded.")


class QuotaSerializer(serializers.Serializer):
    needed = serializers.IntegerField(help_text="Bytes the rows that can be made need.")
    left = serializers.IntegerField(help_text="Bytes the company has left.")
    fits = serializers.BooleanField()


class ProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField()
    total = serializers.IntegerField(
        help_text="While checking: files to check. Once confirmed: rows chosen to be made."
    )


class BatchOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="uuid")
    project = StrictSlugField(source="project.slug")
    status = StrictChoiceField(choices=Batch.Status.choices)
    source = StrictChoiceField(choices=Batch.Source.choices)
    sheet_format = StrictChoiceField(choices=Batch.SheetFormat.choices)
    original_name = StrictCharField()
    upload_files = serializers.IntegerField()
    upload_bytes = serializers.IntegerField()
    progress = ProgressSerializer()
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="Rows per status.")
    quota = QuotaSerializer(allow_null=True, help_text="While waiting for confirmation.")
    error = MessageSerializer(allow_null=True, help_text="Why the whole batch was refused.")
    warnings = MessageSerializer(many=True)
    rows_url = StrictURLField()
    print_urls = serializers.DictField(
        child=StrictURLField(), help_text="Print PDF per layout (`a4`, `card`), once the batch is ready."
    )
    csv_url = StrictURLField(allow_null=True, help_text="Orders with viewer and QR URLs, once ready.")
    created_at = serializers.DateTimeField()
    checked_at = serializers.DateTimeField(allow_null=True)
    confirmed_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


def batch_data(request, batch: Batch, stats: dict | None = None) -> dict:
    """The API's representation of *batch*; *request* None (a webhook payload) puts URLs on SITE_URL."""
    stats = stats or batches.row_stats([batch.pk])[batch.pk]
    if batch.status in (Batch.Status.RUNNING, Batch.Status.READY):
        progress = {"done": stats["done"], "total": stats["total"]}
    else:
        progress = {"done": batch.progress_done, "total": batch.progress_total}

    def url(name: str, **query) -> str:
        path = reverse(name, kwargs={"uuid": batch.uuid})
        if query:
            path += "?" + "&".join(f"{k}={v}" for k, v in query.items())
        return absolute_url(path, request)

    ready = batch.status == Batch.Status.READY
    return {
        "uuid": batch.uuid,
        "project": batch.project,
        "status": batch.status,
        "source": batch.source,
        "sheet_format": batch.sheet_format,
        "original_name": batch.original_name,
        "upload_files": batch.upload_files,
        "upload_bytes": batch.upload_bytes,
        "progress": progress,
        "counts": stats["counts"],
        "quota": batches.quota(batch) if batch.status == Batch.Status.REVIEW else None,
        "error": batch.error or None,
        "warnings": batch.warnings,
        "rows_url": url("api:batch_rows"),
        "print_urls": {fmt: url("api:batch_print", format=fmt) for fmt in Batch.SheetFormat.values} if ready else {},
        "csv_url": url("api:batch_csv") if ready else None,
        "created_at": batch.created_at,
        "checked_at": batch.checked_at,
        "confirmed_at": batch.confirmed_at,
        "finished_at": batch.finished_at,
    }


def batch_response(request, batch: Batch, *, status_code=status.HTTP_200_OK) -> Response:
    return Response(BatchOutputSerializer(batch_data(request, batch)).data, status=status_code)


class RowPortraitSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="unique_id")
    status = StrictChoiceField(choices=Portrait.Status.choices)
    viewer_url = StrictURLField(source="public_url")
    qr_png_url = serializers.SerializerMethodField()

    def get_qr_png_url(self, portrait) -> str:
        path = reverse("api:portrait_qr_png", kwargs={"uuid": portrait.unique_id})
        return self.context["request"].build_absolute_uri(path)


class BatchRowSerializer(serializers.Serializer):
    line = serializers.IntegerField(source="number", help_text="orders.csv line, or place in the file list.")
    status = StrictChoiceField(
        source="live_status",
        choices=LIVE_STATUSES,
        help_text="Before confirmation: valid, invalid, exists. After: queued, processing, ready, failed, skipped.",
    )
    photo = StrictCharField(source="photo_name")
    videos = serializers.ListField(source="video_names", child=StrictCharField())
    title = StrictCharField()
    customer_name = StrictCharField()
    customer_phone = StrictCharField()
    customer_email = StrictCharField()
    order_reference = StrictCharField()
    show_from = serializers.DateTimeField(source="published_at", allow_null=True)
    show_until = serializers.DateTimeField(source="expires_at", allow_null=True)
    needed_bytes = serializers.IntegerField()
    errors = MessageSerializer(many=True)
    warnings = MessageSerializer(many=True)
    portrait = RowPortraitSerializer(allow_null=True, help_text="The portrait made (or already in the project).")


class BatchListApi(TenantApiView):
    pagination_class = Pagination

    class FilterSerializer(QuerySerializer):
        project = StrictSlugField(required=False, help_text="Only this project's batches (its slug).")
        status = StrictChoiceField(choices=Batch.Status.choices, required=False)

    query_serializer = FilterSerializer

    @extend_schema(
        operation_id="batches_list",
        summary="List batches",
        description="Newest first.",
        parameters=[FilterSerializer],
        responses=BatchOutputSerializer(many=True),
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        found = Batch.objects.for_company(request.tenant.company).select_related("project", "company")
        if "project" in filters.validated_data:
            found = found.filter(project__slug=filters.validated_data["project"])
        if "status" in filters.validated_data:
            found = found.filter(status=filters.validated_data["status"])
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(found.order_by("-created_at", "-id"), request, view=self)
        stats = batches.row_stats([b.pk for b in page])
        data = [BatchOutputSerializer(batch_data(request, b, stats[b.pk])).data for b in page]
        return paginator.get_paginated_response(data)


class BatchCreateApi(TenantApiView):
    parser_classes = [MultiPartParser]
    uses_storage = True

    @extend_schema_serializer(component_name="BatchCreateInput")
    class InputSerializer(serializers.Serializer):
        project = ProjectSlugField(help_text="Slug of the project the orders go into.")
        archive = serializers.FileField(
            required=False,
            allow_empty_file=True,
            help_text="A ZIP of photos, videos and optionally orders.csv. Either this or `files`.",
        )
        files = serializers.ListField(
            child=serializers.FileField(allow_empty_file=True),
            required=False,
            help_text="The photos, videos and orders.csv themselves (at most 100 in one request).",
        )
        sheet_format = StrictChoiceField(
            choices=Batch.SheetFormat.choices, default=Batch.SheetFormat.A4, help_text="Layout of the print PDF."
        )

    def initialize_request(self, request, *args, **kwargs):
        # Files stream to temporary files on disk, never into memory, whatever their size.
        request.upload_handlers = [TemporaryFileUploadHandler(request)]
        return super().initialize_request(request, *args, **kwargs)

    def get_max_body_bytes(self) -> int:
        return upload_limit_bytes(settings.BATCH_MAX_MB)

    @extend_schema(
        operation_id="batches_create",
        summary="Upload a batch",
        description="Stages the upload and answers at once; a worker checks every file. Follow `status` "
        "until `review`, read the rows, then confirm. Nothing is made or counted against the quota before.",
        request={"multipart/form-data": InputSerializer},
        responses={202: BatchOutputSerializer},
    )
    def post(self, request):
        check_write(request)
        serializer = self.InputSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        batch = batches.start_batch(
            project=data["project"],
            by=request.user,
            archive=data.get("archive"),
            files=data.get("files") or (),
            sheet_format=data["sheet_format"],
            language=get_language(),
        )
        response = batch_response(request, batch, status_code=status.HTTP_202_ACCEPTED)
        response["Location"] = request.build_absolute_uri(reverse("api:batch", kwargs={"uuid": batch.uuid}))
        return response


class BatchDetailApi(TenantApiView):
    @extend_schema(operation_id="batches_retrieve", summary="Get a batch", responses=BatchOutputSerializer)
    def get(self, request, uuid):
        return batch_response(request, get_batch_for_user(request, uuid))


class BatchRowsApi(TenantApiView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="batches_rows_list",
        summary="The rows of a batch",
        description="One row per order, with what is wrong in plain language, and its portrait once made.",
        responses=BatchRowSerializer(many=True),
    )
    def get(self, request, uuid):
        batch = get_batch_for_user(request, uuid)
        rows = batch.rows.select_related("portrait__company", "portrait__project").order_by("number")
        return paginated(self, request, rows, BatchRowSerializer)


class BatchConfirmApi(TenantApiView):
    @extend_schema_serializer(component_name="BatchConfirmInput")
    class InputSerializer(serializers.Serializer):
        skip = serializers.ListField(
            child=serializers.IntegerField(min_value=1),
            required=False,
            default=list,
            max_length=100_000,
            help_text="Lines not to make. Rows with errors are always skipped.",
        )

    @extend_schema(
        operation_id="batches_confirm",
        summary="Confirm a batch",
        description="Queues a portrait for every valid row not skipped. Refused (400) when nothing is left to "
        "make or the rows need more storage than is left; orders found already made meanwhile become `exists`.",
        request=InputSerializer,
        responses={202: BatchOutputSerializer},
    )
    def post(self, request, uuid):
        batch = get_batch_for_user(request, uuid, write=True)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        batch = batches.confirm_batch(batch=batch, by=request.user, skip=serializer.validated_data["skip"])
        return batch_response(request, batch, status_code=status.HTTP_202_ACCEPTED)


class BatchCancelApi(TenantApiView):
    @extend_schema(
        operation_id="batches_cancel",
        summary="Cancel a batch",
        description="Only before confirmation; its staged files are deleted. Refused (400) afterwards.",
        request=None,
        responses=BatchOutputSerializer,
    )
    def post(self, request, uuid):
        batch = get_batch_for_user(request, uuid, write=True)
        return batch_response(request, batches.cancel_batch(batch=batch))


class NotReady(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = gettext_lazy("The batch is not ready yet.")
    default_code = "not_ready"


def _ready_batch(request, uuid) -> Batch:
    batch = get_batch_for_user(request, uuid)
    if batch.status != Batch.Status.READY:
        raise NotReady(_("The batch is not ready yet: it is “%(status)s”.") % {"status": batch.get_status_display()})
    return batch


class PrintStatusSerializer(serializers.Serializer):
    status = StrictChoiceField(choices=BatchPrintFile.Status.choices)
    detail = StrictCharField()


class DownloadApi(TenantApiView):
    def perform_content_negotiation(self, request, force=False):
        # The file bypasses rendering; everything else is JSON whatever the client accepts.
        return super().perform_content_negotiation(request, force=True)


class BatchPrintApi(DownloadApi):
    class FormatSerializer(QuerySerializer):
        format = StrictChoiceField(choices=Batch.SheetFormat.choices, required=False)

    query_serializer = FormatSerializer

    @extend_schema(
        operation_id="batches_print_pdf",
        summary="The print PDF",
        description="Every print sheet of the batch, one per page (A4 or 10×15 cm card; default: the layout "
        "chosen at upload). 202 while it is being made: ask again after `Retry-After` seconds.",
        parameters=[FormatSerializer],
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, "The PDF."),
            202: OpenApiResponse(PrintStatusSerializer, "Being made."),
            409: OpenApiResponse(ErrorSerializer, "The batch is not ready."),
        },
    )
    def get(self, request, uuid):
        query = self.FormatSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        batch = _ready_batch(request, uuid)
        print_file = batches.request_print_file(
            batch=batch, sheet_format=query.validated_data.get("format", batch.sheet_format)
        )
        if print_file.status != BatchPrintFile.Status.READY:
            response = Response(
                {"status": print_file.status, "detail": _("The print file is being prepared.")},
                status=status.HTTP_202_ACCEPTED,
            )
            response["Retry-After"] = "5"
            return response
        try:
            handle = batches.open_print_file(print_file)
        except (FileNotFoundError, StorageUnavailable) as exc:
            raise StorageUnavailable(str(exc)) from None
        return FileResponse(
            handle,
            as_attachment=True,
            filename=f"batch-{batch.uuid}-{print_file.sheet_format}.pdf",
            content_type="application/pdf",
        )


class BatchCsvApi(DownloadApi):
    @extend_schema(
        operation_id="batches_orders_csv",
        summary="The orders CSV",
        description="One line per order: order reference, title, customer, photo file, status, viewer URL and "
        "QR code (PNG) URL. UTF-8 with a BOM; cells that a spreadsheet would run as formulas are neutralised.",
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, "The CSV."),
            409: OpenApiResponse(ErrorSerializer, "The batch is not ready."),
        },
    )
    def get(self, request, uuid) -> StreamingHttpResponse:
        return csv_response(request, _ready_batch(request, uuid))
