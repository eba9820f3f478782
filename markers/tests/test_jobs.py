"""Job claiming, retries, failures, reuse and recovery, run in-process against real storage."""

import itertools
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from companies.storage import storage_for_company
from content import services as content_services
from content.models import Portrait
from content.validators import validate_image
from markers import handlers, jobs
from markers.models import Job

FIXTURES = Path(__file__).parent / "fixtures" / "mindar"


def upload(tenants, name="coffee_1000.jpg", project=None) -> Portrait:
    image = validate_image(SimpleUploadedFile(name, (FIXTURES / name).read_bytes()))
    return content_services.create_portrait(
        project=project or tenants.project_a, uploaded_by=tenants.owner, title=name, image=image
    )


def run_all(portrait):
    for job in Job.objects.filter(portrait=portrait).order_by("pk"):
        jobs.run_job(job_id=job.pk)


@pytest.mark.django_db
def test_only_one_claim_wins(tenants, make_portrait):
    job = Job.objects.create(portrait=make_portrait(tenants.project_a), kind="mindar")
    first, second = jobs.claim(job.pk), jobs.claim(job.pk)
    assert first is not None and second is None
    job.refresh_from_db()
    assert job.status == "processing" and job.attempts == 1 and job.claim_token == first


@pytest.mark.django_db
def test_a_job_not_yet_due_is_not_claimed(tenants, make_portrait):
    job = Job.objects.create(
        portrait=make_portrait(tenants.project_a), kind="mindar", next_attempt_at=timezone.now() + timedelta(minutes=1)
    )
    assert jobs.claim(job.pk) is None


@pytest.mark.django_db
def test_upload_to_ready_in_process(tenants):
    portrait = upload(tenants)
    run_all(portrait)
    portrait.refresh_from_db()
    assert portrait.status == "needs_video"  # markers and preview ready, nothing to play yet
    job = Job.objects.get(portrait=portrait, kind="mindar")
    assert job.status == "ready" and job.compiler_version and job.input_sha256 == portrait.image_sha256
    storage = storage_for_company(portrait.company)
    # The .mind and, next to it, the compact marker of the arv engine: both counted.
    assert [n.rsplit(".", 1)[-1] for n in job.stored_names()] == ["mind", "arvm"] and job.compact_version == 1
    assert job.output_bytes == sum(storage.size(n) for n in job.stored_names()) and job.duration_ms > 0
    nft = Job.objects.get(portrait=portrait, kind="nft")
    tenants.a.refresh_from_db()
    files = portrait.image_bytes + job.output_bytes + nft.output_bytes + portrait.preview.size
    assert tenants.a.storage_used_bytes == files


@pytest.mark.django_db
def test_an_undecodable_image_fails_after_one_attempt_with_its_message_shown(client, tenants):
    portrait = upload(tenants)
    storage = storage_for_company(portrait.company)
    storage.delete(portrait.image.name)
    storage.save(portrait.image.name, ContentFile(b"<html>not an image any more</html>"))
    job = Job.objects.get(portrait=portrait, kind="mindar")
    assert jobs.run_job(job_id=job.pk) == "failed"
    job.refresh_from_db()
    assert job.attempts == 1 and job.error and job.next_attempt_at is None
    portrait.refresh_from_db()
    assert portrait.status == "failed"
    client.force_login(tenants.owner)
    html = client.get(reverse("portal:portrait_detail", args=[portrait.unique_id])).content.decode()
    assert job.error in html


@pytest.mark.django_db
def test_storage_errors_are_retried_with_backoff_then_fail(tenants, monkeypatch):
    portrait = upload(tenants)
    job = Job.objects.get(portrait=portrait, kind="mindar")
    storage = storage_for_company(portrait.company)

    def unreachable(*args, **kwargs):
        raise ConnectionError("storage is down")

    monkeypatch.setattr(storage, "open", unreachable)
    delays = []
    for attempt in range(1, jobs.MAX_ATTEMPTS + 1):
        status = jobs.run_job(job_id=job.pk)
        job.refresh_from_db()
        assert job.attempts == attempt
        if attempt < jobs.MAX_ATTEMPTS:
            assert status == "pending" and "retried automatically" in job.error
            delays.append(job.next_attempt_at - timezone.now())
            assert jobs.claim(job.pk) is None  # not due yet
            Job.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now())
    assert status == "failed" and job.status == "failed"
    assert all(later > earlier for earlier, later in itertools.pairwise(delays))
    assert delays[0] > timedelta(seconds=10)


@pytest.mark.django_db
def test_a_job_waiting_behind_a_backlog_is_sent_again_once_per_lost_window(tenants, monkeypatch, settings):
    """Each sweep used to send every old pending job again: under a backlog of hundreds of jobs the
    broker filled with copies, each costing a worker a claim."""
    portrait = upload(tenants)
    job = Job.objects.get(portrait=portrait, kind="mindar")
    sent = []
    monkeypatch.setattr(jobs, "enqueue", sent.append)
    long_ago = timezone.now() - timedelta(seconds=settings.JOB_LOST_AFTER_SECONDS + 60)
    Job.objects.filter(pk=job.pk).update(queued_at=long_ago)
    assert jobs.sweep_jobs()["queued_due"] >= 1 and sent.count(job.pk) == 1
    for _minute in range(3):  # the next sweeps, while it still waits its turn
        jobs.sweep_jobs()
    assert sent.count(job.pk) == 1
    # Lost again (the broker dropped it): sent again.
    Job.objects.filter(pk=job.pk).update(queued_at=long_ago)
    jobs.sweep_jobs()
    assert sent.count(job.pk) == 2


@pytest.mark.django_db
def test_a_storage_error_then_recovery_completes(tenants, monkeypatch):
    portrait = upload(tenants)
    job = Job.objects.get(portrait=portrait, kind="mindar")
    storage = storage_for_company(portrait.company)
    real_open = storage.open
    monkeypatch.setattr(storage, "open", lambda *a, **k: (_ for _ in ()).throw(ConnectionError("down")))
    assert jobs.run_job(job_id=job.pk) == "pending"
    monkeypatch.setattr(storage, "open", real_open)
    Job.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert jobs.sweep_jobs()["queued_due"] >= 1
    assert jobs.run_job(job_id=job.pk) == "ready"


@pytest.mark.django_db
def test_the_same_image_reuses_its_marker_instead_of_compiling(tenants, monkeypatch):
    from markers import mindar

    first = upload(tenants)
    run_all(first)
    compiled = Job.objects.get(portrait=first, kind="mindar")

    def no_compile(*args, **kwargs):
        raise AssertionError("compiled again")

    monkeypatch.setattr(mindar, "compile_mind", no_compile)
    second = upload(tenants)
    jobs.run_job(job_id=Job.objects.get(portrait=second, kind="mindar").pk)
    reused = Job.objects.get(portrait=second, kind="mindar")
    assert reused.status == "ready" and reused.reused_from == compiled
    assert reused.output.name != compiled.output.name  # its own copy: deleting one keeps the other
    assert reused.output.read() == compiled.output.read()
    assert reused.report == compiled.report

    jobs.regenerate_marker(portrait=first)
    assert jobs.run_job(job_id=compiled.pk) == "ready"
    compiled.refresh_from_db()
    assert compiled.output.size > 0


@pytest.mark.django_db
def test_a_worker_that_lost_its_claim_does_not_overwrite(tenants, monkeypatch):
    portrait = upload(tenants)
    job = Job.objects.get(portrait=portrait, kind="preview")
    real = handlers.HANDLERS[job.kind]

    def slow_handler(j):
        # Meanwhile the sweeper declared us dead and another worker took the job.
        Job.objects.filter(pk=j.pk).update(claim_token=None, status="pending")
        return real(j)

    monkeypatch.setitem(handlers.HANDLERS, job.kind, slow_handler)
    assert jobs.run_job(job_id=job.pk) == "processing"
    job.refresh_from_db()
    assert job.status == "pending"


@pytest.mark.django_db
def test_sweeper_fails_jobs_stuck_too_often_and_requeues_lost_ones(tenants, make_portrait, settings):
    portrait = make_portrait(tenants.project_a)
    long_ago = timezone.now() - timedelta(hours=2)
    stuck = Job.objects.create(
        portrait=portrait, kind="mindar", status="processing", started_at=long_ago, attempts=jobs.MAX_ATTEMPTS
    )
    lost = Job.objects.create(portrait=portrait, kind="preview", status="pending", queued_at=long_ago)
    counts = jobs.sweep_jobs()
    assert counts["failed_stuck"] == 1 and counts["queued_due"] == 1
    stuck.refresh_from_db()
    assert stuck.status == "failed" and "interrupted too many times" in stuck.error
    lost.refresh_from_db()
    assert lost.status == "pending"


@pytest.mark.django_db
def test_admin_retry_action(admin_client, tenants, make_portrait):
    job = Job.objects.create(
        portrait=make_portrait(tenants.project_a), kind="mindar", status="failed", attempts=5, error="boom"
    )
    response = admin_client.post(
        reverse("admin:markers_job_changelist"), {"action": "retry", "_selected_action": [job.pk]}, follow=True
    )
    assert "1 job queued again." in response.content.decode()
    job.refresh_from_db()
    assert (job.status, job.attempts, job.error) == ("pending", 0, "")


@pytest.mark.django_db
def test_admin_inspect_marker(admin_client, tenants):
    portrait = upload(tenants)
    run_all(portrait)
    job = Job.objects.get(portrait=portrait, kind="mindar")
    html = admin_client.get(reverse("admin:markers_job_inspect", args=[job.pk])).content.decode()
    assert "Target 0: 1000×667 px" in html and "Keyframe" in html


@pytest.mark.django_db
def test_setup_schedules_is_idempotent():
    from io import StringIO

    from django.core.management import call_command
    from django_q.models import Schedule

    call_command("setup_schedules", stdout=StringIO())
    call_command("setup_schedules", stdout=StringIO())
    schedules = Schedule.objects.filter(name__startswith="arv: ")
    assert schedules.count() >= 1
    sweep = schedules.get(func="markers.tasks.sweep")
    assert sweep.schedule_type == Schedule.MINUTES and sweep.minutes == 1


@pytest.mark.django_db
def test_without_ffmpeg_the_original_video_plays_and_the_admin_says_so(admin_client, tenants, tmp_path, monkeypatch):
    from arv.testing import media
    from content import media as content_media
    from content.validators import validate_video

    portrait = upload(tenants)
    video = validate_video(SimpleUploadedFile("v.mp4", media.mp4_bytes(tmp_path)))
    row = content_services.add_video(portrait=portrait, video=video, by=None)
    video.cleanup()
    monkeypatch.setattr(content_media, "ffmpeg_available", lambda: False)
    assert jobs.run_job(job_id=Job.objects.get(video=row).pk) == "ready"
    row.refresh_from_db()
    assert row.status == "ready" and not row.web_file and row.poster
    assert row.playback_file.name == row.file.name
    assert "ffmpeg is not installed" in row.status_message
    html = admin_client.get(reverse("admin:content_video_changelist")).content.decode()
    assert "original file (no rendition)" in html and "ffmpeg is not installed" in html
