"""/api/v1/projects/: list, create, retrieve, update, scoped to the token user's company."""

from datetime import timedelta

import pytest
from django.utils import timezone

from arv.testing.api import errors_of, token_client
from companies.models import Project

PROJECTS = "/api/v1/projects/"


def url(project_or_slug) -> str:
    return f"{PROJECTS}{getattr(project_or_slug, 'slug', project_or_slug)}/"


@pytest.mark.django_db
def test_list_shows_the_companys_projects_with_counts_in_constant_queries(
    tenants, make_portrait, django_assert_num_queries
):
    make_portrait(tenants.project_a)
    Project.objects.create(company=tenants.a, name="Old", slug="old", status=Project.Status.ARCHIVED)
    client = token_client(tenants.viewer)
    # token + user, memberships, count, page of projects with their portrait counts
    with django_assert_num_queries(4):
        body = client.get(PROJECTS).json()
    assert body["count"] == 2 and body["next"] is None
    assert [(p["slug"], p["portrait_count"]) for p in body["results"]] == [("old", 0), ("weddings", 1)]
    for i in range(30):
        Project.objects.create(company=tenants.a, name=f"P{i}", slug=f"p{i}")
    with django_assert_num_queries(4):
        body = client.get(PROJECTS, {"page_size": 10, "page": 2}).json()
    assert body["count"] == 32 and len(body["results"]) == 10 and body["previous"] and body["next"]
    archived = client.get(PROJECTS, {"status": "archived"}).json()["results"]
    assert [p["slug"] for p in archived] == ["old"]


@pytest.mark.django_db
def test_list_rejects_unknown_filters_and_pages(tenants):
    client = token_client(tenants.owner)
    assert list(errors_of(client.get(PROJECTS, {"status": "<script>"}))) == ["status"]
    response = client.get(PROJECTS, {"page": 99})
    assert response.status_code == 404 and response.json()["code"] == "not_found"


@pytest.mark.django_db
def test_create_calls_the_service_and_answers_the_new_project(tenants):
    response = token_client(tenants.editor).post(
        PROJECTS,
        {
            "name": "  Spring <b>Weddings</b> ",
            "description": "Ünïcode ✓",
            "expires_at": "2031-05-01T10:00:00Z",
            "notify_days_before_expiry": 14,
            "tags": ["spring", "2031", "spring"],
        },
        format="json",
    )
    assert response.status_code == 201
    project = Project.objects.get(company=tenants.a, slug="spring-bweddingsb")
    assert project.name == "Spring <b>Weddings</b>" and project.created_by == tenants.editor
    assert project.tags == ["2031", "spring"] and project.notify_days_before_expiry == 14
    body = response.json()
    assert body["slug"] == project.slug and body["name"] == project.name and body["portrait_count"] == 0
    assert body["album_url"] == project.album_url and body["expires_at"] == "2031-05-01T10:00:00Z"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({}, ["name"]),
        ({"name": "   "}, ["name"]),
        ({"name": "x" * 201}, ["name"]),
        ({"name": "a\x00b"}, ["name"]),
        ({"name": 42, "auto_renew": "perhaps"}, ["auto_renew", "name"]),  # a number is not a name
        ({"name": "ok", "tags": "a,b"}, ["tags"]),
        ({"name": "ok", "tags": ["t"] * 21}, ["tags"]),
        ({"name": "ok", "tags": ["x" * 41]}, ["tags.0"]),
        ({"name": "ok", "notify_days_before_expiry": 366}, ["notify_days_before_expiry"]),
        ({"name": "ok", "starts_at": "2031-01-02T00:00:00Z", "expires_at": "2031-01-01T00:00:00Z"}, ["expires_at"]),
        ({"name": "ok", "expires_at": "next tuesday"}, ["expires_at"]),
        ({"name": "ok", "description": "d" * 5001}, ["description"]),
    ],
)
def test_create_refuses_bad_input_with_field_errors_and_creates_nothing(tenants, payload, fields):
    before = Project.objects.count()
    assert sorted(errors_of(token_client(tenants.owner).post(PROJECTS, payload, format="json"))) == fields
    assert Project.objects.count() == before


@pytest.mark.django_db
def test_create_reports_the_plan_limit(tenants):
    tenants.a.projects_limit = 1
    tenants.a.save()
    errors = errors_of(token_client(tenants.owner).post(PROJECTS, {"name": "One too many"}, format="json"))
    assert "allows 1 projects" in errors["non_field_errors"][0]
    assert not Project.objects.filter(name="One too many").exists()


@pytest.mark.django_db
def test_viewers_and_read_only_companies_cannot_create(tenants):
    response = token_client(tenants.viewer).post(PROJECTS, {"name": "Nope"}, format="json")
    assert response.status_code == 403 and "viewer" in response.json()["detail"]
    tenants.a.subscription_expires_at = timezone.now() - timedelta(days=1)
    tenants.a.save()
    response = token_client(tenants.owner).post(PROJECTS, {"name": "Nope"}, format="json")
    assert response.status_code == 403
    assert response.json() == {"detail": tenants.a.read_only_reason, "code": "permission_denied"}
    assert "subscription has expired" in response.json()["detail"]
    tenants.a.subscription_expires_at = None
    tenants.a.is_active = False
    tenants.a.save()
    response = token_client(tenants.owner).post(PROJECTS, {"name": "Nope"}, format="json")
    assert response.status_code == 403 and "deactivated" in response.json()["detail"]
    assert not Project.objects.filter(name="Nope").exists()
    # Reading stays possible, as in the portal.
    assert token_client(tenants.owner).get(url(tenants.project_a)).status_code == 200


@pytest.mark.django_db
def test_retrieve_by_slug_within_the_company_only(tenants, make_portrait, django_assert_num_queries):
    make_portrait(tenants.project_a)
    client = token_client(tenants.viewer)
    with django_assert_num_queries(3):  # token + user, memberships, project with its count
        response = client.get(url(tenants.project_a))
    assert response.status_code == 200 and response.json()["portrait_count"] == 1
    response = client.get(url(tenants.project_b))
    assert response.status_code == 404 and response.json() == {"detail": "Not found.", "code": "not_found"}
    assert client.get(url("no-such-project")).status_code == 404


@pytest.mark.django_db
def test_update_changes_only_the_fields_sent(tenants):
    project = tenants.project_a
    project.description = "keep me"
    project.save()
    response = token_client(tenants.editor).patch(
        url(project), {"name": "Summer weddings", "tags": ["b", "a"]}, format="json"
    )
    assert response.status_code == 200
    project.refresh_from_db()
    assert project.name == "Summer weddings" and project.tags == ["a", "b"] and project.description == "keep me"
    assert project.slug == "weddings"  # URLs stay valid
    assert response.json()["name"] == "Summer weddings"
    assert token_client(tenants.editor).patch(url(project), {}, format="json").status_code == 200


@pytest.mark.django_db
def test_update_checks_the_period_against_stored_dates(tenants):
    project = tenants.project_a
    project.starts_at = timezone.now() + timedelta(days=10)
    project.save()
    errors = errors_of(
        token_client(tenants.owner).patch(
            url(project), {"expires_at": timezone.now().isoformat(), "name": "Changed"}, format="json"
        )
    )
    assert errors == {"expires_at": ["The project must expire after it starts."]}
    project.refresh_from_db()
    assert project.expires_at is None and project.name == "Weddings"


@pytest.mark.django_db
def test_update_is_scoped_and_needs_write_access(tenants):
    response = token_client(tenants.owner).patch(url(tenants.project_b), {"name": "Hijack"}, format="json")
    assert response.status_code == 404
    response = token_client(tenants.viewer).patch(url(tenants.project_a), {"name": "Nope"}, format="json")
    assert response.status_code == 403
    tenants.project_a.refresh_from_db()
    tenants.project_b.refresh_from_db()
    assert tenants.project_a.name == "Weddings" and tenants.project_b.name == "Schools"
