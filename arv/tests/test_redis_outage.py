"""Redis down, with real processes: uploads still succeed, nothing is lost, work resumes after.

Redis is the task broker and the cache when REDIS_URL is set. While it is down, the portal's
upload must still store the photo and create its jobs (they wait as rows in the database), the
viewer page and the beacon must keep working (the rate limiter fails open), and the `qcluster`
process must stay up. Once Redis is back on the same address, the periodic sweeper re-queues the
jobs and the same cluster runs them. The test calls `sweep_jobs()` itself, as the every-minute
schedule registered by `setup_schedules` would, instead of waiting up to a minute and a half.
"""

import shutil
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from arv.testing import media
from arv.testing.factories import PHONE
from arv.testing.processes import database_url, free_port, start_qcluster, start_redis, stop, wait_for
from content.models import Portrait
from markers.jobs import sweep_jobs
from markers.models import Job
from viewer.models import ViewSession

FIXTURES = Path(__file__).resolve().parents[2] / "markers" / "tests" / "fixtures" / "mindar"
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def upload(client, project, photo: str, title: str, tmp_path) -> tuple[int, float]:
    started = time.monotonic()
    response = client.post(
        reverse("portal:portrait_upload", args=[project.slug]),
        {
            "title": title,
            "image": SimpleUploadedFile(photo, (FIXTURES / photo).read_bytes()),
            "video": SimpleUploadedFile("clip.mp4", media.mp4_bytes(tmp_path)),
        },
    )
    return response, time.monotonic() - started


@pytest.fixture
def redis_port(settings, monkeypatch):
    """Redis as broker and cache for this process, on a port that outlives one server."""
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    from django_q.conf import Conf

    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", url)
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
    return port


def test_uploads_during_a_redis_outage_succeed_and_their_jobs_run_once_it_is_back(
    client, tenants, settings, tmp_path, redis_port
):
    redis = start_redis(redis_port)
    env = {
        "DATABASE_URL": database_url(connection.settings_dict),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "TASK_WORKERS": "2",
    }
    log = tmp_path / "qcluster.log"
    cluster = start_qcluster(env=env, log_path=log)
    try:
        client.force_login(tenants.owner)
        # A photo that plays, made with Redis up.
        response, _ = upload(client, tenants.project_a, "coffee_1000.jpg", "Before", tmp_path)
        assert response.status_code == 302
        before = Portrait.objects.get(title="Before")
        wait_for(lambda: Portrait.objects.get(pk=before.pk).status in ("ready", "failed"))
        assert Portrait.objects.get(pk=before.pk).status == "ready", log.read_text()[-3000:]

        stop(redis)
        outage_started = time.monotonic()

        # The upload succeeds: files stored, rows and jobs created; the jobs could not be handed
        # to the broker, so they wait in the database. No error reaches the user.
        response, seconds = upload(client, tenants.project_a, "astronaut_1000.jpg", "During", tmp_path)
        assert response.status_code == 302, response.content[:2000]
        during = Portrait.objects.get(title="During")
        assert response["Location"] == during.get_absolute_url()
        assert seconds < 10  # a refused connection fails at once; no retry loop holds the request
        jobs = Job.objects.filter(portrait=during)
        assert {j.kind for j in jobs} == {"mindar", "nft", "preview", "video"}
        assert all(j.status == "pending" and j.attempts == 0 for j in jobs)
        detail = client.get(during.get_absolute_url())
        assert detail.status_code == 200 and b"Uploaded." in detail.content

        # The viewer page and its beacon keep working; the beacon's rate limiter fails open.
        page = client.get(reverse("viewer:page", args=[before.unique_id]), HTTP_USER_AGENT=PHONE)
        assert page.status_code == 200 and b'data-ar-state="loading"' in page.content
        beacon = client.post(
            reverse("viewer:beacon", args=[before.unique_id]),
            data=b'{"session": "8a4f0e9e-7d1c-4f43-9a52-2b1f3d9d6c11", "found": true}',
            content_type="application/json",
            HTTP_USER_AGENT=PHONE,
        )
        assert beacon.status_code == 204
        assert ViewSession.objects.filter(portrait=before, found=True).count() == 1
        # Readiness names the broker as the failing part.
        ready = client.get("/readyz").json()
        assert ready["checks"]["broker"]["ok"] is False and ready["checks"]["database"]["ok"] is True

        # The cluster outlives the outage: django-q2's sentinel restarts its pusher process,
        # which gives up on a dead broker after 10 s. Stay down longer than that.
        time.sleep(max(0.0, 12 - (time.monotonic() - outage_started)))
        assert cluster.poll() is None, log.read_text()[-3000:]
        assert Portrait.objects.get(pk=during.pk).status == "processing"

        # Redis comes back on the same address, empty (no persistence): the tasks it never
        # received are re-queued by the sweeper from the job rows.
        redis = start_redis(redis_port)
        back = time.monotonic()
        settings.JOB_LOST_AFTER_SECONDS = 1
        assert sweep_jobs()["queued_due"] == 4
        wait_for(lambda: not Job.objects.filter(portrait=during).exclude(status__in=["ready", "failed"]).exists())
        assert cluster.poll() is None
        # Shown with `pytest -s`; docs/reliability.md quotes them.
        print(f"\nupload during the outage: {seconds:.2f} s; Redis down {back - outage_started:.1f} s; ")
        print(f"every job done {time.monotonic() - back:.1f} s after Redis was back and the sweep ran")
    finally:
        stop(cluster)
        stop(redis)
    text = log.read_text(errors="replace")
    during.refresh_from_db()
    assert during.status == "ready", text[-3000:]
    # Every job ran exactly once: none lost, none run twice.
    assert sorted(Job.objects.filter(portrait=during).values_list("kind", "status", "attempts")) == [
        ("mindar", "ready", 1),
        ("nft", "ready", 1),
        ("preview", "ready", 1),
        ("video", "ready", 1),
    ]
    assert "reincarnated pusher" in text
