"""The events other apps announce, each with its payload: the API's own representation.

Each function receives the signal (``companies.signals``, ``content.signals``) sent at the one
place its state change happens, inside that change's transaction, and builds its payload only
when some endpoint listens (see :func:`webhooks.services.emit`):

- ``portrait.ready`` / ``portrait.failed``: ``markers.status.refresh_portrait_status``, when the
  conditional status update actually moved the photo to that status;
- ``video.ready``: ``markers.handlers.video.process_video``, when the video row turned ready;
- ``project.expiring`` / ``subscription.expiring``: ``companies.notifications``, with the same
  key as the e-mail reminder, so each expiry date is announced once;
- ``batch.ready``: ``content.batches.batch_ready``, the one place a batch becomes ready.
"""

from __future__ import annotations

from rest_framework import serializers

from companies import signals as company_signals
from companies.api import ProjectOutputSerializer
from companies.models import Company, Project
from content import signals as content_signals
from content.batch_api import BatchOutputSerializer, batch_data
from content.models import Batch, Portrait, Video
from lib.api_fields import StrictCharField, StrictSlugField
from photos.api import PortraitOutputSerializer, VideoOutputSerializer, with_api_relations
from webhooks.models import EventType
from webhooks.services import emit


def _portrait(portrait_id: int) -> dict:
    portrait = with_api_relations(Portrait.objects.filter(pk=portrait_id)).get()
    return PortraitOutputSerializer(portrait, context={"request": None}).data


def portrait_status_changed(*, portrait, status: str) -> None:
    """A photo's status moved; ``ready`` and ``failed`` are announced."""
    event_type = {
        Portrait.Status.READY: EventType.PORTRAIT_READY,
        Portrait.Status.FAILED: EventType.PORTRAIT_FAILED,
    }.get(status)
    if event_type:
        emit(company=portrait.company, event_type=event_type, data=lambda: {"portrait": _portrait(portrait.pk)})


def video_ready(*, video) -> None:
    """A video can be played: announced with the video and the photo it plays on."""
    def data() -> dict:
        fresh = Video.objects.select_related("portrait__company__storage_connection").get(pk=video.pk)
        return {
            "video": VideoOutputSerializer(fresh, context={"request": None}).data,
            "portrait": _portrait(fresh.portrait_id),
        }

    emit(company=video.portrait.company, event_type=EventType.VIDEO_READY, data=data)


def project_expiring(*, project: Project, key: str) -> None:
    """A project (and its photos) stops being shown soon; *key* names the expiry date."""
    def data() -> dict:
        fresh = Project.objects.filter(pk=project.pk).with_portrait_counts().get()
        return {"project": ProjectOutputSerializer(fresh).data}

    emit(company=project.company, event_type=EventType.PROJECT_EXPIRING, data=data, dedupe_key=key)


class SubscriptionSerializer(serializers.Serializer):
    company = StrictSlugField(source="slug")
    name = StrictCharField()
    tier = StrictCharField(source="subscription_tier")
    expires_at = serializers.DateTimeField(source="subscription_expires_at")
    auto_renew = serializers.BooleanField(source="subscription_auto_renew")


def subscription_expiring(*, company: Company, key: str) -> None:
    """The company's subscription ends soon; after it the portal and API become read-only."""
    emit(
        company=company,
        event_type=EventType.SUBSCRIPTION_EXPIRING,
        data=lambda: {"subscription": SubscriptionSerializer(company).data},
        dedupe_key=key,
    )


def batch_ready(*, batch) -> None:
    """A batch upload finished: announced once per batch with the API's batch representation."""
    def data() -> dict:
        fresh = Batch.objects.select_related("project").get(pk=batch.pk)
        return {"batch": BatchOutputSerializer(batch_data(None, fresh)).data}

    emit(company=batch.company, event_type=EventType.BATCH_READY, data=data, dedupe_key=f"batch_ready:{batch.pk}")


def listen() -> None:
    """Turn the lower apps' signals into events (``WebhooksConfig.ready``)."""
    receivers = {
        content_signals.portrait_status_changed: portrait_status_changed,
        content_signals.video_ready: video_ready,
        content_signals.batch_ready: batch_ready,
        company_signals.project_expiring: project_expiring,
        company_signals.subscription_expiring: subscription_expiring,
    }
    for signal, event in receivers.items():
        signal.connect(_receiver(event), weak=False, dispatch_uid=f"webhooks.events.{event.__name__}")


def _receiver(event):
    def receive(sender, signal=None, **kwargs):
        event(**kwargs)

    return receive
