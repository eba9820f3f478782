"""The portal's first page (issue 22, item 7): photos processing or failed with the reason and a
retry for those who may, this week's visits and the share that found the photo, prints scanned
but rarely found, projects and the subscription expiring soon."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from arv.testing.analytics_data import visit
from companies import services
from companies.models import Company, Project
from markers.models import Job

pytestmark = pytest.mark.django_db

BAD_PHOTO = "The photo could not be read to make its preview."


def failed_photo(make_portrait, project, title="Broken"):
    from content.models import Portrait

    portrait = make_portrait(project, title=title, with_video=True, status=Portrait.Status.FAILED)
    Job.objects.create(portrait=portrait, kind=Job.Kind.PREVIEW, status=Job.Status.FAILED, error=BAD_PHOTO)
    video = portrait.videos.get()
    video.status = video.Status.FAILED
    video.save()
    Job.objects.create(
        portrait=portrait,
        video=video,
        kind=Job.Kind.VIDEO,
        status=Job.Status.FAILED,
        error="No picture could be decoded from this video.",
    )
    return portrait


def sessions(portrait, *, days_ago=1, found=0, lost=0):
    when = timezone.now() - timedelta(days=days_ago)
    for _ in range(found):
        visit(portrait, when, ttf=1200)
    for _ in range(lost):
        visit(portrait, when)


def dashboard(client, user, **headers):
    client.force_login(user)
    response = client.get(reverse("portal:dashboard"), **headers)
    assert response.status_code == 200
    return response.content.decode()


def test_failed_and_processing_photos_with_their_reasons_and_a_retry(client, tenants, make_portrait):
    broken = failed_photo(make_portrait, tenants.project_a)
    make_portrait(tenants.project_a, title="Still going")  # processing: the default status
    make_portrait(tenants.project_a, title="All good", status="ready")
    html = dashboard(client, tenants.editor)
    assert "1 photo failed" in html and "1 photo is being processed" in html
    assert BAD_PHOTO in html and "No picture could be decoded from this video." in html
    assert "Still going" in html and "All good" not in html.split("Visits in the last 7 days")[0]
    assert reverse("portal:portrait_retry", args=[broken.unique_id]) in html


def test_reasons_are_translated(client, tenants, make_portrait):
    failed_photo(make_portrait, tenants.project_a)
    html = dashboard(client, tenants.owner, HTTP_ACCEPT_LANGUAGE="ru")
    assert "Не удалось прочитать фото, чтобы сделать превью." in html
    assert "Требует внимания" in html


def test_a_viewer_sees_what_needs_attention_but_no_retry(client, tenants, make_portrait):
    broken = failed_photo(make_portrait, tenants.project_a)
    html = dashboard(client, tenants.viewer)
    assert BAD_PHOTO in html
    assert reverse("portal:portrait_retry", args=[broken.unique_id]) not in html
    response = client.post(reverse("portal:portrait_retry", args=[broken.unique_id]))
    assert response.status_code == 403
    assert not Job.objects.filter(portrait=broken).exclude(status=Job.Status.FAILED).exists()


def test_another_companys_photos_and_visits_stay_out(client, tenants, make_portrait):
    theirs = failed_photo(make_portrait, tenants.project_b, title="Their broken photo")
    sessions(theirs, found=1, lost=9)
    html = dashboard(client, tenants.owner)
    assert "Their broken photo" not in html and "Needs attention" not in html
    assert "No visits yet" in html
    assert client.post(reverse("portal:portrait_retry", args=[theirs.unique_id])).status_code == 404
    assert not Job.objects.filter(portrait=theirs).exclude(status=Job.Status.FAILED).exists()


def test_anonymous_visitors_are_sent_to_log_in(client, tenants, make_portrait):
    broken = failed_photo(make_portrait, tenants.project_a)
    for response in (
        client.get(reverse("portal:dashboard")),
        client.post(reverse("portal:portrait_retry", args=[broken.unique_id])),
    ):
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert client.get(reverse("portal:portrait_retry", args=[broken.unique_id])).status_code == 405


def test_retry_queues_every_failed_job_again_and_returns_to_the_dashboard(
    client, tenants, make_portrait, django_capture_on_commit_callbacks
):
    broken = failed_photo(make_portrait, tenants.project_a)
    client.force_login(tenants.editor)
    url = reverse("portal:portrait_retry", args=[broken.unique_id])
    with django_capture_on_commit_callbacks():
        response = client.post(url, {"next": reverse("portal:dashboard")}, follow=True)
    assert response.redirect_chain == [(reverse("portal:dashboard"), 302)]
    assert "“Broken” is being processed again." in response.content.decode()
    assert set(Job.objects.filter(portrait=broken).values_list("status", flat=True)) == {Job.Status.PENDING}
    assert Job.objects.filter(portrait=broken, error="").count() == 2
    broken.refresh_from_db()
    assert broken.status == "processing"
    assert broken.videos.get().status == "processing" and broken.videos.get().status_message == ""
    # Nothing left to retry: said so, nothing changes.
    response = client.post(url, follow=True)
    assert "Nothing of “Broken” has failed." in response.content.decode()


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/portal/", "javascript:alert(1)"])
def test_retry_never_redirects_off_the_site(client, tenants, make_portrait, target):
    broken = failed_photo(make_portrait, tenants.project_a)
    client.force_login(tenants.owner)
    response = client.post(reverse("portal:portrait_retry", args=[broken.unique_id]), {"next": target})
    assert response["Location"] == broken.get_absolute_url()


def test_visits_of_the_last_seven_days_with_the_share_found(client, tenants, make_portrait):
    photo = make_portrait(tenants.project_a, title="Anna")
    sessions(photo, days_ago=1, found=3, lost=1)
    sessions(photo, days_ago=10, found=0, lost=5)  # before the week
    html = dashboard(client, tenants.viewer)
    views = html.split("Visits in the last 7 days")[1].split("Expiring soon")[0]
    assert '<strong class="stat-value">4</strong>' in views
    assert '<strong class="stat-value">75%</strong>' in views and "3 of 4 visits" in views
    assert "Visits per day" in views


def test_prints_scanned_but_rarely_found(client, tenants, make_portrait):
    missed = make_portrait(tenants.project_a, title="Glossy print")
    fine = make_portrait(tenants.project_a, title="Matte print")
    few = make_portrait(tenants.project_a, title="Barely scanned")
    sessions(missed, found=1, lost=5)
    sessions(fine, found=5, lost=1)
    sessions(few, found=0, lost=4)  # too few visits to tell
    html = dashboard(client, tenants.owner)
    rarely = html.split("Scanned but rarely found")[1].split("Storage")[0]
    assert "Glossy print" in rarely and "17%" in rarely
    assert "Matte print" not in rarely and "Barely scanned" not in rarely
    assert reverse("portal:portrait_analytics", args=[missed.unique_id]) in rarely


def test_projects_and_the_subscription_expiring_soon(client, tenants):
    now = timezone.now()
    company = tenants.a
    Project.objects.create(company=company, name="Prom night", slug="prom", expires_at=now + timedelta(days=5))
    Project.objects.create(company=company, name="Next year", slug="next", expires_at=now + timedelta(days=90))
    Project.objects.create(
        company=company, name="Old archive", slug="old", expires_at=now + timedelta(days=3), status="archived"
    )
    html = dashboard(client, tenants.owner)
    soon = html.split("Expiring soon")[1].split("</section>")[0]
    assert "Prom night" in soon and "Next year" not in soon and "Old archive" not in soon
    assert "Subscription" not in soon
    company.subscription_expires_at = now + timedelta(days=10)
    company.save()
    soon = dashboard(client, tenants.owner).split("Expiring soon")[1].split("</section>")[0]
    assert "Subscription" in soon and "has expired" not in soon
    company.subscription_expires_at = now - timedelta(days=1)
    company.save()
    soon = dashboard(client, tenants.owner).split("Expiring soon")[1].split("</section>")[0]
    assert "The subscription has expired" in soon
    Project.objects.filter(company=company).delete()
    company.subscription_expires_at = None
    company.save()
    assert "Nothing expires in the next 30 days." in dashboard(client, tenants.owner)


def test_the_dashboard_reads_the_same_number_of_queries_whatever_the_size(
    client, tenants, make_portrait, django_assert_num_queries
):
    def grow(start, end):
        for i in range(start, end):
            failed_photo(make_portrait, tenants.project_a, title=f"Broken {i}")
            make_portrait(tenants.project_a, title=f"Processing {i}")
            missed = make_portrait(tenants.project_a, title=f"Missed {i}", status="ready")
            sessions(missed, found=1, lost=5)
            Project.objects.create(
                company=tenants.a, name=f"Ends {i}", slug=f"ends-{i}", expires_at=timezone.now() + timedelta(days=3)
            )
            # Another studio's invitation to the owner, listed with its inviter and company.
            other = Company.objects.create(name=f"Studio {i}", slug=f"studio-{i}")
            services.invite_member(company=other, invited_by=tenants.outsider, email=tenants.owner.email, role="editor")

    grow(0, 1)
    client.force_login(tenants.owner)
    client.get(reverse("portal:dashboard"))  # the session is read once it exists
    # session, user, memberships; projects; photo counts; processing photos; failed photos and
    # their failed jobs; visits per day (raw, rolled up); totals per photo (raw, rolled up) and
    # the rarely found photos' titles; projects expiring soon; the user's pending invitations.
    with django_assert_num_queries(15):
        client.get(reverse("portal:dashboard"))
    grow(1, 13)
    with django_assert_num_queries(15):
        html = client.get(reverse("portal:dashboard")).content.decode()
    assert "13 photos failed" in html and "The 8 most recent are shown." in html
    assert html.count('action="/portal/invitations/') == 2 * 13 and "Studio 12</strong>" in html
