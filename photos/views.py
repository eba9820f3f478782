"""Portal pages of a project's photos, a photo (with its markers' state, "regenerate" and "try
again") and its videos."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from companies.access import get_project_for_user, portal_view
from content import printsheet, qr, services
from content.access import get_portrait_for_user, get_video_for_user
from content.forms import (
    PortraitEditForm,
    PortraitUploadForm,
    RotationForm,
    SearchForm,
    VideoAddForm,
    VideoScheduleForm,
)
from content.models import Portrait, Rotation, Video
from content.schedules import choose_video
from lib.forms import add_service_errors
from lib.storage import StorageUnavailable, storage_error_message
from markers.jobs import regenerate_marker, retry_failed_jobs
from markers.models import Job
from markers.reports import marker_summary

PORTRAITS_PER_PAGE = 24


def _wants_json(request) -> bool:
    return request.headers.get("X-Requested-With") == "XMLHttpRequest"


def _form_errors(form) -> dict:
    return {field: [str(e) for e in errors] for field, errors in form.errors.items()}


def _flash_form_errors(request, form) -> None:
    """For forms posted from another page: their errors travel as messages to where we redirect."""
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, error)


@portal_view
def project_detail(request, slug):
    project = get_project_for_user(request, slug)
    search = SearchForm(request.GET)
    q = search.cleaned_data["q"] if search.is_valid() else ""
    portraits = project.portraits.select_related("company").search(q).order_by("-created_at", "-id")
    page = Paginator(portraits, PORTRAITS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "content/project_detail.html", {"project": project, "page": page, "q": q})


def _handle_upload(request, form, save, *, success: str):
    """Run *save(cleaned_data)* for a valid upload form; returns (redirect response or None).

    Service errors become form errors; the form's temporary video file is always released; an
    XMLHttpRequest (the progress-bar script) gets JSON instead of HTML.
    """
    try:
        if form.is_valid():
            try:
                target = save(form.cleaned_data)
            except (ValidationError, StorageUnavailable) as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, success)
                if _wants_json(request):
                    return JsonResponse({"redirect": target.get_absolute_url()})
                return redirect(target)
    finally:
        form.cleanup()
    if _wants_json(request):
        return JsonResponse({"errors": _form_errors(form)}, status=400)
    return None


@portal_view
def portrait_upload(request, slug):
    project = get_project_for_user(request, slug, write=True)
    form = PortraitUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        done = _handle_upload(
            request,
            form,
            lambda data: services.create_portrait(project=project, uploaded_by=request.user, **data),
            success=_("Uploaded. Markers are being made; this page updates by itself."),
        )
        if done:
            return done
    return render(
        request,
        "content/portrait_upload.html",
        {"project": project, "form": form, "max_mb": settings.UPLOAD_MAX_MB, "video_max_mb": settings.VIDEO_MAX_MB},
        status=400 if form.is_bound else 200,
    )


@portal_view
def portrait_detail(request, uuid):
    portrait = get_portrait_for_user(request, uuid)
    videos = list(portrait.videos.select_related("portrait__company"))
    jobs = {job.kind: job for job in portrait.jobs.exclude(kind=Job.Kind.VIDEO)}
    # What a visitor would see right now, so the studio can check its schedule.
    playing = choose_video(
        [v for v in videos if v.status == Video.Status.READY], timezone.now(), portrait.rotation_rule()
    )
    return render(
        request,
        "content/portrait_detail.html",
        {
            "portrait": portrait,
            "videos": videos,
            "jobs": jobs,
            "marker": marker_summary(jobs.get(Job.Kind.MINDAR)),
            "video_form": VideoAddForm(),
            "rotation_form": RotationForm(instance=getattr(portrait, "rotation", None)),
            "playing": playing,
            "events": portrait.video_events.select_related("by")[:20],
            "can_write": request.tenant.can_write,
        },
    )


@require_GET
@portal_view
def portrait_status(request, uuid):
    portrait = get_portrait_for_user(request, uuid)
    jobs = list(portrait.jobs.all())
    mindar = next((j for j in jobs if j.kind == Job.Kind.MINDAR), None)
    return JsonResponse(
        {
            "status": portrait.status,
            "status_label": portrait.get_status_display(),
            "jobs": [
                {
                    "kind": j.kind,
                    "video": j.video_id,
                    "status": j.status,
                    "label": j.get_status_display(),
                    "error": _(j.error) if j.error else "",
                }
                for j in jobs
            ],
            "marker": marker_summary(mindar),
        }
    )


@portal_view
def portrait_edit(request, uuid):
    portrait = get_portrait_for_user(request, uuid, write=True)
    initial = {name: getattr(portrait, name) for name in PortraitEditForm.base_fields}
    form = PortraitEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_portrait(portrait=portrait, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect(portrait)
    return render(request, "content/portrait_edit.html", {"portrait": portrait, "form": form})


@require_POST
@portal_view
def portrait_delete(request, uuid):
    portrait = get_portrait_for_user(request, uuid, write=True)
    project = portrait.project
    services.delete_portrait(portrait=portrait)
    messages.success(request, _("“%(title)s” and its files were deleted.") % {"title": portrait.title})
    return redirect(project)


@require_POST
@portal_view
def portrait_retry(request, uuid):
    """Try a failed photo's failed jobs again; back to where the button was (the dashboard)."""
    portrait = get_portrait_for_user(request, uuid, write=True)
    if retry_failed_jobs(portrait=portrait):
        messages.success(request, _("“%(title)s” is being processed again.") % {"title": portrait.title})
    else:
        messages.info(request, _("Nothing of “%(title)s” has failed.") % {"title": portrait.title})
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(portrait)


@require_POST
@portal_view
def portrait_regenerate(request, uuid):
    portrait = get_portrait_for_user(request, uuid, write=True)
    regenerate_marker(portrait=portrait)
    messages.success(request, _("The marker is being made again."))
    return redirect(portrait)


def _qr_response(body: bytes, content_type: str, portrait: Portrait, ext: str, request) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    disposition = "attachment" if request.GET.get("download") else "inline"
    response["Content-Disposition"] = (
        f'{disposition}; filename="qr-{slugify(portrait.title) or portrait.unique_id}.{ext}"'
    )
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_GET
@portal_view
def portrait_qr_png(request, uuid):
    portrait = get_portrait_for_user(request, uuid)
    return _qr_response(qr.qr_png(portrait.public_url), "image/png", portrait, "png", request)


@require_GET
@portal_view
def portrait_qr_svg(request, uuid):
    portrait = get_portrait_for_user(request, uuid)
    return _qr_response(qr.qr_svg(portrait.public_url), "image/svg+xml", portrait, "svg", request)


@require_GET
@portal_view
def project_album_qr(request, slug):
    project = get_project_for_user(request, slug)
    response = HttpResponse(qr.qr_png(project.album_url), content_type="image/png")
    response["Content-Disposition"] = f'attachment; filename="album-{project.slug}.png"'
    return response


def _read_logo(company) -> bytes | None:
    if not company.brand_logo:
        return None
    try:
        with company.brand_logo.open("rb") as fh:
            return fh.read()
    except Exception:
        # The sheet is still useful without the logo; the photo read above already worked.
        return None


@require_GET
@portal_view
def portrait_print_sheet(request, uuid):
    portrait = get_portrait_for_user(request, uuid)
    fmt = request.GET.get("format", "a4")
    if fmt not in printsheet.FORMATS:
        fmt = "a4"
    try:
        with portrait.image.open("rb") as fh:
            image = fh.read()
    except Exception:
        messages.error(request, storage_error_message())
        return redirect(portrait)
    brand = portrait.company.brand
    try:
        pdf = printsheet.print_sheet_pdf(
            image=image,
            url=portrait.public_url,
            instruction=str(printsheet.INSTRUCTION),
            title=portrait.title,
            fmt=fmt,
            creator=brand.name if brand.is_set else settings.SITE_NAME,
            brand_name=brand.name if brand.is_set else "",
            brand_logo=_read_logo(portrait.company),
        )
    except OSError:
        # The stored file is not a readable image (damaged in storage): say so on the photo's
        # page rather than answering 500.
        messages.error(request, _("The photo could not be read to make its print sheet. Upload it again."))
        return redirect(portrait)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="print-{slugify(portrait.title) or portrait.unique_id}-{fmt}.pdf"'
    )
    return response


@require_POST
@portal_view
def video_add(request, uuid):
    portrait = get_portrait_for_user(request, uuid, write=True)
    form = VideoAddForm(request.POST, request.FILES)

    def save(data):
        services.add_video(portrait=portrait, by=request.user, **data)
        return portrait

    done = _handle_upload(request, form, save, success=_("Video added; it is being prepared for phones."))
    if done:
        return done
    _flash_form_errors(request, form)
    return redirect(portrait)


@require_POST
@portal_view
def video_activate(request, uuid, pk):
    portrait = get_portrait_for_user(request, uuid, write=True)
    video = get_video_for_user(request, portrait, pk, write=True)
    if request.POST.get("active") == "0":
        services.deactivate_video(video=video, by=request.user)
        messages.success(request, _("The schedule decides which video plays now."))
    else:
        services.activate_video(video=video, by=request.user)
        messages.success(request, _("“%(title)s” now plays on this photo.") % {"title": video})
    return redirect(portrait)


@portal_view
def video_edit(request, uuid, pk):
    portrait = get_portrait_for_user(request, uuid, write=True)
    video = get_video_for_user(request, portrait, pk, write=True)
    form = VideoScheduleForm(
        request.POST or None, initial={name: getattr(video, name) for name in VideoScheduleForm.base_fields}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.update_video(video=video, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Video saved."))
            return redirect(portrait)
    return render(request, "content/video_edit.html", {"portrait": portrait, "video": video, "form": form})


@require_POST
@portal_view
def portrait_rotation(request, uuid):
    portrait = get_portrait_for_user(request, uuid, write=True)
    form = RotationForm(request.POST, instance=getattr(portrait, "rotation", None) or Rotation(portrait=portrait))
    if form.is_valid():
        try:
            services.update_rotation(
                portrait=portrait, by=request.user, **{f: form.cleaned_data[f] for f in form.Meta.fields}
            )
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, _("Rotation saved; it starts now with the first video."))
    else:
        _flash_form_errors(request, form)
    return redirect(portrait)


@require_POST
@portal_view
def video_move(request, uuid, pk):
    portrait = get_portrait_for_user(request, uuid, write=True)
    video = get_video_for_user(request, portrait, pk, write=True)
    order = list(portrait.videos.values_list("pk", flat=True))
    i = order.index(video.pk)
    j = i - 1 if request.POST.get("direction") == "up" else i + 1
    if 0 <= j < len(order):
        order[i], order[j] = order[j], order[i]
        services.reorder_videos(portrait=portrait, order=order, by=request.user)
    return redirect(portrait)


@require_POST
@portal_view
def video_delete(request, uuid, pk):
    portrait = get_portrait_for_user(request, uuid, write=True)
    video = get_video_for_user(request, portrait, pk, write=True)
    services.delete_video(video=video, by=request.user)
    messages.success(request, _("Video deleted."))
    return redirect(portrait)
