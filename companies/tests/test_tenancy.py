"""The cross-tenant matrix: every portal URL against another company's objects, anonymously, and
with a read-only role."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from companies.models import Invitation, Membership


@pytest.fixture
def world(tenants, make_portrait):
    """Objects in both companies: a portrait with a video each, and a membership each."""
    tenants.portrait_a = make_portrait(tenants.project_a, title="Ours", with_video=True)
    tenants.portrait_b = make_portrait(tenants.project_b, title="Theirs", with_video=True)
    tenants.video_a = tenants.portrait_a.videos.get()
    tenants.video_b = tenants.portrait_b.videos.get()
    tenants.member_a = Membership.objects.get(user=tenants.editor)
    tenants.member_b = Membership.objects.get(user=tenants.outsider)
    soon = timezone.now() + timedelta(days=7)
    tenants.invitation_a = Invitation.objects.create(company=tenants.a, email="x@example.com", expires_at=soon)
    tenants.invitation_b = Invitation.objects.create(company=tenants.b, email="y@example.com", expires_at=soon)
    return tenants


def object_urls(w, *, company):
    """(method, url) for every portal URL addressing an object, for company 'a' or 'b'."""
    project = w.project_a if company == "a" else w.project_b
    portrait = w.portrait_a if company == "a" else w.portrait_b
    video = w.video_a if company == "a" else w.video_b
    member = w.member_a if company == "a" else w.member_b
    invitation = w.invitation_a if company == "a" else w.invitation_b
    u, v = portrait.unique_id, video.pk
    return [
        ("get", reverse("portal:project_detail", args=[project.slug])),
        ("get", reverse("portal:project_edit", args=[project.slug])),
        ("post", reverse("portal:project_archive", args=[project.slug])),
        ("get", reverse("portal:portrait_upload", args=[project.slug])),
        ("get", reverse("portal:project_album_qr", args=[project.slug])),
        ("get", reverse("portal:portrait_detail", args=[u])),
        ("get", reverse("portal:portrait_status", args=[u])),
        ("get", reverse("portal:portrait_edit", args=[u])),
        ("post", reverse("portal:portrait_delete", args=[u])),
        ("post", reverse("portal:portrait_regenerate", args=[u])),
        ("get", reverse("portal:portrait_qr_png", args=[u])),
        ("get", reverse("portal:portrait_qr_svg", args=[u])),
        ("get", reverse("portal:portrait_print_sheet", args=[u])),
        ("post", reverse("portal:video_add", args=[u])),
        ("post", reverse("portal:video_activate", args=[u, v])),
        ("get", reverse("portal:video_edit", args=[u, v])),
        ("post", reverse("portal:video_move", args=[u, v])),
        ("post", reverse("portal:video_delete", args=[u, v])),
        ("post", reverse("portal:member_role", args=[member.pk])),
        ("post", reverse("portal:member_remove", args=[member.pk])),
        ("post", reverse("portal:invitation_resend", args=[invitation.pk])),
        ("post", reverse("portal:invitation_revoke", args=[invitation.pk])),
    ]


COLLECTION_URLS = [
    ("get", "portal:dashboard"),
    ("get", "portal:project_list"),
    ("get", "portal:project_create"),
    ("post", "portal:project_create"),
    ("get", "portal:member_list"),
    ("post", "portal:member_invite"),
    ("post", "portal:switch_company"),
    ("get", "portal:choose_company"),
    ("post", "portal:leave_company"),
]


@pytest.mark.django_db
def test_another_companys_objects_are_404_for_every_url(client, world):
    client.force_login(world.owner)
    for method, url in object_urls(world, company="b"):
        response = getattr(client, method)(url)
        assert response.status_code == 404, (method, url, response.status_code)
    # Nothing of theirs changed.
    world.invitation_b.refresh_from_db()
    assert world.invitation_b.status == "pending"
    world.portrait_b.refresh_from_db()
    world.project_b.refresh_from_db()
    assert world.project_b.status == "active"
    assert world.portrait_b.videos.count() == 1


@pytest.mark.django_db
def test_a_video_of_another_company_under_our_portrait_is_404(client, world):
    client.force_login(world.owner)
    url = reverse("portal:video_delete", args=[world.portrait_a.unique_id, world.video_b.pk])
    assert client.post(url).status_code == 404
    assert world.portrait_b.videos.count() == 1


@pytest.mark.django_db
def test_anonymous_users_are_sent_to_log_in_everywhere(client, world):
    urls = object_urls(world, company="a") + [(m, reverse(name)) for m, name in COLLECTION_URLS]
    for method, url in urls:
        response = getattr(client, method)(url)
        assert response.status_code == 302, (method, url)
        assert response["Location"].startswith("/accounts/login/?next="), (method, url)


@pytest.mark.django_db
def test_viewer_role_cannot_write_anything(client, world):
    client.force_login(world.viewer)
    writes = [(m, url) for m, url in object_urls(world, company="a") if m == "post"]
    writes += [
        ("get", reverse("portal:project_edit", args=[world.project_a.slug])),
        ("get", reverse("portal:portrait_upload", args=[world.project_a.slug])),
        ("get", reverse("portal:portrait_edit", args=[world.portrait_a.unique_id])),
        ("get", reverse("portal:video_edit", args=[world.portrait_a.unique_id, world.video_a.pk])),
        ("get", reverse("portal:project_create")),
        ("post", reverse("portal:project_create")),
        ("post", reverse("portal:member_invite")),
    ]
    for method, url in writes:
        response = getattr(client, method)(url)
        assert response.status_code == 403, (method, url, response.status_code)
    assert world.portrait_a.videos.count() == 1
    world.project_a.refresh_from_db()
    assert world.project_a.status == "active"


@pytest.mark.django_db
def test_viewer_role_can_read(client, world):
    client.force_login(world.viewer)
    reads = [
        (m, url)
        for m, url in object_urls(world, company="a")
        if m == "get" and "edit" not in url and "upload" not in url
    ]
    for method, url in reads:
        assert getattr(client, method)(url).status_code == 200, url


@pytest.mark.django_db
def test_editor_cannot_manage_members(client, world):
    client.force_login(world.editor)
    owner_membership = Membership.objects.get(user=world.owner)
    assert client.post(reverse("portal:member_remove", args=[owner_membership.pk])).status_code == 403
    assert client.post(reverse("portal:member_invite"), {"email": "x@example.com", "role": "owner"}).status_code == 403
    assert Membership.objects.filter(pk=owner_membership.pk).exists()


@pytest.mark.django_db
def test_a_user_of_no_company_gets_an_explanation(client, make_user):
    client.force_login(make_user("loner"))
    response = client.get(reverse("portal:dashboard"))
    assert response.status_code == 403
    assert b"not a member of any company" in response.content
