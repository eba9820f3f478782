from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from companies.models import Company, Invitation, Membership, Project


@pytest.mark.django_db
def test_dashboard_shows_projects_with_counts_and_usage(client, tenants, make_portrait):
    make_portrait(tenants.project_a)
    make_portrait(tenants.project_a)
    tenants.a.storage_used_bytes = 5 * 1024**3
    tenants.a.save()
    client.force_login(tenants.owner)
    html = client.get(reverse("portal:dashboard")).content.decode()
    assert "Weddings" in html
    assert "<td>2</td>" in html
    assert "5.0\xa0GB of 10.0\xa0GB used (50%)" in html
    assert "Schools" not in html


@pytest.mark.django_db
def test_list_pages_run_a_constant_number_of_queries(client, tenants, django_assert_max_num_queries):
    client.force_login(tenants.owner)
    for i in range(3):
        Project.objects.create(company=tenants.a, name=f"P{i}", slug=f"p{i}")
    client.get(reverse("portal:project_list"))  # warm the session
    # session, user, memberships+company, count, page of projects with portrait counts
    with django_assert_max_num_queries(5) as few:
        client.get(reverse("portal:project_list"))
    for i in range(3, 20):
        Project.objects.create(company=tenants.a, name=f"P{i}", slug=f"p{i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("portal:project_list"))
    # session, user, memberships+company, projects, the user's pending invitations, and the
    # dashboard's overview: photo counts, visits (2), totals per photo (2), projects expiring soon
    # (companies/tests/test_dashboard.py counts it with everything on it).
    with django_assert_max_num_queries(11):
        client.get(reverse("portal:dashboard"))
    # session, user, memberships+company, members, the company's pending invitations (owners)
    with django_assert_max_num_queries(5):
        client.get(reverse("portal:member_list"))


@pytest.mark.django_db
def test_create_edit_archive_project(client, tenants):
    client.force_login(tenants.editor)
    response = client.post(
        reverse("portal:project_create"),
        {"name": "Graduation 2026", "notify_days_before_expiry": 7, "tags": "school, 2026"},
    )
    project = Project.objects.get(company=tenants.a, name="Graduation 2026")
    assert response["Location"] == project.get_absolute_url()
    assert project.slug == "graduation-2026"
    assert project.tags == ["2026", "school"]
    assert project.created_by == tenants.editor
    response = client.post(
        reverse("portal:project_edit", args=[project.slug]),
        {"name": "Graduation", "notify_days_before_expiry": 3, "tags": "", "auto_renew": "on"},
    )
    assert response.status_code == 302
    project.refresh_from_db()
    assert (project.name, project.notify_days_before_expiry, project.auto_renew, project.slug) == (
        "Graduation",
        3,
        True,
        "graduation-2026",
    )
    client.post(reverse("portal:project_archive", args=[project.slug]))
    project.refresh_from_db()
    assert project.status == Project.Status.ARCHIVED


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "notify_days_before_expiry": 7}, "This field is required."),
        ({"name": "   ", "notify_days_before_expiry": 7}, "This field is required."),
        ({"name": "x" * 201, "notify_days_before_expiry": 7}, "at most 200 characters"),
        ({"name": "A", "notify_days_before_expiry": "soon"}, "Enter a whole number."),
        (
            {
                "name": "A",
                "notify_days_before_expiry": 7,
                "starts_at": "2026-05-01T10:00",
                "expires_at": "2026-04-01T10:00",
            },
            "must expire after it starts",
        ),
        ({"name": "A", "notify_days_before_expiry": 7, "tags": "x" * 41}, "at most 40 characters"),
        ({"name": "<script>alert(1)</script>", "notify_days_before_expiry": 9999}, "less than or equal to 365"),
    ],
)
def test_bad_project_input_is_refused_with_a_message(client, tenants, data, message):
    client.force_login(tenants.owner)
    before = Project.objects.count()
    response = client.post(reverse("portal:project_create"), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Project.objects.count() == before


@pytest.mark.django_db
def test_hostile_names_are_escaped(client, tenants):
    client.force_login(tenants.owner)
    client.post(reverse("portal:project_create"), {"name": "<script>alert(1)</script>", "notify_days_before_expiry": 7})
    html = client.get(reverse("portal:project_list")).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.django_db
def test_projects_limit_is_enforced_with_a_clear_message(client, tenants):
    tenants.a.projects_limit = 1
    tenants.a.save()
    client.force_login(tenants.owner)
    response = client.post(reverse("portal:project_create"), {"name": "Second", "notify_days_before_expiry": 7})
    assert response.status_code == 200
    assert "Your plan allows 1 projects and all of them are in use" in response.content.decode()
    assert not Project.objects.filter(name="Second").exists()
    tenants.project_a.archive()  # archived projects do not count
    response = client.post(reverse("portal:project_create"), {"name": "Second", "notify_days_before_expiry": 7})
    assert response.status_code == 302


@pytest.mark.django_db
@pytest.mark.parametrize("state", ["inactive", "expired"])
def test_inactive_or_expired_company_portal_is_read_only(client, tenants, state):
    if state == "inactive":
        tenants.a.is_active = False
        reason = "deactivated"
    else:
        tenants.a.subscription_expires_at = timezone.now() - timedelta(days=1)
        reason = "subscription has expired"
    tenants.a.save()
    client.force_login(tenants.owner)
    assert client.get(reverse("portal:project_list")).status_code == 200
    dashboard = client.get(reverse("portal:dashboard")).content.decode()
    assert reason in dashboard
    response = client.post(reverse("portal:project_create"), {"name": "New", "notify_days_before_expiry": 7})
    assert response.status_code == 403
    assert reason in response.content.decode()
    assert client.post(reverse("portal:project_archive", args=[tenants.project_a.slug])).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("email", ["", "not-an-email", "a@b", "x" * 250 + "@example.com"])
def test_bad_invitations_are_refused(client, tenants, email, django_capture_on_commit_callbacks):
    client.force_login(tenants.owner)
    before = Membership.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("portal:member_invite"), {"email": email, "role": "editor"})
    assert response.status_code == 400
    assert Membership.objects.count() == before
    assert not Invitation.objects.exists()
    assert mail.outbox == []


@pytest.mark.django_db
def test_roles_change_but_the_last_owner_stays(client, tenants):
    client.force_login(tenants.owner)
    editor = Membership.objects.get(user=tenants.editor)
    client.post(reverse("portal:member_role", args=[editor.pk]), {"role": "viewer"})
    editor.refresh_from_db()
    assert editor.role == "viewer"
    owner = Membership.objects.get(user=tenants.owner)
    response = client.post(reverse("portal:member_role", args=[owner.pk]), {"role": "editor"}, follow=True)
    assert "at least one owner" in response.content.decode()
    owner.refresh_from_db()
    assert owner.role == "owner"
    client.post(reverse("portal:member_remove", args=[owner.pk]))
    assert Membership.objects.filter(pk=owner.pk).exists()
    client.post(reverse("portal:member_remove", args=[editor.pk]))
    assert not Membership.objects.filter(pk=editor.pk).exists()


@pytest.mark.django_db
def test_company_switcher(client, tenants):
    Membership.objects.create(user=tenants.owner, company=tenants.b, role="viewer")
    client.force_login(tenants.owner)
    client.post(reverse("portal:switch_company"), {"company": "alpha"})
    html = client.get(reverse("portal:dashboard")).content.decode()
    assert "company-select" in html and "Alpha Studio" in html
    client.post(reverse("portal:switch_company"), {"company": "beta", "next": "/portal/"})
    html = client.get(reverse("portal:dashboard")).content.decode()
    assert "Schools" in html and "Weddings" not in html
    # Switching to a company one is not a member of does nothing.
    other = Company.objects.create(name="Gamma", slug="gamma")
    client.post(reverse("portal:switch_company"), {"company": other.slug})
    assert "Schools" in client.get(reverse("portal:dashboard")).content.decode()
