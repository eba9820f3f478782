"""Each state change is announced once, from the one place it happens, with the API's
representation as its payload."""

import json
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from arv.testing import media
from arv.testing.api import token_client
from companies import notifications
from companies.models import Company, Project
from companies.storage import storage_for_company
from content.models import Portrait, Video
from markers.jobs import run_job
from markers.models import Job
from markers.status import refresh_portrait_status
from webhooks import services
from webhooks.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def processing(tenants, make_portrait):
    """A photo with a ready video whose marker and preview are still being made."""
    portrait = make_portrait(tenants.project_a, title="Anna", with_video=True, order_reference="ORD-17")
    for kind in ("mindar", "preview"):
        Job.objects.create(portrait=portrait, kind=kind, status="processing")
    refresh_portrait_status(portrait=portrait)
    assert portrait.status == "processing"
    return portrait


def finish(portrait, *kinds, status="ready"):
    Job.objects.filter(portrait=portrait, kind__in=kinds).update(status=status)


def events(type_=None):
    found = Event.objects.order_by("created_at")
    return list(found.filter(type=type_) if type_ else found)


def test_portrait_ready_is_announced_once_with_the_apis_representation(endpoint, processing, tenants, settings):
    finish(processing, "mindar", "preview")
    assert refresh_portrait_status(portrait=processing) == "ready"
    refresh_portrait_status(portrait=processing)
    refresh_portrait_status(portrait=Portrait.objects.get(pk=processing.pk))
    (event,) = events()
    body = json.loads(event.body)
    assert body["type"] == "portrait.ready" and body["id"] == str(event.id) and body["company"] == "alpha"
    # The same representation GET /api/v1/portraits/{id}/ answers on the site's host.
    host = settings.SITE_URL.removeprefix("http://")
    api = token_client(tenants.owner).get(f"/api/v1/portraits/{processing.unique_id}/", HTTP_HOST=host).json()
    assert body["data"] == {"portrait": api}
    assert api["status"] == "ready" and api["order_reference"] == "ORD-17"
    assert api["viewer_url"] == processing.public_url and api["qr_png_url"].startswith(settings.SITE_URL)
    assert event.deliveries.get().endpoint == endpoint


def test_two_refreshes_racing_with_stale_copies_announce_once(endpoint, processing):
    first, second = Portrait.objects.get(pk=processing.pk), Portrait.objects.get(pk=processing.pk)
    finish(processing, "mindar", "preview")
    refresh_portrait_status(portrait=first)
    refresh_portrait_status(portrait=second)  # its in-memory status still says "processing"
    assert len(events("portrait.ready")) == 1


def test_portrait_failed_is_announced(endpoint, processing):
    finish(processing, "mindar", status="failed")
    assert refresh_portrait_status(portrait=processing) == "failed"
    (event,) = events()
    assert event.type == "portrait.failed"
    assert json.loads(event.body)["data"]["portrait"]["status"] == "failed"


def test_ready_again_after_a_new_video_is_a_new_event(endpoint, processing):
    finish(processing, "mindar", "preview")
    refresh_portrait_status(portrait=processing)
    video = processing.videos.get()
    Video.objects.filter(pk=video.pk).update(status="processing")
    assert refresh_portrait_status(portrait=processing) == "processing"
    Video.objects.filter(pk=video.pk).update(status="ready")
    refresh_portrait_status(portrait=processing)
    assert len(events("portrait.ready")) == 2


def test_other_statuses_are_not_announced(endpoint, tenants, make_portrait):
    portrait = make_portrait(tenants.project_a)
    Job.objects.create(portrait=portrait, kind="mindar", status="ready")
    Job.objects.create(portrait=portrait, kind="preview", status="ready")
    assert refresh_portrait_status(portrait=portrait) == "needs_video"
    assert events() == []


@pytest.fixture
def unprocessed_video(tenants, make_portrait, tmp_path):
    portrait = make_portrait(tenants.project_a, title="With a real clip")
    clip = media.mp4_file(tmp_path / "clip.mp4", seconds=1.0, size=(160, 120))
    name = storage_for_company(tenants.a).save(f"{portrait.storage_dir}/clip.mp4", ContentFile(clip.read_bytes()))
    video = Video.objects.create(
        portrait=portrait, file=name, size_bytes=clip.stat().st_size, duration=1.0, width=160, height=120
    )
    return Job.objects.create(portrait=portrait, video=video, kind="video")


def test_video_ready_is_announced_once_even_when_the_video_is_made_again(endpoint, unprocessed_video):
    job = unprocessed_video
    assert run_job(job_id=job.pk) == "ready"
    (event,) = events("video.ready")
    data = json.loads(event.body)["data"]
    assert data["video"]["id"] == job.video_id and data["video"]["status"] == "ready"
    assert data["video"]["poster_url"].startswith("http")
    assert data["portrait"]["id"] == str(job.portrait.unique_id)
    # Made again (an admin's retry): the video was ready already, nothing new to announce.
    Job.objects.filter(pk=job.pk).update(status="pending")
    assert run_job(job_id=job.pk) == "ready"
    assert len(events("video.ready")) == 1


def test_expiry_reminders_announce_each_expiry_once(endpoint, tenants):
    now = timezone.now()
    project = tenants.project_a
    Project.objects.filter(pk=project.pk).update(expires_at=now + timedelta(days=3), notify_days_before_expiry=7)
    Company.objects.filter(pk=tenants.a.pk).update(subscription_expires_at=now + timedelta(days=5))
    # Not due yet for a far-away expiry, and never for a project that renews itself.
    Project.objects.create(company=tenants.a, name="Later", slug="later", expires_at=now + timedelta(days=60))
    Project.objects.create(
        company=tenants.a, name="Renews", slug="renews", expires_at=now + timedelta(days=1), auto_renew=True
    )
    for _ in range(3):
        notifications.queue_expiry_reminders(now=now)
    (expiring,) = events("project.expiring")
    assert json.loads(expiring.body)["data"]["project"]["slug"] == "weddings"
    (subscription,) = events("subscription.expiring")
    assert json.loads(subscription.body)["data"] == {
        "subscription": {
            "company": "alpha",
            "name": "Alpha Studio",
            "tier": "free",
            "expires_at": (now + timedelta(days=5)).isoformat().replace("+00:00", "Z"),
            "auto_renew": False,
        }
    }
    # A new expiry date is a new event.
    Project.objects.filter(pk=project.pk).update(expires_at=now + timedelta(days=4))
    notifications.queue_expiry_reminders(now=now)
    assert len(events("project.expiring")) == 2


def test_expiry_is_announced_even_without_an_e_mail_recipient(endpoint, tenants):
    Company.objects.filter(pk=tenants.a.pk).update(
        contact_email="", subscription_expires_at=timezone.now() + timedelta(days=1)
    )
    tenants.owner.email = ""
    tenants.owner.save()
    notifications.queue_expiry_reminders()
    assert len(events("subscription.expiring")) == 1


def test_an_endpoint_added_later_still_hears_of_a_pending_expiry(make_endpoint, receiver, tenants):
    Company.objects.filter(pk=tenants.a.pk).update(subscription_expires_at=timezone.now() + timedelta(days=2))
    notifications.queue_expiry_reminders()
    assert events() == []
    make_endpoint(receiver.url())
    notifications.queue_expiry_reminders()
    assert len(events("subscription.expiring")) == 1


def test_a_ready_batch_is_announced_once_with_the_apis_representation(
    endpoint, tenants, tmp_path, django_capture_on_commit_callbacks
):
    from content import batches
    from content.tests import batch_data, batch_flow

    batch = batch_flow.check(batch_flow.start(tenants, batch_data.zip_bytes(batch_data.pairs(tmp_path, 2))))
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_flow.run_to_ready(batch)
    assert batch.status == "ready"
    batches.batch_ready(batch)  # a second call (the sweeper racing the last row) announces nothing
    (event,) = events("batch.ready")
    body = json.loads(event.body)
    payload = token_client(tenants.owner, company="alpha").get(f"/api/v1/batches/{batch.uuid}/").json()
    assert body["data"]["batch"]["id"] == str(batch.uuid) == payload["id"]
    assert body["data"]["batch"]["status"] == "ready" and body["data"]["batch"]["counts"] == payload["counts"]
    assert body["data"]["batch"]["csv_url"].endswith(f"/api/v1/batches/{batch.uuid}/orders.csv")


def test_payload_texts_are_in_the_companys_language(endpoint, tenants):
    Company.objects.filter(pk=tenants.a.pk).update(language="ru")
    tenants.a.refresh_from_db()
    from django.utils.translation import gettext

    event = services.emit(company=tenants.a, event_type="portrait.ready", data=lambda: {"word": gettext("Ready")})
    assert json.loads(event.body)["data"] == {"word": "Готово"}
