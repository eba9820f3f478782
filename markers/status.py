"""A photo's status, derived from its jobs and videos: the one place it changes."""

from __future__ import annotations

from django.db import transaction

from content import signals
from content.batches import portrait_settled
from content.models import Portrait, Video
from markers.models import Job


def derive_status(portrait: Portrait) -> str:
    """Ready when the MindAR marker (and the NFT one, if the photo plays with AR.js), the
    preview and at least one video are ready."""
    jobs = {j.kind: j.status for j in portrait.jobs.exclude(kind=Job.Kind.VIDEO)}
    required = [jobs.get(Job.Kind.MINDAR), jobs.get(Job.Kind.PREVIEW)]
    if portrait.engine == Job.Kind.NFT:
        required.append(jobs.get(Job.Kind.NFT))
    if Job.Status.FAILED in required:
        return Portrait.Status.FAILED
    video_states = list(portrait.videos.values_list("status", flat=True))
    if not video_states:
        return (
            Portrait.Status.NEEDS_VIDEO if all(s == Job.Status.READY for s in required) else Portrait.Status.PROCESSING
        )
    if all(s == Job.Status.READY for s in required) and Video.Status.READY in video_states:
        return Portrait.Status.READY
    if all(s == Video.Status.FAILED for s in video_states):
        return Portrait.Status.FAILED
    return Portrait.Status.PROCESSING


def refresh_portrait_status(*, portrait: Portrait) -> str:
    """Recompute the photo's status from its jobs and videos: the one place it changes.

    The photo's row is locked meanwhile, so two jobs finishing at once derive one after the
    other from what the first committed, and only the refresh that really moves the status
    announces it (``portrait.ready`` / ``portrait.failed`` webhooks, once per change).
    """
    with transaction.atomic():
        current = Portrait.objects.select_for_update().filter(pk=portrait.pk).values_list("status", flat=True).first()
        if current is None:
            return portrait.status  # deleted meanwhile
        portrait.status = current
        status = derive_status(portrait)
        changed = portrait.set_status(status)
        if changed:
            signals.portrait_status_changed.send(sender=Portrait, portrait=portrait, status=status)
    if changed and status != Portrait.Status.PROCESSING:
        # After the commit: the last portrait of a batch to finish makes the batch ready.
        portrait_settled(portrait_id=portrait.pk)
    return status
