"""The page tour's data: one of each thing a page can show, made the way the product makes it.

Photos are uploaded through the portal and their jobs run as the worker would (synchronously,
``arv/testing/factories.py``, as the viewer's browser tests do), so markers, previews, posters and
renditions are real and the AR page loads real files. The other states (processing, failed, ended, paused, not yet
published) come from the same services and fixtures the suite uses; every model the back office
lists has at least one row, so each of its change pages can be toured.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path, PurePosixPath
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

from arv.testing.factories import run_jobs, upload_through_portal

REPO_ROOT = Path(__file__).resolve().parents[2]
PHOTO = REPO_ROOT / "markers" / "tests" / "fixtures" / "mindar" / "coffee_1000.jpg"


def _upload(client, project, title: str, clip: bytes):
    return upload_through_portal(client, project, title=title, photo=PHOTO.read_bytes(), video=clip)


def _sessions(portrait, *, days_ago: int, found: int, lost: int, device="mobile", os="iOS", browser="Safari"):
    from arv.testing.analytics_data import visit

    when = timezone.now() - timedelta(days=days_ago, hours=1)
    for i in range(found):
        visit(portrait, when, device=device, os=os, browser=browser, ttf=900 + 150 * i, watch=8 + i)
    for _ in range(lost):
        visit(portrait, when, device=device, os=os, browser=browser)


def build(*, client, tenants, make_user, make_portrait, tmp_path, settings) -> SimpleNamespace:
    from arv.testing import media
    from companies import notifications
    from companies.models import PendingUpload, Project, StorageConnection, StorageMove
    from content.models import Portrait
    from markers import album, jobs
    from viewer.retention import rollup_view_sessions

    now = timezone.now()
    settings.SITE_NAME = PLATFORM_NAME
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
    run_jobs(ns.ready)

    # Waiting for the worker: its jobs are queued and never run here.
    ns.processing = make_portrait(ns.weddings, title="Maria (processing)")
    jobs.queue_portrait_jobs(portrait=ns.processing)
    # Failed for real: its stored photo is not an image, so every job fails with its reason.
    ns.failed = make_portrait(ns.weddings, title="Broken upload")
    storage = ns.failed.image.storage
    storage.delete(ns.failed.image.name)
    storage.save(ns.failed.image.name, ContentFile(b"this is not a photo"))
    jobs.queue_portrait_jobs(portrait=ns.failed)
    run_jobs(ns.failed)
    # Ready photos whose public page does not play: ended (the 410 page), paused, not yet
    # published. Uploads of the same photo, so their markers are reused rather than compiled.
    ns.expired = _upload(client, ns.weddings, "Ended photo", clip)
    ns.paused = _upload(client, ns.weddings, "Paused photo", clip)
    # (Not a title that is also one of the interface's messages: the tour would take it for one
    # left untranslated.)
    ns.unpublished = _upload(client, ns.weddings, "Spring wedding, from next week", clip)
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

    # Views: this week's (found and not), a print scanned often but rarely found, and older
    # sessions rolled up into daily totals.
    for day, found, lost in ((0, 3, 1), (2, 2, 1), (5, 4, 0)):
        _sessions(ns.ready, days_ago=day, found=found, lost=lost)
    _sessions(ns.ready, days_ago=3, found=1, lost=1, device="desktop", os="Windows", browser="Chrome")
    _sessions(ns.second, days_ago=1, found=1, lost=6, os="Android", browser="Chrome")
    _sessions(ns.ready, days_ago=45, found=2, lost=1)
    rollup_view_sessions(older_than_days=30)

    # What the rest of the back office lists.
    from companies.models import ApiToken

    ApiToken.issue(tenants.owner)
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

    # Branded before the batches: their print files carry the studio's domain (a later change of
    # the printed URLs makes them stale, to be made again).
    _brand(company)
    # The batches are made after the endpoint exists, so their events are among its deliveries.
    from webhooks.tests.receiver import Receiver

    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    receiver = Receiver()
    try:
        ns.endpoint = _webhooks(company, receiver)
        ns.review, ns.finished = _batches(ns, tmp_path)
        _deliver_pending(ns.endpoint, receiver)
    finally:
        receiver.close()
    ns.invitation = _invitations(ns)
    ns.plain = _unbranded_photo(tenants, clip)

    ns.reset_uid = urlsafe_base64_encode(force_bytes(tenants.owner.pk))
    ns.reset_token = default_token_generator.make_token(tenants.owner)
    return ns


PLATFORM_NAME = "Platformio"  # SITE_NAME in the tour: on a branded page, any trace of it is a leak
BRAND_NAME = "Studio Lumière"
BRAND_DOMAIN = "ar.lumiere.test"


def _brand(company) -> None:
    """Company A as a studio with its brand: name, accent colour, a logo and its own verified
    viewer domain. Every public page of its photos and albums is then the studio's."""
    import io

    from PIL import Image

    from arv.testing.domains import give_domain
    from companies import logos

    company.brand_name = BRAND_NAME
    company.brand_accent_color = "#ffd400"
    company.save(update_fields=["brand_name", "brand_accent_color"])
    logo = io.BytesIO()
    Image.new("RGBA", (240, 80), (10, 120, 200, 255)).save(logo, "PNG")
    logos.set_company_logo(
        company=company, logo=logos.validate_logo(SimpleUploadedFile("logo.png", logo.getvalue()))
    )
    give_domain(company, BRAND_DOMAIN)
    company.refresh_from_db()


def _unbranded_photo(tenants, clip: bytes):
    """A ready photo of a studio without a brand (company B): its public page is the platform's."""
    from django.test import Client

    other = Client()
    other.force_login(tenants.outsider)
    return _upload(other, tenants.project_b, "School portrait", clip)


def _webhooks(company, receiver):
    """An endpoint of company A at a real receiver on loopback (as an on-premises install may
    have), its test ping delivered."""
    from webhooks import services
    from webhooks.models import EventType
    from webhooks.tests.receiver import Answer

    endpoint, _secret = services.create_endpoint(
        company=company,
        url=receiver.url("/integrations/arv/webhooks"),
        event_types=[value for value, _label in EventType.subscribable()],
        description="Order system (print shop)",
    )
    receiver.answer(Answer(200))
    services.attempt_delivery(delivery_id=services.send_test_event(endpoint=endpoint).pk)
    return endpoint


def _deliver_pending(endpoint, receiver) -> None:
    """Each pending delivery tried once while the receiver answers 500: the log shows a failed
    attempt with the response and the next try scheduled."""
    from webhooks import services
    from webhooks.models import Delivery
    from webhooks.tests.receiver import Answer

    receiver.default = Answer(500, b'{"error": "order system is restarting"}', {"Content-Type": "application/json"})
    for pk in Delivery.objects.filter(endpoint=endpoint, status=Delivery.Status.PENDING).values_list("pk", flat=True):
        services.attempt_delivery(delivery_id=pk)


def _batches(ns, tmp_path):
    """A batch waiting for review (one order can be made, one has errors) and a finished one
    with its print file, uploaded as a print shop would: a ZIP with orders.csv."""
    from content import batches
    from content.tests import batch_data, batch_flow

    tenants = ns.tenants
    header = "photo,video,title,customer name,phone,e-mail,order reference\n"
    files = batch_data.pairs(tmp_path, 1)
    files["orders.csv"] = header + (
        "guest0.jpg,guest0.mp4,Olga & Pavel,Olga,+7 999 123-45-67,olga@example.com,A-101\n"
        "missing.jpg,,Ivan,Ivan,,,A-102\n"
    )
    review = batch_flow.check(batch_flow.start(tenants, batch_data.zip_bytes(files)))
    assert review.status == review.Status.REVIEW, review.error

    files = batch_data.pairs(tmp_path, 2, prefix="june/")
    files["orders.csv"] = header + (
        "june/guest0.jpg,june/guest0.mp4,Graduation 11A,Marina,,marina@example.com,B-201\n"
        "june/guest1.jpg,,Graduation 11B,Oleg,,,B-202\n"
    )
    finished = batch_flow.check(batch_flow.start(tenants, batch_data.zip_bytes(files)))
    finished = batch_flow.run_to_ready(finished)
    assert finished.status == finished.Status.READY, finished.error
    for print_file in finished.print_files.all():
        batches.make_print_file(print_file_id=print_file.pk)
    return review, finished


def _invitations(ns):
    """Pending invitations both ways, and the owner in a second company (the chooser lists both):
    company A invites a newcomer (the link's page sets a password); company B invites the owner
    of A (the owner's dashboard lists it)."""
    from companies import services
    from companies.models import Company, Membership

    tenants = ns.tenants
    second = Company.objects.create(name="Alpha Kids", slug="alpha-kids", contact_email="kids@example.com")
    Membership.objects.create(user=tenants.owner, company=second, role=Membership.Role.OWNER)
    services.invite_member(company=tenants.b, invited_by=tenants.outsider, email=tenants.owner.email, role="editor")
    return services.invite_member(
        company=tenants.a, invited_by=tenants.owner, email="new.colleague@example.com", role="editor"
    )


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


def branded_paths(ns) -> set[str]:
    """The public pages of the branded studio's photos and albums (every state: playing, ended,
    paused, not yet published, still processing, failed)."""
    from companies.models import Project
    from content.models import Portrait

    photos = Portrait.objects.filter(company=ns.company).values_list("unique_id", flat=True)
    albums = Project.objects.filter(company=ns.company).values_list("public_id", flat=True)
    return {reverse("viewer:page", args=[uuid]) for uuid in photos} | {
        reverse("viewer:album", args=[uuid]) for uuid in albums
    }


def candidates(ns) -> dict[str, list]:
    """Values for the URL parameters, per parameter name or converter; the first that makes a
    page is the page's main variant (see arv/testing/routes.py)."""
    from django.contrib import admin

    from companies.models import Membership
    from content.models import Video
    from markers.models import Job, ProjectMarker
    from webhooks.models import Delivery

    portraits = [ns.ready, ns.second, ns.processing, ns.failed, ns.expired, ns.paused, ns.unpublished, ns.plain]
    deliveries = Delivery.objects.filter(endpoint=ns.endpoint).order_by("status", "pk")
    return {
        "uuid": [p.unique_id for p in portraits]
        + [ns.weddings.public_id, ns.birthdays.public_id, ns.tenants.project_b.public_id]
        + [ns.review.uuid, ns.finished.uuid],
        "public_id": [ns.endpoint.public_id, *deliveries.values_list("public_id", flat=True)],
        "endpoint_id": [ns.endpoint.public_id],
        "delivery_id": list(deliveries.values_list("public_id", flat=True)),
        # Marker files are named by their stored file's stem, which versions their URLs.
        "name": [
            PurePosixPath(name).stem
            for name in (
                Job.objects.get(portrait=ns.ready, kind=Job.Kind.MINDAR).output.name,
                ProjectMarker.objects.get(project=ns.weddings).output.name,
            )
        ],
        "slug": [ns.weddings.slug, ns.birthdays.slug],
        "int": [
            *Video.objects.filter(portrait__company=ns.company).order_by("pk").values_list("pk", flat=True),
            *Membership.objects.filter(company=ns.company).order_by("pk").values_list("pk", flat=True),
            ns.invitation.pk,
        ],
        "uidb64": [ns.reset_uid],
        "token": [ns.reset_token, ns.invitation.token],
        "app_label": sorted({model._meta.app_label for model in admin.site._registry}),
    }
