"""Upload to ready with a real `qcluster` worker process, on the ORM broker and on Redis, and
recovery from a worker killed in the middle of a compile."""

import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from arv.testing import media
from arv.testing.processes import database_url, redis_server, start_qcluster, stop, wait_for
from content.models import Portrait
from markers.jobs import sweep_jobs
from markers.models import Job

FIXTURES = Path(__file__).parent / "fixtures" / "mindar"
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(params=["orm", "redis"])
def broker(request, monkeypatch):
    """Point this process's django-q2 at the broker under test; yield the worker's environment."""
    from django_q.conf import Conf

    if request.param == "orm":
        monkeypatch.setattr(Conf, "ORM", "default")
        yield {"REDIS_URL": ""}
    else:
        with redis_server() as url:
            monkeypatch.setattr(Conf, "ORM", None)
            monkeypatch.setattr(Conf, "REDIS", url)
            yield {"REDIS_URL": url}


def worker_env(settings, broker_env, **extra) -> dict:
    return {
        "DATABASE_URL": database_url(connection.settings_dict),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "TASK_WORKERS": "2",
        **broker_env,
        **extra,
    }


def upload(client, tenants, tmp_path):
    client.force_login(tenants.owner)
    response = client.post(
        reverse("portal:portrait_upload", args=[tenants.project_a.slug]),
        {
            "title": "Coffee",
            "image": SimpleUploadedFile("coffee.jpg", (FIXTURES / "coffee_1000.jpg").read_bytes()),
            "video": SimpleUploadedFile("clip.mp4", media.mp4_bytes(tmp_path)),
        },
    )
    assert response.status_code == 302
    return Portrait.objects.get()


def test_upload_becomes_ready_with_no_manual_step(client, tenants, settings, tmp_path, broker):
    worker = start_qcluster(env=worker_env(settings, broker), log_path=tmp_path / "qcluster.log")
    try:
        portrait = upload(client, tenants, tmp_path)
        wait_for(lambda: Portrait.objects.get(pk=portrait.pk).status in ("ready", "failed"))
    finally:
        stop(worker)
    portrait.refresh_from_db()
    log = (tmp_path / "qcluster.log").read_text(errors="replace")
    assert portrait.status == "ready", log[-3000:]
    mindar = Job.objects.get(portrait=portrait, kind="mindar")
    assert mindar.output.name.endswith(".mind") and mindar.report["score"] > 50
    assert portrait.preview and portrait.videos.get().poster
    # The page the QR code opens now plays.
    response = client.get(
        reverse("viewer:page", args=[portrait.unique_id]), HTTP_USER_AGENT="Mozilla/5.0 (iPhone) Mobile"
    )
    assert b'data-ar-state="loading"' in response.content


def test_a_worker_killed_mid_compile_is_recovered_by_the_sweeper(client, tenants, settings, tmp_path, monkeypatch):
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "ORM", "default")
    env = worker_env(settings, {"REDIS_URL": ""})
    worker = start_qcluster(env=env, log_path=tmp_path / "first.log")
    try:
        portrait = upload(client, tenants, tmp_path)
        wait_for(
            lambda: Job.objects.filter(portrait=portrait, kind="mindar", status="processing").exists(), interval=0.02
        )
    finally:
        stop(worker, kill=True)  # SIGKILL the whole cluster mid-compile
    job = Job.objects.get(portrait=portrait, kind="mindar")
    assert job.status == "processing" and job.attempts == 1

    # Jobs the dead worker held are stuck; tasks it had fetched but not started are lost.
    settings.JOB_STUCK_AFTER_SECONDS = settings.JOB_LOST_AFTER_SECONDS = 1
    time.sleep(1.2)
    assert sweep_jobs()["requeued_stuck"] >= 1
    job.refresh_from_db()
    assert job.status == "pending"

    worker = start_qcluster(env=env, log_path=tmp_path / "second.log")
    try:
        wait_for(lambda: Portrait.objects.get(pk=portrait.pk).status in ("ready", "failed"))
    finally:
        stop(worker)
    job.refresh_from_db()
    assert job.status == "ready" and job.attempts == 2
    assert Portrait.objects.get(pk=portrait.pk).status == "ready"
