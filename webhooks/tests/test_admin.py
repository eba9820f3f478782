"""The back office's webhook pages: every company's endpoints and deliveries for support staff,
actions behind the change permission, the same URL checks as the portal, no secret shown."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from webhooks import services
from webhooks.models import Delivery, Endpoint
from webhooks.tests.receiver import Answer

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivered(endpoint, receiver):
    receiver.answer(Answer(200, b"<img src=x onerror=alert(1)>"))
    event = services.emit(company=endpoint.company, event_type="portrait.ready", data={"title": "<script>x</script>"})
    delivery = event.deliveries.get()
    services.attempt_delivery(delivery_id=delivery.pk)
    return delivery


def test_lists_and_pages_render_without_secrets(admin_client, endpoint, delivered, make_endpoint, receiver, tenants):
    make_endpoint(receiver.url("/b"), company=tenants.b)
    html = admin_client.get(reverse("admin:webhooks_endpoint_changelist")).content.decode()
    assert endpoint.url in html and "Beta Prints" in html
    page = admin_client.get(reverse("admin:webhooks_endpoint_change", args=[endpoint.pk])).content.decode()
    assert endpoint.secret[:12] in page and endpoint.secret not in page
    assert admin_client.get(reverse("admin:webhooks_delivery_changelist")).status_code == 200
    detail = admin_client.get(reverse("admin:webhooks_delivery_change", args=[delivered.pk])).content.decode()
    assert "&lt;script&gt;x&lt;/script&gt;" in detail and "<script>x</script>" not in detail
    assert "<img src=x" not in detail
    changelist = reverse("admin:webhooks_delivery_changelist")
    assert admin_client.get(changelist, {"q": str(delivered.event_id)}).context["cl"].result_count == 1
    assert admin_client.get(changelist, {"q": endpoint.url}).context["cl"].result_count == 1
    assert admin_client.get(changelist, {"q": "not-a-uuid <script>"}).context["cl"].result_count == 0


def test_the_lists_cost_the_same_queries_for_more_rows(
    admin_client, endpoint, make_endpoint, receiver, django_assert_max_num_queries
):
    for _ in range(3):
        services.emit(company=endpoint.company, event_type="portrait.ready", data={})
    admin_client.get(reverse("admin:webhooks_delivery_changelist"))
    with django_assert_max_num_queries(12) as few:
        admin_client.get(reverse("admin:webhooks_delivery_changelist"))
        admin_client.get(reverse("admin:webhooks_endpoint_changelist"))
    for i in range(10):
        make_endpoint(receiver.url(f"/{i}"))
        services.emit(company=endpoint.company, event_type="portrait.ready", data={})
    with django_assert_max_num_queries(len(few.captured_queries)):
        admin_client.get(reverse("admin:webhooks_delivery_changelist"))
        admin_client.get(reverse("admin:webhooks_endpoint_changelist"))


def test_redeliver_and_test_actions(admin_client, endpoint, delivered):
    response = admin_client.post(
        reverse("admin:webhooks_delivery_changelist"), {"action": "redeliver", "_selected_action": [delivered.pk]}
    )
    assert response.status_code == 302
    assert Delivery.objects.filter(trigger="redelivery", event=delivered.event).count() == 1
    admin_client.post(
        reverse("admin:webhooks_endpoint_changelist"), {"action": "send_test_event", "_selected_action": [endpoint.pk]}
    )
    assert Delivery.objects.filter(trigger="test", endpoint=endpoint).count() == 1


def test_staff_without_the_change_permission_cannot_act(client, make_user, endpoint, delivered):
    staff = make_user("support", is_staff=True)
    staff.user_permissions.add(
        Permission.objects.get(codename="view_delivery"), Permission.objects.get(codename="view_endpoint")
    )
    client.force_login(staff)
    assert client.get(reverse("admin:webhooks_delivery_changelist")).status_code == 200
    response = client.post(
        reverse("admin:webhooks_delivery_changelist"), {"action": "redeliver", "_selected_action": [delivered.pk]}
    )
    assert not Delivery.objects.filter(trigger="redelivery").exists()
    assert response.status_code in (200, 302)
    client.post(
        reverse("admin:webhooks_endpoint_changelist"), {"action": "turn_off", "_selected_action": [endpoint.pk]}
    )
    endpoint.refresh_from_db()
    assert endpoint.is_active
    assert (
        client.post(reverse("admin:webhooks_endpoint_change", args=[endpoint.pk]), {"url": "http://x/"}).status_code
        == 403
    )


def test_the_change_form_refuses_unsafe_urls(admin_client, endpoint, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    url = reverse("admin:webhooks_endpoint_change", args=[endpoint.pk])
    response = admin_client.post(url, {"url": "http://169.254.169.254/", "description": "", "event_types": ["ping"]})
    assert response.status_code == 200
    html = response.content.decode()
    assert "link-local" in html and "not one of the available choices" in html
    endpoint.refresh_from_db()
    assert endpoint.url != "http://169.254.169.254/"


def test_turn_off_and_on_actions(admin_client, endpoint):
    changelist = reverse("admin:webhooks_endpoint_changelist")
    admin_client.post(changelist, {"action": "turn_off", "_selected_action": [endpoint.pk]})
    assert Endpoint.objects.get(pk=endpoint.pk).disabled_reason == "manual"
    admin_client.post(changelist, {"action": "turn_on", "_selected_action": [endpoint.pk]})
    assert Endpoint.objects.get(pk=endpoint.pk).is_active
