"""Every periodic job isolates failures per row (issue 16, item 4).

For each task `setup_schedules` registers, one company's row is made bad the way real data goes
bad (a rule saved before rules were checked, a time zone tzdata no longer knows, an expiry past
year 9999, a value no code path expects), and the job is run through its registered entry point:
it returns, logs the bad row with its id, and processes every other row.
"""

import logging
import uuid
from datetime import UTC, datetime, time, timedelta
from importlib import import_module

import pytest
from django.utils import timezone

from markers.management.commands.setup_schedules import SCHEDULES


def run(task: str):
    module, name = task.rsplit(".", 1)
    return getattr(import_module(module), name)()


def failures(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "arv.periodic"]


def bad_timezone(company):
    # Validated on save; written straight to the table as an upgrade that dropped a zone leaves it.
    type(company).objects.filter(pk=company.pk).update(timezone="Mars/Olympus_Mons")


@pytest.fixture
def three_videos(tenants, make_portrait):
    def make(project):
        from content.models import Video

        portrait = make_portrait(project, with_video=True)
        first = portrait.videos.get()
        for order in (1, 2):
            Video.objects.create(portrait=portrait, file=first.file.name, title=f"v{order}", rotation_order=order)
        return portrait

    return make


@pytest.mark.django_db
def test_rebase_rotations(tenants, three_videos, caplog):
    from companies.models import Company, Project
    from content.models import Rotation

    anchor = timezone.now() - timedelta(days=10)
    good = three_videos(tenants.project_a)
    Rotation.objects.create(portrait=good, kind="cyclic", every="day", at=time(9, 0), anchor=anchor)
    # The review's rule (January 2026 only), saved while it still validated: it no longer stops the job.
    january = three_videos(tenants.project_b)
    Rotation.objects.create(
        portrait=january,
        kind="cyclic",
        every="cron",
        cron="0 * * 1 * 0 2026",
        anchor=datetime(2026, 1, 31, 21, 30, tzinfo=UTC),
    )
    # A company whose time zone cannot be loaded: its rotation fails, alone.
    lost = Company.objects.create(name="Lost", slug="lost")
    bad_timezone(lost)
    broken = three_videos(Project.objects.create(company=lost, name="P", slug="p"))
    Rotation.objects.create(portrait=broken, kind="cyclic", every="day", at=time(9, 0), anchor=anchor)

    assert run("content.tasks.rebase_rotations") == 2
    assert Rotation.objects.get(portrait=good).anchor > anchor
    assert Rotation.objects.get(portrait=january).base_index == 2  # 22:00 and 23:00, then no more
    assert Rotation.objects.get(portrait=broken).anchor == anchor
    rotation = Rotation.objects.get(portrait=broken)
    assert failures(caplog) == [f"rebase_rotations: rotation {rotation.pk} failed; the other rows go on"]


@pytest.mark.django_db
def test_renew_subscriptions(tenants, caplog):
    from companies.models import Company, Project

    now = timezone.now()
    yesterday = now - timedelta(days=1)
    # A period of 0 months (saved past the form's validator) would renew forever: refused alone.
    stuck = Company.objects.create(name="Stuck", slug="stuck", subscription_auto_renew=True)
    Company.objects.filter(pk=stuck.pk).update(subscription_expires_at=yesterday, subscription_period_months=0)
    stuck_project = Project.objects.create(company=stuck, name="P", slug="p", auto_renew=True)
    tenants.a.subscription_auto_renew = True
    tenants.a.subscription_expires_at = yesterday
    tenants.a.save()
    renewing = Project.objects.create(company=tenants.a, name="R", slug="r", auto_renew=True)
    lapsing = Project.objects.create(company=tenants.b, name="L", slug="l")
    Project.objects.filter(pk__in=[stuck_project.pk, renewing.pk, lapsing.pk]).update(expires_at=yesterday)

    counts = run("companies.tasks.renew_subscriptions")
    assert counts == {"projects_renewed": 1, "projects_expired": 1, "subscriptions_renewed": 1, "failed": 2}
    tenants.a.refresh_from_db()
    assert tenants.a.subscription_expires_at > now
    assert Project.objects.get(pk=renewing.pk).expires_at > now
    assert Project.objects.get(pk=lapsing.pk).status == "expired"
    assert Project.objects.get(pk=stuck_project.pk).expires_at == yesterday  # untouched, tried again next run
    assert sorted(failures(caplog)) == [
        f"renew_subscriptions: company {stuck.pk} failed; the other rows go on",
        f"renew_subscriptions: project {stuck_project.pk} failed; the other rows go on",
    ]


@pytest.mark.django_db
def test_renewing_past_year_9999_fails_alone(tenants, caplog):
    from companies import notifications
    from companies.models import Company

    now = datetime(9999, 12, 2, tzinfo=UTC)
    Company.objects.filter(pk=tenants.b.pk).update(
        subscription_auto_renew=True, subscription_expires_at=datetime(9999, 12, 1, tzinfo=UTC)
    )
    Company.objects.filter(pk=tenants.a.pk).update(
        subscription_auto_renew=True,
        subscription_expires_at=datetime(9999, 11, 15, tzinfo=UTC),
        subscription_period_months=1,
    )
    counts = notifications.renew_and_expire(now=now)
    assert counts["subscriptions_renewed"] == 1 and counts["failed"] == 1
    tenants.a.refresh_from_db()
    assert tenants.a.subscription_expires_at == datetime(9999, 12, 15, tzinfo=UTC)
    with pytest.raises(ValueError, match="0 months cannot renew anything"):
        notifications._renewed(now - timedelta(days=1), 0, now)


@pytest.mark.django_db
def test_send_reminders(tenants, caplog, mailoutbox):
    from companies.models import Notification, Project

    soon = timezone.now() + timedelta(days=2)
    ok = Project.objects.create(company=tenants.a, name="Soon", slug="soon", expires_at=soon)
    # A slug the portal's URLs cannot hold (edited in the database): its e-mail cannot be rendered.
    broken = Project.objects.create(company=tenants.b, name="Broken", slug="soon-b", expires_at=soon)
    Project.objects.filter(pk=broken.pk).update(slug="")
    # A notification for a channel no code knows.
    fax = Notification.objects.create(
        company=tenants.b, kind="monthly_report", dedupe_key="fax", subject="s", message="m", channels=["fax"]
    )
    waiting = Notification.objects.create(
        company=tenants.a,
        kind="monthly_report",
        dedupe_key="waiting",
        subject="Waiting",
        message="m",
        channels=["email"],
    )

    counts = run("companies.tasks.send_reminders")
    assert counts == {"created": 1, "delivered": 2}  # the waiting one and the new reminder for "Soon"
    assert Notification.objects.get(project=ok).is_complete
    waiting.refresh_from_db()
    assert waiting.is_complete and {m.subject for m in mailoutbox} >= {"Waiting"}
    assert not Notification.objects.filter(project=broken).exists()
    assert sorted(failures(caplog)) == [
        f"deliver_notifications: notification {fax.pk} failed; the other rows go on",
        f"queue_expiry_reminders: project {broken.pk} failed; the other rows go on",
    ]


@pytest.mark.django_db
def test_send_monthly_reports(tenants, make_portrait, caplog, mailoutbox):
    from companies.models import Notification

    make_portrait(tenants.project_a)
    make_portrait(tenants.project_b)
    bad_timezone(tenants.b)

    counts = run("analytics.tasks.send_monthly_reports")
    assert counts == {"created": 1, "delivered": 1}
    assert Notification.objects.get(kind="monthly_report").company == tenants.a
    assert failures(caplog) == [f"queue_monthly_reports: company {tenants.b.pk} failed; the other rows go on"]


@pytest.mark.django_db
def test_sweep(tenants, make_portrait, caplog, monkeypatch):
    from companies.models import PendingUpload, StorageConnection
    from markers import jobs
    from markers.models import Job

    queued = []
    monkeypatch.setattr(jobs, "enqueue", queued.append)
    long_ago = timezone.now() - timedelta(days=1)
    # Company B's files are on a connection whose credentials no key can read any more.
    unreadable = StorageConnection.objects.create(name="S3", provider="s3", bucket="b", credentials_encrypted="garbage")
    tenants.b.storage_connection = unreadable
    tenants.b.save()
    stuck_b = PendingUpload.objects.create(company=tenants.b, names=["beta/x.jpg"], created_at=long_ago)
    orphan = "alpha/weddings/orphan.jpg"
    from django.core.files.base import ContentFile

    from companies.storage import storage_for_company

    storage_for_company(tenants.a).save(orphan, ContentFile(b"x"))
    stuck_a = PendingUpload.objects.create(company=tenants.a, names=[orphan], created_at=long_ago)
    portrait = make_portrait(tenants.project_a)
    lost = Job.objects.create(portrait=portrait, kind="preview", queued_at=long_ago)

    counts = run("markers.tasks.sweep")
    assert counts["pending_uploads"] == 1 and counts["queued_due"] == 1 and queued == [lost.pk]
    assert not PendingUpload.objects.filter(pk=stuck_a.pk).exists()
    assert not storage_for_company(tenants.a).exists(orphan)
    assert PendingUpload.objects.filter(pk=stuck_b.pk).exists()  # kept for the next run
    assert failures(caplog) == [f"sweep_pending_uploads: pending upload {stuck_b.pk} failed; the other rows go on"]


@pytest.mark.django_db
def test_rollup_view_sessions(tenants, make_portrait, settings, caplog):
    from viewer.models import ViewSession, ViewSessionDaily

    settings.ANALYTICS_RAW_RETENTION_DAYS = 30
    portrait = make_portrait(tenants.project_a)
    old = timezone.now() - timedelta(days=60)

    def visit(days_ago, company):
        return ViewSession.objects.create(
            session_id=uuid.uuid4(),
            company=company,
            project=portrait.project,
            portrait=portrait,
            created_at=old - timedelta(days=days_ago),
            device_type="mobile",
        )

    visit(2, tenants.a)
    # A day whose raw rows disagree about the company of one project: its daily key collides.
    colliding = {visit(1, tenants.a).pk, visit(1, tenants.b).pk}
    visit(0, tenants.a)

    result = run("viewer.tasks.rollup_view_sessions")
    assert "2 sessions of 2 days rolled up" in result and "1 days failed" in result
    assert ViewSessionDaily.objects.count() == 2
    assert set(ViewSession.objects.values_list("pk", flat=True)) == colliding
    day = timezone.localdate(old - timedelta(days=1), timezone=timezone.get_default_timezone())
    assert failures(caplog) == [f"rollup_view_sessions: day {day} failed; the other rows go on"]


@pytest.mark.django_db
def test_check_viewer_domains(tenants, caplog, monkeypatch):
    from companies import services
    from companies.models import Company

    for company, domain in ((tenants.a, "ar.alpha.example"), (tenants.b, "ar.beta.example")):
        Company.objects.filter(pk=company.pk).update(viewer_domain=domain, viewer_domain_token="t" * 32)
    checked = []

    def check(*, company, min_interval):
        # Company A's check meets a value no code path expects (as an upgrade could leave behind).
        if company.pk == tenants.a.pk:
            raise ValueError("unexpected record")
        checked.append(company.pk)
        return Company.objects.get(pk=company.pk)

    monkeypatch.setattr(services, "check_viewer_domain", check)
    counts = run("companies.tasks.check_viewer_domains")
    assert counts == {"checked": 1, "verified": 0, "failed": 1, "errors": 1}
    assert checked == [tenants.b.pk]
    assert failures(caplog) == [f"check_viewer_domains: company {tenants.a.pk} failed; the other rows go on"]


@pytest.mark.django_db
def test_sweep_batches(tenants, caplog, monkeypatch):
    from content import batches
    from content.models import Batch

    def running(project):
        return Batch.objects.create(company=project.company, project=project, status=Batch.Status.RUNNING)

    bad, good = running(tenants.project_a), running(tenants.project_b)
    finish = batches.finish_if_done

    def finish_if_done(*, batch_id):
        if batch_id == bad.pk:
            raise ValueError("a row in a state no code path expects")
        return finish(batch_id=batch_id)

    monkeypatch.setattr(batches, "finish_if_done", finish_if_done)
    counts = run("content.tasks.sweep_batches")
    assert counts["finished"] == 1 and counts["failed"] == 1
    assert Batch.objects.get(pk=good.pk).status == Batch.Status.FAILED  # nothing made: finished as failed
    assert Batch.objects.get(pk=bad.pk).status == Batch.Status.RUNNING  # tried again on the next run
    assert failures(caplog) == [f"sweep_batches: batch {bad.pk} failed; the other rows go on"]


@pytest.mark.django_db
def test_webhooks_sweep(tenants, caplog, monkeypatch, settings):
    from webhooks import services
    from webhooks.models import Delivery, EventType

    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    for company in (tenants.a, tenants.b):
        services.create_endpoint(company=company, url="http://127.0.0.1:9/hook", event_types=[EventType.PORTRAIT_READY])
        services.emit(company=company, event_type=EventType.PORTRAIT_READY, data={"n": 1})
    Delivery.objects.update(enqueued_at=None)
    bad = Delivery.objects.get(endpoint__company=tenants.a)
    queued = []

    def enqueue(pk):
        if pk == bad.pk:
            raise ValueError("a delivery no code path expects")
        queued.append(pk)

    monkeypatch.setattr(services, "enqueue", enqueue)
    counts = run("webhooks.tasks.sweep")
    assert counts["queued"] == 1 and counts["errors"] == 1
    assert queued == [Delivery.objects.get(endpoint__company=tenants.b).pk]
    assert failures(caplog) == [f"webhooks.sweep: delivery {bad.pk} failed; the other rows go on"]


JOB_TESTS = {
    "content.tasks.rebase_rotations": test_rebase_rotations,
    "companies.tasks.renew_subscriptions": test_renew_subscriptions,
    "companies.tasks.send_reminders": test_send_reminders,
    "analytics.tasks.send_monthly_reports": test_send_monthly_reports,
    "markers.tasks.sweep": test_sweep,
    "viewer.tasks.rollup_view_sessions": test_rollup_view_sessions,
    "companies.tasks.check_viewer_domains": test_check_viewer_domains,
    "content.tasks.sweep_batches": test_sweep_batches,
    "webhooks.tasks.sweep": test_webhooks_sweep,
}


def test_every_registered_periodic_job_has_its_bad_row_test():
    assert {task for task, *_ in SCHEDULES.values()} == set(JOB_TESTS)


@pytest.fixture(autouse=True)
def _capture(caplog):
    caplog.set_level(logging.ERROR, logger="arv.periodic")
