"""The public AR pages a QR code opens, and the friendly pages shown instead of them.

``/v/<uuid>/`` plays one photo and costs at most three queries: the portrait (with its company,
project, storage connection, rotation and ready MindAR marker, in one query), its playable
videos, and the views counter (batched per process, see viewer/counter.py). Rendered pages are
reused for a few seconds by each process (viewer/pagecache.py).

``/p/<uuid>/`` is a project's album: one combined marker, every photo a target.
"""

from __future__ import annotations

import json
from functools import lru_cache

from django.db.models import OuterRef, Prefetch, Subquery
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from arv.csp import add_csp, script_hash
from arv.storage import storage_for_company
from companies.models import Project
from content.models import Portrait, Video
from content.schedules import choose_video
from markers.models import Job
from viewer import counter, pagecache
from viewer.clients import is_bot

NOT_FOUND_AFTER_MS = 15000


def _load(uuid) -> Portrait:
    marker = Job.objects.filter(portrait=OuterRef("pk"), kind=Job.Kind.MINDAR, status=Job.Status.READY).values(
        "output"
    )[:1]
    # No .first(): its ORDER BY costs more to build than the query takes to run.
    found = list(
        Portrait.objects.select_related("company__storage_connection", "project", "rotation")
        .annotate(mindar_output=Subquery(marker))
        .filter(unique_id=uuid)
        .order_by()[:1]
    )
    if not found:
        raise Http404
    return found[0]


def project_unavailable_reason(project: Project, now, company=None) -> str:
    company = company or project.company
    if not company.is_active:
        return "inactive"
    if company.is_subscription_expired or project.is_expired:
        return "expired"
    if project.status in (project.Status.PAUSED, project.Status.ARCHIVED):
        return "inactive"
    if project.starts_at and project.starts_at > now:
        return "unpublished"
    return ""


def unavailable_reason(portrait: Portrait, now) -> str:
    """'' if the page may play; otherwise why not: inactive, unpublished or expired."""
    reason = project_unavailable_reason(portrait.project, now, company=portrait.company)
    if reason:
        return reason
    if portrait.is_expired:
        return "expired"
    if not portrait.is_active:
        return "inactive"
    if portrait.published_at and portrait.published_at > now:
        return "unpublished"
    return ""


def _still_page(request, *, company, reason: str, title: str = "", photo_url: str = ""):
    context = {
        "company": company,
        "reason": reason,
        "title": title,
        # Nothing of an inactive company is shown publicly, not even the photo.
        "photo_url": photo_url if company.is_active else "",
    }
    return render(request, "viewer/still.html", context, status=410 if reason == "expired" else 200)


def _target(storage, portrait: Portrait, video: Video) -> dict:
    return {
        "portrait": str(portrait.unique_id),
        "videoUrl": storage.url(video.playback_file.name),
        "videoType": "video/mp4" if video.web_file else video.mime_type,
        "posterUrl": storage.url(video.poster.name) if video.poster else "",
        "targetWidth": portrait.image_width,
        "targetHeight": portrait.image_height,
        "videoWidth": video.width,
        "videoHeight": video.height,
        "beaconUrl": reverse("viewer:beacon", kwargs={"uuid": portrait.unique_id}),
    }


def _counts(request) -> bool:
    return request.method == "GET" and not is_bot(request.headers.get("User-Agent", ""))


@never_cache
@require_safe
def page(request, uuid):
    key = ("page", str(uuid), request.LANGUAGE_CODE)
    cached = pagecache.get(key)
    if cached is not None:
        if cached.portrait_pk and _counts(request):
            counter.count(cached.portrait_pk, timezone.now())
        response = HttpResponse(cached.content, status=cached.status, content_type=cached.content_type)
        response.csp_extra = cached.csp_extra
        if cached.permissions_policy:
            response.permissions_policy = cached.permissions_policy
        add_never_cache_headers(response)
        return response
    response, portrait_pk = _render_page(request, uuid)
    pagecache.put(key, response, portrait_pk=portrait_pk)
    return response


def _render_page(request, uuid) -> tuple[HttpResponse, int | None]:
    """The page and, when it plays, the portrait whose views it counts."""
    portrait = _load(uuid)
    now = timezone.now()
    preview = portrait.preview.url if portrait.preview else ""
    reason = unavailable_reason(portrait, now)
    if reason:
        return _still_page(
            request, company=portrait.company, reason=reason, title=portrait.title, photo_url=preview
        ), None
    video = choose_video(list(portrait.videos.playable()), now, portrait.rotation_rule())
    if video is None or not portrait.mindar_output:
        still = _still_page(
            request, company=portrait.company, reason="preparing", title=portrait.title, photo_url=preview
        )
        return still, None
    if _counts(request):
        counter.count(portrait.pk, now)
    storage = storage_for_company(portrait.company)
    config = {
        "markerUrl": storage.url(portrait.mindar_output),
        "previewUrl": preview,
        "targets": [_target(storage, portrait, video)],
        "notFoundAfterMs": NOT_FOUND_AFTER_MS,
    }
    title = portrait.title or _("Living photo")
    return _ar_page(request, company=portrait.company, config=config, title=title), portrait.pk


# The viewer may use the camera and play media; nothing else (WebGL needs no permission).
VIEWER_PERMISSIONS = (
    "camera=(self), autoplay=(self), fullscreen=(self), microphone=(), geolocation=(), payment=(), usb=()"
)


@lru_cache(maxsize=1)
def importmap() -> str:
    """Where the page's bare module names resolve; allowed by its hash in the page's CSP."""
    return json.dumps(
        {
            "imports": {
                "three": static("vendor/three/build/three.module.min.js"),
                "three/addons/renderers/CSS3DRenderer.js": static("vendor/three/addons/renderers/CSS3DRenderer.js"),
                "mindar-image-three": static("vendor/mind-ar/mindar-image-three.prod.js"),
            }
        },
        separators=(",", ":"),
    )


def _ar_page(request, *, company, config: dict, title: str) -> HttpResponse:
    imports = importmap()
    context = {"company": company, "config": config, "title": title, "importmap": mark_safe(imports)}  # noqa: S308
    response = render(request, "viewer/page.html", context)
    add_csp(response, script_src=(script_hash(imports),), permissions=VIEWER_PERMISSIONS)
    return response


@never_cache
@require_safe
def album(request, uuid):
    """Every live photo of a project on one page: point the camera at any of them."""
    project = (
        Project.objects.select_related("company__storage_connection", "combined_marker").filter(public_id=uuid).first()
    )
    if project is None:
        raise Http404
    now = timezone.now()
    reason = project_unavailable_reason(project, now)
    if reason:
        return _still_page(request, company=project.company, reason=reason, title=project.name)
    marker = getattr(project, "combined_marker", None)
    if marker is None or not marker.output or not marker.targets:
        return _still_page(request, company=project.company, reason="preparing", title=project.name)
    playable = Prefetch("videos", queryset=Video.objects.playable())
    portraits = {
        str(p.unique_id): p
        for p in Portrait.objects.filter(project=project, unique_id__in=marker.targets)
        .publicly_visible()
        .select_related("company", "rotation")
        .prefetch_related(playable)
    }
    storage = storage_for_company(project.company)
    targets = []
    for index, key in enumerate(marker.targets):
        portrait = portraits.get(key)
        video = choose_video(list(portrait.videos.all()), now, portrait.rotation_rule()) if portrait else None
        if video is not None:
            targets.append({**_target(storage, portrait, video), "index": index})
    if not targets:
        return _still_page(request, company=project.company, reason="preparing", title=project.name)
    config = {
        "markerUrl": storage.url(marker.output.name),
        "previewUrl": "",
        "targets": targets,
        "notFoundAfterMs": NOT_FOUND_AFTER_MS,
    }
    return _ar_page(request, company=project.company, config=config, title=project.name)
