"""Webhooks through a real `qcluster` worker process: an upload's events reach the receiver
signed, and a worker killed in the middle of a request loses nothing and sends nothing twice."""

import json
import time
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from arv.testing import media
from arv.testing.factories import jpeg_bytes
from arv.testing.processes import database_url, start_qcluster, stop, wait_for
from content.models import Portrait
from webhooks import services, signing
from webhooks.models import Delivery
from webhooks.tests.receiver import Answer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker_env(settings, monkeypatch, allow_private):
    """The ORM broker in this process and in the worker; the worker may call the local receiver."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "ORM", "default")
    return {
        "DATABASE_URL": database_url(connection.settings_dict),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "REDIS_URL": "",
        "TASK_WORKERS": "2",
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "1",
    }


def test_an_uploads_events_reach_the_receiver_through_the_worker(client, tenants, tmp_path, receiver, worker_env):
    _endpoint, secret = services.create_endpoint(
        company=tenants.a, url=receiver.url(), event_types=["portrait.ready", "video.ready"]
    )
    worker = start_qcluster(env=worker_env, log_path=tmp_path / "qcluster.log")
    try:
        client.force_login(tenants.owner)
        response = client.post(
            reverse("portal:portrait_upload", args=[tenants.project_a.slug]),
            {
                "title": "Coffee",
                "image": SimpleUploadedFile("photo.jpg", jpeg_bytes(900, 700)),
                "video": SimpleUploadedFile("clip.mp4", media.mp4_bytes(tmp_path, seconds=1.0, size=(160, 120))),
            },
        )
        assert response.status_code == 302
        portrait = Portrait.objects.get()
        # Until the worker has recorded both outcomes (the receiver sees a request before the
        # worker records its answer).
        wait_for(
            lambda: Delivery.objects.count() == 2 and not Delivery.objects.exclude(status="succeeded").exists()
        )
    finally:
        stop(worker)
    log = (tmp_path / "qcluster.log").read_text(errors="replace")
    bodies = [json.loads(r.body) for r in receiver.requests]
    assert sorted(b["type"] for b in bodies) == ["portrait.ready", "video.ready"], log[-3000:]
    ready = next(b for b in bodies if b["type"] == "portrait.ready")
    assert ready["data"]["portrait"]["id"] == str(portrait.unique_id)
    assert ready["data"]["portrait"]["status"] == "ready"
    for request in receiver.requests:
        stamp = int(request.headers["webhook-timestamp"])
        expected = signing.sign(secret, msg_id=request.headers["webhook-id"], timestamp=stamp, body=request.body)
        assert request.headers["webhook-signature"] == expected
    assert set(Delivery.objects.values_list("status", flat=True)) == {"succeeded"}


def test_a_worker_killed_mid_request_loses_nothing_and_sends_nothing_twice(tenants, tmp_path, receiver, worker_env):
    services.create_endpoint(company=tenants.a, url=receiver.url(), event_types=["portrait.ready"])
    receiver.answer(Answer(hold=True))  # the first request never gets an answer in time
    worker = start_qcluster(env=worker_env, log_path=tmp_path / "first.log")
    try:
        event = services.emit(company=tenants.a, event_type="portrait.ready", data={"n": 1})
        wait_for(lambda: len(receiver.requests) == 1, interval=0.05)
    finally:
        stop(worker, kill=True)  # SIGKILL the whole cluster while it waits for the answer
    receiver.released.set()
    delivery = event.deliveries.get()
    assert delivery.status == "delivering" and delivery.attempts == 1

    # Its lease runs out (5 minutes, moved here instead of waited for), and the sweeper takes it back.
    Delivery.objects.filter(pk=delivery.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    counts = services.sweep()
    assert counts["recovered"] == 1 and counts["queued"] == 1

    worker = start_qcluster(env=worker_env, log_path=tmp_path / "second.log")
    try:
        wait_for(lambda: Delivery.objects.get(pk=delivery.pk).status == "succeeded")
        # Nothing more comes, whatever the sweeper does meanwhile.
        for _ in range(3):
            services.sweep()
            time.sleep(0.5)
    finally:
        stop(worker)
    assert len(receiver.requests) == 2
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == str(event.id)
    assert first.body == second.body
    assert (first.headers["arv-attempt"], second.headers["arv-attempt"]) == ("1", "2")
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and delivery.attempt_log.count() == 1
