from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from companies.models import Company, Membership, Project


def _count_queries(admin_client, url, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    admin_client.get(url)  # warm the per-process caches a running server has
    with CaptureQueriesContext(connection) as ctx:
        assert admin_client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url_name",
    [
        "admin:companies_company_changelist",
        "admin:companies_project_changelist",
        "admin:companies_membership_changelist",
        "admin:companies_storageconnection_changelist",
        "admin:content_portrait_changelist",
        "admin:content_video_changelist",
        "admin:markers_job_changelist",
        "admin:viewer_viewsession_changelist",
        "admin:index",
    ],
)
def test_admin_pages_run_a_constant_number_of_queries(
    admin_client, tenants, make_portrait, url_name, django_assert_max_num_queries
):
    from markers.models import Job

    url = reverse(url_name)

    def grow(n):
        for i in range(n):
            company = Company.objects.create(name=f"C{i}-{Company.objects.count()}", slug=f"c{Company.objects.count()}")
            project = Project.objects.create(company=company, name="P", slug="p")
            Membership.objects.create(user=tenants.owner, company=company, role="viewer")
            portrait = make_portrait(project, with_video=True)
            Job.objects.create(portrait=portrait, kind="mindar")

    grow(1)
    few = _count_queries(admin_client, url, django_assert_max_num_queries)
    grow(8)
    many = _count_queries(admin_client, url, django_assert_max_num_queries)
    assert many == few, f"{url_name}: {few} queries with few rows, {many} with more"


@pytest.mark.django_db
def test_admin_index_shows_platform_figures(admin_client, tenants, make_portrait):
    from markers.models import Job

    portrait = make_portrait(tenants.project_a)
    Job.objects.create(portrait=portrait, kind="mindar", status="failed", finished_at=timezone.now())
    Job.objects.create(
        portrait=make_portrait(tenants.project_a),
        kind="mindar",
        status="failed",
        finished_at=timezone.now() - timedelta(days=2),
    )
    html = admin_client.get(reverse("admin:index")).content.decode()
    assert "Companies (active / all)" in html
    assert "<td>2 / 2</td>" in html
    assert '?status__exact=failed">1</a>' in html


@pytest.mark.django_db
def test_company_usage_bar_and_actions(admin_client, tenants):
    tenants.a.storage_used_bytes = 9 * 1024**3
    tenants.a.save()
    url = reverse("admin:companies_company_changelist")
    html = admin_client.get(url).content.decode()
    assert "9.0\xa0GB / 10.0\xa0GB (90%)" in html
    admin_client.post(url, {"action": "deactivate", "_selected_action": [tenants.a.pk]})
    tenants.a.refresh_from_db()
    assert not tenants.a.is_active
    response = admin_client.post(url, {"action": "extend_subscription", "_selected_action": [tenants.a.pk]})
    assert b"Extend by how many months?" in response.content
    admin_client.post(
        url, {"action": "extend_subscription", "_selected_action": [tenants.a.pk], "apply": "1", "months": "3"}
    )
    tenants.a.refresh_from_db()
    delta = tenants.a.subscription_expires_at - timezone.now()
    assert timedelta(days=88) < delta < timedelta(days=93)


@pytest.mark.django_db
def test_project_extend_action_revives_an_expired_project(admin_client, tenants):
    tenants.project_a.status = Project.Status.EXPIRED
    tenants.project_a.expires_at = timezone.now() - timedelta(days=3)
    tenants.project_a.save()
    admin_client.post(
        reverse("admin:companies_project_changelist"),
        {"action": "extend", "_selected_action": [tenants.project_a.pk], "apply": "1", "months": "1"},
    )
    tenants.project_a.refresh_from_db()
    assert tenants.project_a.status == Project.Status.ACTIVE
    assert tenants.project_a.expires_at > timezone.now() + timedelta(days=27)


def test_add_months_clamps_the_day():
    from datetime import datetime

    from companies.models import add_months

    assert add_months(datetime(2026, 1, 31), 1) == datetime(2026, 2, 28)
    assert add_months(datetime(2026, 11, 30), 3) == datetime(2027, 2, 28)
    assert add_months(datetime(2028, 1, 31), 1) == datetime(2028, 2, 29)


@pytest.mark.django_db
def test_the_back_office_never_shows_an_api_key(admin_client, tenants):
    """The portal shows a key once, to its owner; staff see who has one and can revoke it."""
    from companies.models import ApiToken

    token, key = ApiToken.issue(tenants.owner)
    pages = [
        reverse("admin:companies_apitoken_changelist"),
        reverse("admin:companies_apitoken_change", args=[token.pk]),
        reverse("admin:companies_apitoken_history", args=[token.pk]),
        reverse("admin:companies_apitoken_delete", args=[token.pk]),
        reverse("admin:auth_user_delete", args=[tenants.owner.pk]),
    ]
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert key not in html and key[len(token.prefix) :] not in html, url
    assert "alice" in admin_client.get(pages[1]).content.decode()
    assert admin_client.get(reverse("admin:companies_apitoken_add")).status_code == 403
    # Revoking still works.
    response = admin_client.post(pages[3], {"post": "yes"})
    assert response.status_code == 302 and not ApiToken.objects.filter(pk=token.pk).exists()
