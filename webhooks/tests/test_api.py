"""/api/v1/webhooks/: endpoints (create, list, get, change, delete, rotate, test) and the delivery
log (list, get, redeliver), for the company's owners only."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from arv.testing.api import errors_of, token_client
from companies.models import Company
from webhooks import services
from webhooks.models import Delivery, Endpoint
from webhooks.tests.receiver import Answer

pytestmark = pytest.mark.django_db
ENDPOINTS = "/api/v1/webhooks/endpoints/"


def endpoint_url(endpoint, suffix="") -> str:
    return f"{ENDPOINTS}{endpoint.public_id}/{suffix}"


def delivery_url(delivery, suffix="") -> str:
    return f"/api/v1/webhooks/deliveries/{delivery.public_id}/{suffix}"


@pytest.fixture
def world(tenants, make_endpoint, receiver):
    receiver.answer(Answer(502, b"upstream down"))
    for name, company in (("a", tenants.a), ("b", tenants.b)):
        endpoint = make_endpoint(receiver.url(f"/{name}"), company=company, event_types=["portrait.ready"])
        delivery = services.emit(company=company, event_type="portrait.ready", data={"n": name}).deliveries.get()
        services.attempt_delivery(delivery_id=delivery.pk)
        setattr(tenants, f"endpoint_{name}", endpoint)
        setattr(tenants, f"delivery_{name}", delivery)
    return tenants


def test_create_answers_the_secret_once(tenants, receiver, allow_private):
    client = token_client(tenants.owner)
    response = client.post(
        ENDPOINTS,
        {"url": receiver.url(), "description": "ERP", "event_types": ["video.ready", "portrait.ready", "video.ready"]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    endpoint = Endpoint.objects.get()
    assert response["Location"].endswith(endpoint_url(endpoint)) and response["Cache-Control"] == "no-store"
    assert body["id"] == str(endpoint.public_id) and body["event_types"] == ["portrait.ready", "video.ready"]
    assert body["secret"].startswith("whsec_") and endpoint.signing_secrets() == [body["secret"]]
    assert body["is_active"] and body["disabled_reason"] == "" and body["failing_since"] is None
    assert body["secrets"] == [{"hint": body["secret"][:12], "created_at": body["created_at"], "expires_at": None}]
    shown = client.get(endpoint_url(endpoint)).json()
    assert "secret" not in shown and body["secret"] not in str(shown)


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({}, ["event_types", "url"]),
        ({"url": "http://93.184.216.34/", "event_types": []}, ["event_types"]),
        ({"url": "http://93.184.216.34/", "event_types": "portrait.ready"}, ["event_types"]),
        ({"url": "http://93.184.216.34/", "event_types": ["ping"]}, ["event_types.0"]),
        ({"url": "http://93.184.216.34/", "event_types": ["portrait.ready"] * 21}, ["event_types"]),
        ({"url": ["http://93.184.216.34/"], "event_types": ["portrait.ready"]}, ["url"]),
        ({"url": "http://93.184.216.34/\x00", "event_types": ["portrait.ready"]}, ["url"]),
        ({"url": "http://93.184.216.34/" + "a" * 2000, "event_types": ["portrait.ready"]}, ["url"]),
        ({"url": "http://127.0.0.1/", "event_types": ["portrait.ready"]}, ["url"]),
        ({"url": "http://[::1]/", "event_types": ["portrait.ready"]}, ["url"]),
        ({"url": "http://169.254.169.254/", "event_types": ["portrait.ready"]}, ["url"]),
        ({"url": "http://0x7f000001/", "event_types": ["portrait.ready"]}, ["url"]),
        ({"url": "http://localhost/", "event_types": ["portrait.ready"]}, ["url"]),
        ({"url": "gopher://93.184.216.34/", "event_types": ["portrait.ready"]}, ["url"]),
        ({"url": "http://93.184.216.34/", "event_types": ["portrait.ready"], "is_active": "perhaps"}, ["is_active"]),
        (
            {"url": "http://93.184.216.34/", "event_types": ["portrait.ready"], "description": "d" * 201},
            ["description"],
        ),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_nothing_is_saved(tenants, payload, fields):
    response = token_client(tenants.owner).post(ENDPOINTS, payload, format="json")
    assert sorted(errors_of(response)) == fields
    assert not Endpoint.objects.exists()


def test_a_body_that_is_not_json_is_refused(tenants):
    client = token_client(tenants.owner)
    response = client.post(ENDPOINTS, "{nope", content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "parse_error"
    response = client.post(ENDPOINTS, {"url": "x"}, format="multipart")
    assert response.status_code == 415


def test_the_company_limit_is_a_400(tenants, make_endpoint, receiver):
    for i in range(services.MAX_ENDPOINTS_PER_COMPANY):
        make_endpoint(receiver.url(f"/{i}"))
    response = token_client(tenants.owner).post(
        ENDPOINTS, {"url": receiver.url("/more"), "event_types": ["portrait.ready"]}, format="json"
    )
    assert "at most 20" in errors_of(response)["non_field_errors"][0]


def test_list_is_the_companys_endpoints_in_constant_queries(world, make_endpoint, receiver, django_assert_num_queries):
    client = token_client(world.owner)
    # token + user, memberships, count, page of endpoints, their secrets
    with django_assert_num_queries(5):
        body = client.get(ENDPOINTS).json()
    assert [e["id"] for e in body["results"]] == [str(world.endpoint_a.public_id)]
    for i in range(6):
        make_endpoint(receiver.url(f"/x{i}"))
    with django_assert_num_queries(5):
        assert client.get(ENDPOINTS).json()["count"] == 7


def test_another_companys_endpoints_and_deliveries_are_404(world):
    client = token_client(world.owner)
    for method, url in [
        ("get", endpoint_url(world.endpoint_b)),
        ("patch", endpoint_url(world.endpoint_b)),
        ("delete", endpoint_url(world.endpoint_b)),
        ("post", endpoint_url(world.endpoint_b, "rotate-secret/")),
        ("post", endpoint_url(world.endpoint_b, "test/")),
        ("get", endpoint_url(world.endpoint_b, "deliveries/")),
        ("get", delivery_url(world.delivery_b)),
        ("post", delivery_url(world.delivery_b, "redeliver/")),
        ("get", f"{ENDPOINTS}00000000-0000-0000-0000-000000000000/"),
        ("get", f"{ENDPOINTS}not-a-uuid/"),
    ]:
        response = getattr(client, method)(url, {}, format="json")
        assert response.status_code == 404 and response.json()["code"] == "not_found", url
    assert Endpoint.objects.filter(pk=world.endpoint_b.pk).exists()
    assert world.endpoint_b.signing_secrets() == [world.endpoint_b.secret]


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_only_owners_may_see_or_change_webhooks(world, role):
    client = token_client(getattr(world, role))
    for method, url in [
        ("get", ENDPOINTS),
        ("post", ENDPOINTS),
        ("get", endpoint_url(world.endpoint_a)),
        ("patch", endpoint_url(world.endpoint_a)),
        ("delete", endpoint_url(world.endpoint_a)),
        ("post", endpoint_url(world.endpoint_a, "rotate-secret/")),
        ("post", endpoint_url(world.endpoint_a, "test/")),
        ("get", endpoint_url(world.endpoint_a, "deliveries/")),
        ("get", delivery_url(world.delivery_a)),
        ("post", delivery_url(world.delivery_a, "redeliver/")),
    ]:
        response = getattr(client, method)(url, {}, format="json")
        assert response.status_code == 403, url
        assert "owners" in response.json()["detail"]
    assert Endpoint.objects.count() == 2 and Delivery.objects.count() == 2


def test_anonymous_requests_are_401(world):
    response = APIClient().get(ENDPOINTS)
    assert response.status_code == 401
    assert APIClient().get(delivery_url(world.delivery_a)).status_code == 401


def test_a_read_only_company_reads_but_does_not_write(world):
    Company.objects.filter(pk=world.a.pk).update(is_active=False)
    client = token_client(world.owner)
    assert client.get(ENDPOINTS).status_code == 200
    response = client.patch(endpoint_url(world.endpoint_a), {"description": "x"}, format="json")
    assert response.status_code == 403 and "deactivated" in response.json()["detail"]


def test_patch_changes_only_what_is_sent(world):
    client = token_client(world.owner)
    response = client.patch(
        endpoint_url(world.endpoint_a), {"description": "  New  ", "is_active": False}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["description"] == "New" and not body["is_active"] and body["disabled_reason"] == "manual"
    assert body["url"] == world.endpoint_a.url and body["event_types"] == ["portrait.ready"]
    assert client.patch(endpoint_url(world.endpoint_a), {}, format="json").json()["description"] == "New"
    assert list(
        errors_of(client.patch(endpoint_url(world.endpoint_a), {"url": "http://169.254.169.254/"}, format="json"))
    ) == ["url"]
    assert list(errors_of(client.patch(endpoint_url(world.endpoint_a), {"event_types": []}, format="json"))) == [
        "event_types"
    ]
    back = client.patch(endpoint_url(world.endpoint_a), {"is_active": True}, format="json").json()
    assert back["is_active"] and back["disabled_reason"] == ""


def test_rotate_answers_the_new_secret_and_both_sign_meanwhile(world):
    client = token_client(world.owner)
    response = client.post(endpoint_url(world.endpoint_a, "rotate-secret/"), {"keep_previous_hours": 2}, format="json")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    body = response.json()
    assert world.endpoint_a.signing_secrets() == [body["secret"], world.endpoint_a.secret]
    current, previous = body["secrets"]
    assert current["expires_at"] is None and previous["hint"] == world.endpoint_a.secret[:12]
    assert previous["expires_at"] is not None
    for bad in ({"keep_previous_hours": 169}, {"keep_previous_hours": -1}, {"keep_previous_hours": "soon"}):
        assert list(errors_of(client.post(endpoint_url(world.endpoint_a, "rotate-secret/"), bad, format="json"))) == [
            "keep_previous_hours"
        ]
    default = client.post(endpoint_url(world.endpoint_a, "rotate-secret/"), {}, format="json").json()
    assert len(default["secrets"]) == 2  # at most two valid at once


def test_test_event_is_queued_and_a_second_one_waits(world):
    client = token_client(world.owner)
    response = client.post(endpoint_url(world.endpoint_a, "test/"))
    assert response.status_code == 202
    body = response.json()
    assert body["trigger"] == "test" and body["event"]["type"] == "ping" and body["status"] == "pending"
    again = client.post(endpoint_url(world.endpoint_a, "test/"))
    assert again.status_code == 409 and again.json()["code"] == "conflict"


def test_the_delivery_log_filters_and_counts_queries(world, django_assert_num_queries):
    client = token_client(world.owner)
    services.send_test_event(endpoint=world.endpoint_a)
    url = endpoint_url(world.endpoint_a, "deliveries/")
    # token + user, memberships, endpoint, count, page with events and endpoints
    with django_assert_num_queries(5):
        body = client.get(url).json()
    assert [d["event"]["type"] for d in body["results"]] == ["ping", "portrait.ready"]
    first = body["results"][1]
    assert first["status"] == "pending" and first["response_status"] == 502 and first["attempts"] == 1
    assert first["error"] == "HTTP 502 Bad Gateway" and first["next_attempt_at"] and first["duration_ms"] is not None
    for _ in range(20):
        services.emit(company=world.a, event_type="portrait.ready", data={})
    with django_assert_num_queries(5):
        assert client.get(url, {"event_type": "portrait.ready", "page_size": 5}).json()["count"] == 21
    assert client.get(url, {"status": "pending"}).json()["count"] == 22
    assert list(errors_of(client.get(url, {"status": "lost"}))) == ["status"]
    assert list(errors_of(client.get(url, {"event_type": ["ping", "video.ready"]}))) == ["event_type"]


def test_a_delivery_shows_its_payload_and_attempts(world):
    body = token_client(world.owner).get(delivery_url(world.delivery_a)).json()
    assert body["payload"]["data"] == {"n": "a"} and body["payload"]["id"] == str(world.delivery_a.event_id)
    (attempt,) = body["attempt_log"]
    assert attempt["response_status"] == 502 and attempt["response_body"] == "upstream down"
    assert not attempt["succeeded"] and attempt["number"] == 1


def test_redeliver_after_the_delivery_finished(world):
    client = token_client(world.owner)
    assert client.post(delivery_url(world.delivery_a, "redeliver/")).status_code == 409  # retries to come
    world.delivery_a.refresh_from_db()
    services.attempt_delivery(delivery_id=world.delivery_a.pk, now=world.delivery_a.next_attempt_at)
    response = client.post(delivery_url(world.delivery_a, "redeliver/"))
    assert response.status_code == 202
    body = response.json()
    assert body["trigger"] == "redelivery" and body["event"]["id"] == str(world.delivery_a.event_id)
    assert body["id"] != str(world.delivery_a.public_id)


def test_delete_removes_the_endpoint_and_its_log(world):
    client = token_client(world.owner)
    assert client.delete(endpoint_url(world.endpoint_a)).status_code == 204
    assert not Endpoint.objects.filter(pk=world.endpoint_a.pk).exists()
    assert not Delivery.objects.filter(endpoint_id=world.endpoint_a.pk).exists()
    assert client.delete(endpoint_url(world.endpoint_a)).status_code == 404


def test_an_endpoint_turned_off_for_failing_says_so(world):
    now = timezone.now()
    Endpoint.objects.filter(pk=world.endpoint_a.pk).update(failing_since=now - timedelta(days=4))
    services._disable_if_failing_too_long(world.endpoint_a, now)
    body = token_client(world.owner).get(endpoint_url(world.endpoint_a)).json()
    assert body["is_active"] is False and body["disabled_reason"] == "failing"
