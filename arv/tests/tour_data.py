"""The page tour's data: one of each thing a page can show, made the way the product makes it.

Photos are uploaded through the portal and their jobs run as the worker would (synchronously, as
``viewer/tests/test_browser.py`` does), so markers, previews, posters and renditions are real and
the AR page loads real files. The other states (processing, failed, ended, paused, not yet
published) come from the same services and fixtures the suite uses; every model the back office
lists has at least one row, so each of its change pages can be toured.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

REPO_ROOT = Path(__file__).resolve().parents[2]
PHOTO = REPO_ROOT / "markers" / "tests" / "fixtures" / "mindar" / "coffee_1000.jpg"


def _run_jobs(portrait) -> None:
    from markers import jobs
    from markers.models import Job

    for job in Job.objects.filter(portrait=portrait).order_by("pk"):
        jobs.run_job(job_id=job.pk)
    portrait.refresh_from_db()


def _upload(client, project, title: str, clip: bytes):
    from content.models import Portrait

    response = client.post(
        reverse("portal:portrait_upload", args=[project.slug]),
        {
            "title": title,
            "image": SimpleUploadedFile("coffee.jpg", PHOTO.read_bytes()),
            "video": SimpleUploadedFile("clip.mp4", clip),
        },
    )
    assert response.status_code == 302, response.content[:500]
    portrait = Portrait.objects.get(title=title)
    _run_jobs(portrait)
    return portrait


def _sessions(portrait, *, days_ago: int, found: int, lost: int, device="mobile", os="iOS", browser="Safari"):
    from arv.testing.analytics_data import visit

    when = timezone.now() - timedelta(days=days_ago, hours=1)
    for i in range(found):
        visit(portrait, when, device=device, os=os, browser=browser, ttf=900 + 150 * i, watch=8 + i)
    for _ in range(lost):
        visit(portrait, when, device=device, os=os, browser=browser)


def build(*, client, tenants, make_user, make_portrait, tmp_path) -> SimpleNamespace:
    from arv.testing import media
    from companies import notifications
    from companies.models import Folder, Project, StorageConnection, StorageMove
    from content.models import PendingUpload, Portrait
    from markers import album, jobs
    from viewer.retention import rollup_view_sessions

    now = timezone.now()
    ns = SimpleNamespace(tenants=tenants, company=tenants.a, weddings=tenants.project_a)
    ns.staff = make_user("staff", is_staff=True, is_superuser=True, first_name="Sasha")
    company = tenants.a
    company.contact_phone = "+7 900 000-00-00"
    company.subscription_expires_at = now + timedelta(days=10)
    company.save(update_fields=["contact_phone", "subscription_expires_at"])

    # Two prints of the same photo: the second one reuses the first one's markers.
    client.force_login(tenants.owner)
    clip = media.mp4_bytes(tmp_path, seconds=2, size=(640, 360))
    ns.ready = _upload(client, ns.weddings, "Anna & Ivan", clip)
    ns.second = _upload(client, ns.weddings, "Anna & Ivan, second print", clip)
    response = client.post(
        reverse("portal:video_add", args=[ns.ready.unique_id]),
        {"title": "Anniversary", "video": SimpleUploadedFile("second.mp4", clip)},
    )
    assert response.status_code == 302, response.content[:500]
    _run_jobs(ns.ready)

    # Waiting for the worker: its jobs are queued and never run here.
    ns.processing = make_portrait(ns.weddings, title="Maria (processing)")
    jobs.queue_portrait_jobs(portrait=ns.processing)
    # Failed for real: its stored photo is not an image, so every job fails with its reason.
    ns.failed = make_portrait(ns.weddings, title="Broken upload")
    storage = ns.failed.image.storage
    storage.delete(ns.failed.image.name)
    storage.save(ns.failed.image.name, ContentFile(b"this is not a photo"))
    jobs.queue_portrait_jobs(portrait=ns.failed)
    _run_jobs(ns.failed)
    # Ready photos whose public page does not play: ended (the 410 page), paused, not yet
    # published. Uploads of the same photo, so their markers are reused rather than compiled.
    ns.expired = _upload(client, ns.weddings, "Ended photo", clip)
    ns.paused = _upload(client, ns.weddings, "Paused photo", clip)
    ns.unpublished = _upload(client, ns.weddings, "Coming soon", clip)
    for portrait, change in (
        (ns.expired, {"expires_at": now - timedelta(days=2)}),
        (ns.paused, {"is_active": False}),
        (ns.unpublished, {"published_at": now + timedelta(days=3)}),
    ):
        Portrait.objects.filter(pk=portrait.pk).update(**change)
        portrait.refresh_from_db()

    # The album of the project's live photos, and a project about to expire with nothing in it.
    album.rebuild_project_marker(project=ns.weddings)
    ns.birthdays = Project.objects.create(
        company=company, name="Birthdays", slug="birthdays", expires_at=now + timedelta(days=5)
    )
    ns.folder = Folder.objects.create(project=ns.weddings, name="Printed in March")

    # Views: this week's (found and not), a print scanned often but rarely found, and older
    # sessions rolled up into daily totals.
    for day, found, lost in ((0, 3, 1), (2, 2, 1), (5, 4, 0)):
        _sessions(ns.ready, days_ago=day, found=found, lost=lost)
    _sessions(ns.ready, days_ago=3, found=1, lost=1, device="desktop", os="Windows", browser="Chrome")
    _sessions(ns.second, days_ago=1, found=1, lost=6, os="Android", browser="Chrome")
    _sessions(ns.ready, days_ago=45, found=2, lost=1)
    rollup_view_sessions(older_than_days=30)

    # What the rest of the back office lists.
    from rest_framework.authtoken.models import Token

    Token.objects.create(user=tenants.owner)
    notifications.queue_expiry_reminders()
    Group.objects.create(name="Support")
    archive = StorageConnection.objects.create(name="Archive disk", provider="local", base_path="archive")
    StorageMove.objects.create(
        company=tenants.b,
        source=StorageConnection.objects.get(is_default=True),
        target=archive,
        status=StorageMove.Status.DONE,
        finished_at=now,
    )
    PendingUpload.objects.create(company=company, names=[f"{company.path_prefix}/lost.jpg"], reserved_bytes=1024)
    call_command("setup_schedules", verbosity=0)
    _task_rows(now)

    ns.reset_uid = urlsafe_base64_encode(force_bytes(tenants.owner.pk))
    ns.reset_token = default_token_generator.make_token(tenants.owner)
    return ns


def _task_rows(now) -> None:
    """A finished, a failed and a queued django-q2 task, as the worker's admin pages list them."""
    from django_q.models import OrmQ, Task
    from django_q.signing import SignedPackage

    for success, result in ((True, "ready"), (False, "Traceback (most recent call last): …")):
        Task.objects.create(
            id=uuid.uuid4().hex,
            name=f"job-{'ok' if success else 'failed'}",
            func="markers.tasks.run_job",
            args=(1,),
            kwargs={},
            started=now - timedelta(seconds=3),
            stopped=now,
            result=result,
            success=success,
            attempt_count=1,
        )
    package = {
        "id": uuid.uuid4().hex,
        "name": "job-queued",
        "func": "markers.tasks.run_job",
        "args": (1,),
        "kwargs": {},
        "started": now,
    }
    OrmQ.objects.create(key="arv", payload=SignedPackage.dumps(package), lock=None)


def candidates(ns) -> dict[str, list]:
    """Values for the URL parameters, per parameter name or converter; the first that makes a
    page is the page's main variant (see arv/testing/routes.py)."""
    from django.contrib import admin

    from companies.models import Membership
    from content.models import Video

    portraits = [ns.ready, ns.second, ns.processing, ns.failed, ns.expired, ns.paused, ns.unpublished]
    return {
        "uuid": [p.unique_id for p in portraits] + [ns.weddings.public_id, ns.birthdays.public_id],
        "slug": [ns.weddings.slug, ns.birthdays.slug],
        "int": [
            *Video.objects.filter(portrait__company=ns.company).order_by("pk").values_list("pk", flat=True),
            *Membership.objects.filter(company=ns.company).order_by("pk").values_list("pk", flat=True),
        ],
        "uidb64": [ns.reset_uid],
        "token": [ns.reset_token],
        "app_label": sorted({model._meta.app_label for model in admin.site._registry}),
    }
