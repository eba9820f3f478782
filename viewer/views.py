"""The public AR page a QR code opens, and the friendly pages shown instead of it.

The page costs three queries: the portrait (with its company, project, storage connection and
ready MindAR marker, in one query), its playable videos, and the atomic views counter.
"""

from __future__ import annotations

from django.db.models import F, OuterRef, Subquery
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from arv.storage import storage_for_company
from content.models import Portrait
from content.schedules import choose_video
from markers.models import Job
from viewer.clients import is_bot


def _load(uuid) -> Portrait:
    marker = Job.objects.filter(portrait=OuterRef("pk"), kind=Job.Kind.MINDAR, status=Job.Status.READY).values(
        "output"
    )[:1]
    portrait = (
        Portrait.objects.select_related("company__storage_connection", "project")
        .annotate(mindar_output=Subquery(marker))
        .filter(unique_id=uuid)
        .first()
    )
    if portrait is None:
        raise Http404
    return portrait


def unavailable_reason(portrait: Portrait, now) -> str:
    """'' if the page may play; otherwise why not: inactive, unpublished or expired."""
    company, project = portrait.company, portrait.project
    if not company.is_active:
        return "inactive"
    if company.is_subscription_expired or project.is_expired or portrait.is_expired:
        return "expired"
    if project.status in (project.Status.PAUSED, project.Status.ARCHIVED) or not portrait.is_active:
        return "inactive"
    if (project.starts_at and project.starts_at > now) or (portrait.published_at and portrait.published_at > now):
        return "unpublished"
    return ""


def _still_page(request, portrait: Portrait, reason: str):
    show_photo = reason != "inactive" or portrait.company.is_active
    context = {
        "portrait": portrait,
        "company": portrait.company,
        "reason": reason,
        "photo_url": portrait.preview.url if show_photo and portrait.preview else "",
    }
    return render(request, "viewer/still.html", context, status=410 if reason == "expired" else 200)


@never_cache
@require_safe
def page(request, uuid):
    portrait = _load(uuid)
    now = timezone.now()
    reason = unavailable_reason(portrait, now)
    if reason:
        return _still_page(request, portrait, reason)
    video = choose_video(list(portrait.videos.playable()), now)
    if video is None or not portrait.mindar_output:
        return _still_page(request, portrait, "preparing")
    if request.method == "GET" and not is_bot(request.headers.get("User-Agent", "")):
        Portrait.objects.filter(pk=portrait.pk).update(views_count=F("views_count") + 1, last_viewed_at=now)
    storage = storage_for_company(portrait.company)
    playback = video.playback_file
    config = {
        "portrait": str(portrait.unique_id),
        "markerUrl": storage.url(portrait.mindar_output),
        "videoUrl": storage.url(playback.name),
        "videoType": "video/mp4" if video.web_file else video.mime_type,
        "posterUrl": storage.url(video.poster.name) if video.poster else "",
        "previewUrl": storage.url(portrait.preview.name) if portrait.preview else "",
        "targetWidth": portrait.image_width,
        "targetHeight": portrait.image_height,
        "videoWidth": video.width,
        "videoHeight": video.height,
        "beaconUrl": reverse("viewer:beacon", kwargs={"uuid": portrait.unique_id}),
        "notFoundAfterMs": 15000,
    }
    return render(
        request,
        "viewer/page.html",
        {
            "portrait": portrait,
            "company": portrait.company,
            "config": config,
            "title": portrait.title or _("Living photo"),
        },
    )
