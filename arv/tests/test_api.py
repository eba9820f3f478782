"""How the REST API speaks, whatever the endpoint: auth, company choice, errors, limits, throttling."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from arv import settings as arv_settings
from arv.testing.api import errors_of, reset_throttles, token_client
from companies.models import ApiToken, Company, Membership, Project

PROJECTS = "/api/v1/projects/"


@pytest.mark.django_db
def test_anonymous_requests_get_401_with_the_token_challenge(tenants):
    reset_throttles()
    response = APIClient().get(PROJECTS)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {"detail": "Authentication credentials were not provided.", "code": "not_authenticated"}


@pytest.mark.django_db
def test_a_wrong_or_revoked_token_gets_401(tenants):
    client = token_client(tenants.owner)
    ApiToken.objects.filter(user=tenants.owner).delete()
    response = client.get(PROJECTS)
    assert response.status_code == 401 and response.json()["code"] == "authentication_failed"
    response = APIClient(HTTP_AUTHORIZATION="Token " + "0" * 40).get(PROJECTS)
    assert response.status_code == 401


@pytest.mark.django_db
def test_a_token_made_by_the_management_command_works_and_only_its_hash_is_kept(tenants, capsys):
    call_command("create_api_token", "eddie")
    key = capsys.readouterr().out.strip()
    token = ApiToken.objects.get(user=tenants.editor)
    assert key.startswith("arv_") and len(key) > 40
    assert key not in (token.digest, token.prefix) and token.prefix == key[:8]
    reset_throttles(tenants.editor)
    response = APIClient(HTTP_AUTHORIZATION=f"Token {key}").get(PROJECTS)
    assert response.status_code == 200 and response.json()["count"] == 1
    # A second run replaces the key: the first one stops working.
    call_command("create_api_token", "eddie")
    captured = capsys.readouterr()
    assert "no longer works" in captured.err and captured.out.strip() != key
    assert APIClient(HTTP_AUTHORIZATION=f"Token {key}").get(PROJECTS).status_code == 401


@pytest.mark.django_db
def test_the_token_command_refuses_unknown_and_deactivated_users(tenants):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no user"):
        call_command("create_api_token", "nobody")
    tenants.editor.is_active = False
    tenants.editor.save()
    with pytest.raises(CommandError, match="deactivated"):
        call_command("create_api_token", "eddie")
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_session_auth_works_for_reads_and_enforces_csrf_on_writes(tenants):
    client = Client(enforce_csrf_checks=True)
    client.force_login(tenants.owner)
    reset_throttles(tenants.owner)
    assert client.get(PROJECTS).status_code == 200
    response = client.post(PROJECTS, {"name": "Sneaky"}, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Project.objects.filter(name="Sneaky").exists()
    client.get("/portal/")  # sets the CSRF cookie, as the portal's pages do
    token = client.cookies["csrftoken"].value
    response = client.post(PROJECTS, {"name": "Legit"}, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201
    assert Project.objects.filter(company=tenants.a, name="Legit").exists()


@pytest.mark.django_db
def test_token_requests_need_no_csrf_token(tenants):
    client = token_client(tenants.owner)
    client.handler.enforce_csrf_checks = True
    assert client.post(PROJECTS, {"name": "From a script"}, format="json").status_code == 201


@pytest.fixture
def two_companies(tenants):
    """Alice owns Alpha and is a viewer at Gamma (sorted after Alpha by name)."""
    gamma = Company.objects.create(name="Gamma Lab", slug="gamma")
    Membership.objects.create(user=tenants.owner, company=gamma, role=Membership.Role.VIEWER)
    Project.objects.create(company=gamma, name="Gamma things", slug="gamma-things")
    return gamma


@pytest.mark.django_db
def test_a_user_of_several_companies_must_name_one(tenants, two_companies):
    """Never "the first by name": without X-Company, a 400 that says what to send, and nothing done."""
    client = token_client(tenants.owner)
    for response in (
        client.get(PROJECTS),
        client.post(PROJECTS, {"name": "Where?"}, format="json"),
        client.get("/api/v1/portraits/"),
        client.get(PROJECTS, HTTP_X_COMPANY=""),
    ):
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "company_required"
        assert "X-Company" in body["detail"] and "alpha" in body["detail"] and "gamma" in body["detail"]
    assert not Project.objects.filter(name="Where?").exists()
    client = token_client(tenants.owner, company="gamma")
    assert [p["slug"] for p in client.get(PROJECTS).json()["results"]] == ["gamma-things"]
    # Alice's role is the one she has in the company named: a viewer at Gamma.
    response = client.post(PROJECTS, {"name": "Nope"}, format="json")
    assert response.status_code == 403 and "viewer" in response.json()["detail"]
    assert (
        token_client(tenants.owner, company="alpha").post(PROJECTS, {"name": "Yes"}, format="json").status_code == 201
    )


@pytest.mark.django_db
@pytest.mark.parametrize("slug", ["beta", "no-such-company", "alpha'; drop table x"])
def test_x_company_of_a_company_the_user_is_not_in_is_403(tenants, slug):
    response = token_client(tenants.owner, company=slug).get(PROJECTS)
    assert response.status_code == 403
    assert response.json() == {
        "detail": "You are not a member of the company given in the X-Company header.",
        "code": "company",
    }


@pytest.mark.django_db
def test_session_requests_act_in_the_company_active_in_the_portal(tenants, two_companies):
    client = Client()
    client.force_login(tenants.owner)
    reset_throttles(tenants.owner)
    client.post("/portal/switch/", {"company": "gamma"})
    assert [p["slug"] for p in client.get(PROJECTS).json()["results"]] == ["gamma-things"]
    assert [p["slug"] for p in client.get(PROJECTS, HTTP_X_COMPANY="alpha").json()["results"]] == ["weddings"]


@pytest.mark.django_db
def test_a_user_of_no_company_gets_403_with_an_explanation(make_user):
    user = make_user("loner")
    response = token_client(user).get(PROJECTS)
    assert response.status_code == 403 and response.json()["code"] == "no_company"


@pytest.mark.django_db
def test_unknown_paths_and_methods_answer_json(tenants):
    client = token_client(tenants.owner)
    for path in ["/api/v1/nothing-here/", "/api/v1/portraits/not-a-uuid/", "/api/v1/projects"]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json() == {"detail": "Not found.", "code": "not_found"}
    response = client.put(PROJECTS, {}, format="json")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD, POST"
    assert response.json()["code"] == "method_not_allowed"
    assert client.options(PROJECTS).status_code == 405
    assert client.head(PROJECTS).status_code == 200


@pytest.mark.django_db
def test_bodies_must_be_json_and_well_formed(tenants):
    client = token_client(tenants.owner)
    response = client.post(PROJECTS, "name=Form", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415 and response.json()["code"] == "unsupported_media_type"
    response = client.post(PROJECTS, '{"name": ', content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "parse_error"
    assert errors_of(client.post(PROJECTS, [1, 2], format="json")) == {
        "non_field_errors": ["Invalid data. Expected a dictionary, but got list."]
    }
    response = client.get(PROJECTS, HTTP_ACCEPT="text/html")
    assert response.status_code == 406 and response.json()["code"] == "not_acceptable"


@pytest.mark.django_db
def test_oversized_bodies_are_refused_before_they_are_read(tenants):
    client = token_client(tenants.owner)
    body = '{"name": "x", "description": "' + "a" * (1024 * 1024) + '"}'
    response = client.post(PROJECTS, body, content_type="application/json")
    assert response.status_code == 413 and response.json()["code"] == "too_large"
    assert not Project.objects.filter(name="x").exists()


@pytest.mark.django_db
def test_users_are_throttled_with_retry_after(tenants, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "3/minute", "anon": "2/minute"},
    }
    client = token_client(tenants.owner)
    assert [client.get(PROJECTS).status_code for _ in range(3)] == [200, 200, 200]
    response = client.get(PROJECTS)
    assert response.status_code == 429
    assert response.json()["code"] == "throttled" and int(response["Retry-After"]) > 0
    # Another user has their own budget.
    assert token_client(tenants.editor).get(PROJECTS).status_code == 200


@pytest.mark.django_db
def test_anonymous_clients_are_throttled_on_public_endpoints(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "3/minute", "anon": "2/minute"},
    }
    reset_throttles()
    client = APIClient()
    assert [client.get("/api/schema/").status_code for _ in range(3)] == [200, 200, 429]


def test_throttle_rates_are_checked_at_start_up(monkeypatch):
    monkeypatch.setenv("API_RATE_USER", "100/fortnight")
    with pytest.raises(ImproperlyConfigured, match="API_RATE_USER='100/fortnight'"):
        arv_settings._api_rate("API_RATE_USER", "600/minute")
    monkeypatch.setenv("API_RATE_USER", "1000/hour")
    assert arv_settings._api_rate("API_RATE_USER", "600/minute") == "1000/hour"
