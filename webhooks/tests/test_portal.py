"""The portal's webhook pages: owners manage, everyone else is refused; another company's
endpoints and deliveries are 404; bad input is a clear form error with nothing saved."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from companies.models import Company
from webhooks import services
from webhooks.models import Delivery, Endpoint, Secret
from webhooks.tests.receiver import Answer

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(tenants, make_endpoint, receiver):
    """An endpoint with a delivered event in each company."""
    receiver.answer(Answer(500, b"<script>alert('pwned')</script>"), Answer(200, b"thanks"))
    for name, company in (("a", tenants.a), ("b", tenants.b)):
        endpoint = make_endpoint(receiver.url(f"/{name}"), company=company)
        event = services.emit(company=company, event_type="portrait.ready", data={"portrait": {"title": "<b>x</b>"}})
        delivery = event.deliveries.get()
        services.attempt_delivery(delivery_id=delivery.pk)
        setattr(tenants, f"endpoint_{name}", endpoint)
        setattr(tenants, f"delivery_{name}", delivery)
    return tenants


def urls(w, company: str) -> list[tuple[str, str]]:
    endpoint = getattr(w, f"endpoint_{company}").public_id
    delivery = getattr(w, f"delivery_{company}").public_id
    return [
        ("get", reverse("portal:webhook_detail", args=[endpoint])),
        ("get", reverse("portal:webhook_edit", args=[endpoint])),
        ("post", reverse("portal:webhook_delete", args=[endpoint])),
        ("post", reverse("portal:webhook_active", args=[endpoint])),
        ("post", reverse("portal:webhook_rotate", args=[endpoint])),
        ("post", reverse("portal:webhook_revoke_previous", args=[endpoint])),
        ("post", reverse("portal:webhook_test", args=[endpoint])),
        ("get", reverse("portal:webhook_delivery", args=[delivery])),
        ("post", reverse("portal:webhook_redeliver", args=[delivery])),
    ]


def test_another_companys_endpoints_and_deliveries_are_404(client, world):
    client.force_login(world.owner)
    for method, url in urls(world, "b"):
        assert getattr(client, method)(url).status_code == 404, url
    assert Endpoint.objects.filter(pk=world.endpoint_b.pk).exists()
    assert Delivery.objects.filter(endpoint=world.endpoint_b).count() == 1


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_editors_and_viewers_see_no_webhooks(client, world, role):
    client.force_login(getattr(world, role))
    for method, url in [
        ("get", reverse("portal:webhook_list")),
        ("get", reverse("portal:webhook_create")),
        *urls(world, "a"),
    ]:
        response = getattr(client, method)(url)
        assert response.status_code == 403, url
    assert "Only the company&#x27;s owners" in client.get(reverse("portal:webhook_list")).content.decode()
    assert "portal:webhook_list" not in client.get(reverse("portal:dashboard")).content.decode()
    assert reverse("portal:webhook_list") not in client.get(reverse("portal:dashboard")).content.decode()
    assert Endpoint.objects.count() == 2 and Secret.objects.count() == 2


def test_anonymous_visitors_are_sent_to_log_in(client, world):
    for method, url in [("get", reverse("portal:webhook_list")), *urls(world, "a")]:
        response = getattr(client, method)(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login")), url


def test_the_owner_sees_the_list_and_the_menu_link(client, world):
    client.force_login(world.owner)
    assert reverse("portal:webhook_list") in client.get(reverse("portal:dashboard")).content.decode()
    html = client.get(reverse("portal:webhook_list")).content.decode()
    assert world.endpoint_a.url in html and world.endpoint_b.url not in html
    assert "Portrait ready" in html


def test_list_and_detail_pages_cost_a_constant_number_of_queries(
    client, world, make_endpoint, receiver, django_assert_num_queries
):
    client.force_login(world.owner)
    client.get(reverse("portal:webhook_list"))  # warm the session
    # session, user, memberships with companies, endpoints
    with django_assert_num_queries(4):
        client.get(reverse("portal:webhook_list"))
    for i in range(5):
        make_endpoint(receiver.url(f"/more-{i}"))
    with django_assert_num_queries(4):
        client.get(reverse("portal:webhook_list"))

    detail = reverse("portal:webhook_detail", args=[world.endpoint_a.public_id])
    # session, user, memberships, endpoint, secrets, count of deliveries, page of deliveries with events
    with django_assert_num_queries(7):
        client.get(detail)
    for _ in range(30):
        services.emit(company=world.a, event_type="portrait.ready", data={})
    with django_assert_num_queries(7):
        response = client.get(detail)
    assert "Page 1 of 2" in response.content.decode()
    with django_assert_num_queries(7):
        assert client.get(detail, {"status": "pending", "page": 2}).status_code == 200


def test_the_delivery_log_shows_status_code_duration_and_next_try(client, world):
    client.force_login(world.owner)
    receiver_fail = services.emit(company=world.a, event_type="portrait.ready", data={}).deliveries.get()
    Delivery.objects.filter(pk=receiver_fail.pk).update(
        attempts=2, response_status=503, duration_ms=87, next_attempt_at=timezone.now() + timedelta(minutes=9)
    )
    html = client.get(reverse("portal:webhook_detail", args=[world.endpoint_a.public_id])).content.decode()
    assert "503" in html and "87 ms" in html and "Waiting" in html
    only_failed = client.get(reverse("portal:webhook_detail", args=[world.endpoint_a.public_id]), {"status": "failed"})
    assert "503" not in only_failed.content.decode()
    hostile = client.get(reverse("portal:webhook_detail", args=[world.endpoint_a.public_id]), {"status": "<script>"})
    assert hostile.status_code == 200 and "<script>" not in hostile.content.decode()


def test_the_delivery_page_shows_attempts_and_payload_escaped(client, world):
    client.force_login(world.owner)
    html = client.get(reverse("portal:webhook_delivery", args=[world.delivery_a.public_id])).content.decode()
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in html and "<script>alert" not in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html and str(world.delivery_a.event_id) in html
    assert "HTTP 500 Internal Server Error" in html


def test_create_shows_the_secret_once_and_stores_it_encrypted(client, tenants, receiver, allow_private):
    client.force_login(tenants.owner)
    assert client.get(reverse("portal:webhook_create")).status_code == 200
    response = client.post(
        reverse("portal:webhook_create"),
        {
            "url": receiver.url(),
            "description": "Order system",
            "event_types": ["portrait.ready", "video.ready"],
            "is_active": "on",
        },
    )
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    endpoint = Endpoint.objects.get()
    secret = response.context["secret"]
    assert secret.startswith("whsec_") and secret in response.content.decode()
    assert endpoint.signing_secrets() == [secret] and endpoint.created_by == tenants.owner
    assert endpoint.event_types == ["portrait.ready", "video.ready"] and endpoint.description == "Order system"
    page = client.get(endpoint.get_absolute_url()).content.decode()
    assert secret not in page and secret[:12] in page


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"url": "", "event_types": ["portrait.ready"]}, "url", "This field is required."),
        ({"url": "ftp://93.184.216.34/", "event_types": ["portrait.ready"]}, "url", "Only http:// and https://"),
        ({"url": "http://10.1.2.3/", "event_types": ["portrait.ready"]}, "url", "a private address"),
        ({"url": "http://localhost/", "event_types": ["portrait.ready"]}, "url", "a loopback address"),
        ({"url": "http://no-such-host.invalid/", "event_types": ["portrait.ready"]}, "url", "could not be resolved"),
        ({"url": "http://93.184.216.34/" + "x" * 2000, "event_types": ["portrait.ready"]}, "url", "at most 2000"),
        ({"url": "http://93.184.216.34/", "event_types": []}, "event_types", "Choose at least one event."),
        ({"url": "http://93.184.216.34/", "event_types": ["ping"]}, "event_types", "not one of the available"),
        ({"url": "http://93.184.216.34/", "event_types": ["<script>"]}, "event_types", "not one of the available"),
        (
            {"url": "http://93.184.216.34/", "event_types": ["portrait.ready"], "description": "d" * 201},
            "description",
            "at most 200",
        ),
    ],
)
def test_bad_input_is_a_form_error_and_nothing_is_saved(client, tenants, data, field, message):
    client.force_login(tenants.owner)
    response = client.post(reverse("portal:webhook_create"), data)
    # The form again with its errors (200, like the portal's other forms: browsers log a 400 page
    # as a console error).
    assert response.status_code == 200
    errors = " ".join(str(e) for e in response.context["form"].errors[field])
    assert message in errors
    assert not Endpoint.objects.exists() and not Secret.objects.exists()


def test_edit_changes_the_endpoint_and_refuses_a_private_url(client, world):
    client.force_login(world.owner)
    url = reverse("portal:webhook_edit", args=[world.endpoint_a.public_id])
    assert client.get(url).status_code == 200
    new_url = world.endpoint_a.url + "?v=2"
    response = client.post(
        url, {"url": new_url, "event_types": ["video.ready"], "description": "v2", "is_active": "on"}
    )
    assert response.status_code == 302
    world.endpoint_a.refresh_from_db()
    assert world.endpoint_a.url == new_url and world.endpoint_a.event_types == ["video.ready"]
    world.a.refresh_from_db()
    services_settings = {"url": "http://169.254.169.254/", "event_types": ["portrait.ready"], "is_active": "on"}
    response = client.post(url, services_settings)
    assert response.status_code == 200 and "link-local" in response.content.decode()
    world.endpoint_a.refresh_from_db()
    assert world.endpoint_a.url == new_url


def test_turn_off_and_on_rotate_revoke_test_and_delete(client, world):
    client.force_login(world.owner)
    endpoint = world.endpoint_a
    detail = endpoint.get_absolute_url()
    assert client.post(reverse("portal:webhook_active", args=[endpoint.public_id]), {"active": "0"}).status_code == 302
    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.disabled_reason == "manual"
    assert (
        client.post(reverse("portal:webhook_active", args=[endpoint.public_id]), {"active": "maybe"})["Location"]
        == detail
    )
    client.post(reverse("portal:webhook_active", args=[endpoint.public_id]), {"active": "1"})
    endpoint.refresh_from_db()
    assert endpoint.is_active

    old = endpoint.secret
    response = client.post(reverse("portal:webhook_rotate", args=[endpoint.public_id]), {"keep_previous": "24"})
    new = response.context["secret"]
    assert response.status_code == 200 and response["Cache-Control"] == "no-store" and new != old
    assert endpoint.signing_secrets() == [new, old]
    assert (
        client.post(reverse("portal:webhook_rotate", args=[endpoint.public_id]), {"keep_previous": "9999"}).status_code
        == 302
    )
    assert endpoint.signing_secrets() == [new, old]
    client.post(reverse("portal:webhook_revoke_previous", args=[endpoint.public_id]))
    assert endpoint.signing_secrets() == [new]

    response = client.post(reverse("portal:webhook_test", args=[endpoint.public_id]))
    test = Delivery.objects.get(endpoint=endpoint, trigger="test")
    assert response["Location"] == test.get_absolute_url()
    client.post(reverse("portal:webhook_test", args=[endpoint.public_id]))
    assert Delivery.objects.filter(endpoint=endpoint, trigger="test").count() == 1  # one at a time

    assert client.get(reverse("portal:webhook_delete", args=[endpoint.public_id])).status_code == 405
    assert client.post(reverse("portal:webhook_delete", args=[endpoint.public_id]))["Location"] == reverse(
        "portal:webhook_list"
    )
    assert not Endpoint.objects.filter(pk=endpoint.pk).exists()
    assert not Delivery.objects.filter(endpoint_id=endpoint.pk).exists()


def test_redeliver_from_the_delivery_page(client, world):
    client.force_login(world.owner)
    url = reverse("portal:webhook_redeliver", args=[world.delivery_a.public_id])
    client.post(url)  # its retries are still to come: refused with a message
    assert not Delivery.objects.filter(trigger="redelivery").exists()
    world.delivery_a.refresh_from_db()
    services.attempt_delivery(delivery_id=world.delivery_a.pk, now=world.delivery_a.next_attempt_at)
    response = client.post(url)
    again = Delivery.objects.get(endpoint=world.endpoint_a, trigger="redelivery")
    assert response["Location"] == again.get_absolute_url() and again.event_id == world.delivery_a.event_id
    client.post(url)  # still on its way: refused with a message
    assert Delivery.objects.filter(endpoint=world.endpoint_a, trigger="redelivery").count() == 1


def test_a_read_only_company_can_look_but_not_change(client, world):
    Company.objects.filter(pk=world.a.pk).update(subscription_expires_at=timezone.now() - timedelta(days=1))
    client.force_login(world.owner)
    assert client.get(reverse("portal:webhook_list")).status_code == 200
    assert client.get(world.endpoint_a.get_absolute_url()).status_code == 200
    for method, url in urls(world, "a"):
        if method == "post":
            assert client.post(url).status_code == 403, url
    assert client.get(reverse("portal:webhook_create")).status_code == 403
    assert Endpoint.objects.filter(company=world.a).count() == 1


def test_posts_need_the_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.owner)
    assert client.post(reverse("portal:webhook_delete", args=[world.endpoint_a.public_id])).status_code == 403
    assert Endpoint.objects.filter(pk=world.endpoint_a.pk).exists()
