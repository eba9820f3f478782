"""Portal pages of batch uploads: upload, review and confirm, live progress, downloads.

Upload views take their files through Django's temporary-file upload handler only, so a request
never holds a whole file in memory, whatever its size; the file is then moved (or streamed) into
the staging storage and a worker does everything else.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import TooManyFilesSent, ValidationError
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.core.paginator import Paginator
from django.http import FileResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from companies.access import check_write, get_project_for_user, portal_view
from content import batches
from content.access import get_batch_for_user
from content.batch_forms import BatchConfirmForm, BatchDraftForm, BatchFileForm, BatchUploadForm
from content.models import Batch, BatchPrintFile, BatchRow
from lib.bodylimit import accepts_bodies, upload_limit_bytes
from lib.storage import StorageUnavailable, storage_error_message

BATCHES_PER_PAGE = 25
LIVE_STATUSES = (Batch.Status.UPLOADING, Batch.Status.QUEUED, Batch.Status.CHECKING, Batch.Status.RUNNING)


def _wants_json(request) -> bool:
    return request.headers.get("X-Requested-With") == "XMLHttpRequest"


def streamed_uploads(view):
    """Parse the body with the temporary-file handler only (nothing held in memory), before the
    CSRF check reads it; a body with more files than Django accepts becomes ``too_many_files``.
    The body may be as large as a batch (the check counts what it holds against BATCH_MAX_MB)."""

    protected = csrf_protect(view)

    @csrf_exempt
    def wrapper(request, *args, **kwargs):
        too_many = False
        if request.method == "POST":
            request.upload_handlers = [TemporaryFileUploadHandler(request)]
            try:
                request.POST  # noqa: B018 - parse now, with our handler
                request.FILES  # noqa: B018
            except TooManyFilesSent:
                too_many = True
        if too_many:
            # Nothing was read or stored; the answer only explains, so no CSRF token is needed.
            return _too_many_files(request)
        return protected(request, *args, **kwargs)

    return accepts_bodies(lambda: upload_limit_bytes(settings.BATCH_MAX_MB))(wrapper)


def _too_many_files(request):
    text = _(
        "That is more files than one request may carry (%(limit)s). Put them into a ZIP archive, or use a "
        "browser with JavaScript, which sends them one by one."
    ) % {"limit": settings.DATA_UPLOAD_MAX_NUMBER_FILES}
    if _wants_json(request):
        return JsonResponse({"errors": {"__all__": [text]}}, status=400)
    return render(request, "content/batch_error.html", {"message": text}, status=400)


def uploaded_message() -> str:
    return _("Uploaded. The files are being checked; nothing is made until you confirm.")


def _flash(request, exc: ValidationError) -> None:
    for text in exc.messages:
        messages.error(request, text)


def _errors(form) -> dict:
    return {field: [str(e) for e in errors] for field, errors in form.errors.items()}


@portal_view
def batch_list(request, slug):
    project = get_project_for_user(request, slug)
    batch_page = Paginator(
        project.batches.select_related("created_by").order_by("-created_at", "-id"), BATCHES_PER_PAGE
    ).get_page(request.GET.get("page"))
    return render(request, "content/batch_list.html", {"project": project, "page": batch_page})


@streamed_uploads
@portal_view
def batch_upload(request, slug):
    project = get_project_for_user(request, slug, write=request.method == "POST")
    if request.method == "POST":
        form = BatchUploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                batch = batches.start_batch(
                    project=project,
                    by=request.user,
                    archive=form.cleaned_data["archive"],
                    files=form.cleaned_data["files"],
                    sheet_format=form.cleaned_data["sheet_format"],
                    language=get_language(),
                )
            except StorageUnavailable:
                form.add_error(None, storage_error_message())
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, uploaded_message())
                if _wants_json(request):
                    return JsonResponse({"redirect": batch.get_absolute_url()})
                return redirect(batch)
        if _wants_json(request):
            return JsonResponse({"errors": _errors(form)}, status=400)
    else:
        check_write(request)
        form = BatchUploadForm()
    return render(
        request,
        "content/batch_upload.html",
        {
            "project": project,
            "form": form,
            "limits": {
                "batch": settings.BATCH_MAX_MB * 1024 * 1024,
                "files": settings.BATCH_MAX_FILES,
                "rows": settings.BATCH_MAX_ROWS,
                "photo": settings.UPLOAD_MAX_MB * 1024 * 1024,
                "video": settings.VIDEO_MAX_MB * 1024 * 1024,
            },
        },
        status=400 if form.is_bound else 200,
    )


@require_POST
@portal_view
def batch_draft(request, slug):
    """Start a batch whose files the page's script sends one request at a time."""
    project = get_project_for_user(request, slug, write=True)
    form = BatchDraftForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"errors": _errors(form)}, status=400)
    batch = batches.open_draft(
        project=project, by=request.user, sheet_format=form.cleaned_data["sheet_format"], language=get_language()
    )
    return JsonResponse(
        {
            "batch": str(batch.uuid),
            "add_url": reverse("portal:batch_add_file", args=[batch.uuid]),
            "submit_url": reverse("portal:batch_submit", args=[batch.uuid]),
            "cancel_url": reverse("portal:batch_cancel", args=[batch.uuid]),
            "redirect": batch.get_absolute_url(),
        },
        status=201,
    )


@require_POST
@streamed_uploads
@portal_view
def batch_add_file(request, uuid):
    batch = get_batch_for_user(request, uuid, write=True)
    form = BatchFileForm(request.POST, request.FILES)
    if not form.is_valid():
        return JsonResponse({"errors": _errors(form)}, status=400)
    try:
        batch = batches.add_file(batch=batch, upload=form.cleaned_data["file"])
    except StorageUnavailable:
        return JsonResponse({"errors": {"__all__": [storage_error_message()]}}, status=503)
    except ValidationError as exc:
        return JsonResponse({"errors": {"file": exc.messages}}, status=400)
    return JsonResponse({"files": len(batch.uploads)}, status=201)


@require_POST
@portal_view
def batch_submit(request, uuid):
    batch = get_batch_for_user(request, uuid, write=True)
    try:
        batches.submit_draft(batch=batch)
    except ValidationError as exc:
        if _wants_json(request):
            return JsonResponse({"errors": {"__all__": exc.messages}}, status=400)
        _flash(request, exc)
        return redirect(batch)
    messages.success(request, uploaded_message())
    if _wants_json(request):
        return JsonResponse({"redirect": batch.get_absolute_url()})
    return redirect(batch)


def _rows(batch: Batch):
    return batch.rows.select_related("portrait").order_by("number")


def _print_files(batch: Batch) -> dict[str, BatchPrintFile]:
    return {p.sheet_format: p for p in batch.print_files.all()}


@portal_view
def batch_detail(request, uuid):
    batch = get_batch_for_user(request, uuid)
    rows = list(_rows(batch)) if batch.status not in (Batch.Status.UPLOADING, Batch.Status.QUEUED) else []
    counts = {status: 0 for status in BatchRow.Status.values}
    for row in rows:
        counts[row.status] += 1
    valid = [r for r in rows if r.status == BatchRow.Status.VALID]
    done, total = _progress(batch, rows)
    return render(
        request,
        "content/batch_detail.html",
        {
            "batch": batch,
            "project": batch.project,
            "rows": rows,
            "counts": counts,
            "valid": valid,
            "quota": batches.quota(batch, rows) if batch.status == Batch.Status.REVIEW else None,
            "progress": {"done": done, "total": total, "percent": round(100 * done / total) if total else 0},
            "print_files": _print_files(batch),
            "formats": Batch.SheetFormat.choices,
            "can_write": request.tenant.can_write,
            "live": batch.status in LIVE_STATUSES,
        },
    )


def _progress(batch: Batch, rows) -> tuple[int, int]:
    """(done, total): files checked while checking; rows finished once confirmed."""
    if batch.status in (Batch.Status.QUEUED, Batch.Status.CHECKING, Batch.Status.UPLOADING):
        return batch.progress_done, batch.progress_total
    chosen = [r for r in rows if r.status in (*BatchRow.OPEN, BatchRow.Status.CREATED, BatchRow.Status.FAILED)]
    finished = [r for r in chosen if r.live_status in ("ready", "failed")]
    return len(finished), len(chosen)


@require_GET
@portal_view
def batch_status(request, uuid):
    batch = get_batch_for_user(request, uuid)
    rows = list(_rows(batch)) if batch.status in (Batch.Status.RUNNING, Batch.Status.READY) else []
    done, total = _progress(batch, rows)
    return JsonResponse(
        {
            "status": batch.status,
            "status_label": batch.get_status_display(),
            "progress": {"done": done, "total": total},
            "rows": [
                {
                    "number": r.number,
                    "status": r.live_status,
                    "label": r.live_status_label,
                    "error": " ".join(e["text"] for e in r.errors),
                }
                for r in rows
            ],
            "print_files": {p.sheet_format: p.status for p in batch.print_files.all()},
        }
    )


@require_POST
@portal_view
def batch_confirm(request, uuid):
    batch = get_batch_for_user(request, uuid, write=True)
    numbers = list(batch.rows.filter(status=BatchRow.Status.VALID).values_list("number", flat=True))
    form = BatchConfirmForm(request.POST, numbers=numbers)
    if not form.is_valid():
        messages.error(request, _("The list of rows changed; please choose again."))
        return redirect(batch)
    try:
        batches.confirm_batch(batch=batch, by=request.user, skip=form.skip)
    except ValidationError as exc:
        _flash(request, exc)
    else:
        messages.success(request, _("Confirmed. The portraits are being made; this page updates by itself."))
    return redirect(batch)


@require_POST
@portal_view
def batch_cancel(request, uuid):
    batch = get_batch_for_user(request, uuid, write=True)
    try:
        batches.cancel_batch(batch=batch)
    except ValidationError as exc:
        _flash(request, exc)
        return redirect(batch)
    if _wants_json(request):
        return JsonResponse({"status": Batch.Status.CANCELLED})
    messages.success(request, _("The batch was cancelled and its files deleted. Nothing was made."))
    return redirect("portal:batch_list", slug=batch.project.slug)


def _download_name(batch: Batch, suffix: str) -> str:
    return f"batch-{slugify(batch.project.slug)}-{batch.created_at:%Y%m%d-%H%M}-{suffix}"


@require_GET
@portal_view
def batch_print(request, uuid):
    batch = get_batch_for_user(request, uuid)
    fmt = request.GET.get("format", batch.sheet_format)
    if fmt not in Batch.SheetFormat.values or batch.status != Batch.Status.READY:
        messages.error(request, _("The print file is available once the batch is ready."))
        return redirect(batch)
    print_file = batches.request_print_file(batch=batch, sheet_format=fmt)
    if print_file.status != BatchPrintFile.Status.READY:
        messages.info(request, _("The print file is being prepared; its link appears here in a moment."))
        return redirect(batch)
    try:
        handle = batches.open_print_file(print_file)
    except (FileNotFoundError, StorageUnavailable):
        messages.error(request, storage_error_message())
        return redirect(batch)
    return FileResponse(
        handle, as_attachment=True, filename=_download_name(batch, f"{fmt}.pdf"), content_type="application/pdf"
    )


def qr_png_url(request):
    return lambda portrait: request.build_absolute_uri(reverse("api:portrait_qr_png", args=[portrait.unique_id]))


def csv_response(request, batch: Batch) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        batches.orders_csv(batch, qr_png_url=qr_png_url(request)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{_download_name(batch, "orders.csv")}"'
    return response


@require_GET
@portal_view
def batch_csv(request, uuid):
    batch = get_batch_for_user(request, uuid)
    if batch.status != Batch.Status.READY:
        messages.error(request, _("The CSV is available once the batch is ready."))
        return redirect(batch)
    return csv_response(request, batch)
