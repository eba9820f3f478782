"""Portal pages for a company's webhook endpoints and their delivery log (owners only)."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from companies.access import portal_view
from lib.forms import add_service_errors
from webhooks import services
from webhooks.access import check_webhook_owner, get_delivery_for_user, get_endpoint_for_user
from webhooks.forms import ActiveForm, DeliveryFilterForm, EndpointForm, RotateForm
from webhooks.models import Endpoint, EventType

DELIVERIES_PER_PAGE = 25


def _secret_page(request, endpoint: Endpoint, secret: str, *, created: bool):
    response = render(request, "webhooks/secret.html", {"endpoint": endpoint, "secret": secret, "created": created})
    # The page shows a secret: never keep it in a cache or the browser's history.
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@portal_view
def webhook_list(request):
    membership = check_webhook_owner(request)
    endpoints = Endpoint.objects.for_company(membership.company)
    return render(
        request,
        "webhooks/endpoint_list.html",
        {
            "endpoints": endpoints,
            "can_write": membership.company.is_writable,
            "limit": services.MAX_ENDPOINTS_PER_COMPANY,
        },
    )


@portal_view
def webhook_create(request):
    membership = check_webhook_owner(request, write=True)
    everything = [value for value, _label in EventType.subscribable()]
    form = EndpointForm(request.POST or None, initial={"event_types": everything})
    if request.method == "POST" and form.is_valid():
        try:
            endpoint, secret = services.create_endpoint(
                company=membership.company, created_by=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Endpoint added. Copy its signing secret now: it will not be shown again."))
            return _secret_page(request, endpoint, secret, created=True)
    return render(request, "webhooks/endpoint_form.html", {"form": form})


@require_GET
@portal_view
def webhook_detail(request, public_id):
    endpoint = get_endpoint_for_user(request, public_id)
    filters = DeliveryFilterForm(request.GET)
    status = filters.cleaned_data["status"] if filters.is_valid() else ""
    deliveries = endpoint.deliveries.select_related("event").order_by("-created_at", "-id")
    if status:
        deliveries = deliveries.filter(status=status)
    page = Paginator(deliveries, DELIVERIES_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "webhooks/endpoint_detail.html",
        {
            "endpoint": endpoint,
            "secrets": list(endpoint.secrets.all()),
            "page": page,
            "filters": filters,
            "status": status,
            "rotate_form": RotateForm(),
            "can_write": endpoint.company.is_writable,
        },
    )


@portal_view
def webhook_edit(request, public_id):
    endpoint = get_endpoint_for_user(request, public_id, write=True)
    form = EndpointForm(request.POST or None, initial=EndpointForm.initial_for(endpoint))
    if request.method == "POST" and form.is_valid():
        try:
            services.update_endpoint(endpoint=endpoint, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Endpoint saved."))
            return redirect(endpoint)
    return render(request, "webhooks/endpoint_form.html", {"form": form, "endpoint": endpoint})


@require_POST
@portal_view
def webhook_delete(request, public_id):
    endpoint = get_endpoint_for_user(request, public_id, write=True)
    services.delete_endpoint(endpoint=endpoint)
    messages.success(request, _("Endpoint %(url)s deleted with its delivery log.") % {"url": endpoint.url})
    return redirect("portal:webhook_list")


@require_POST
@portal_view
def webhook_active(request, public_id):
    endpoint = get_endpoint_for_user(request, public_id, write=True)
    form = ActiveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say whether the endpoint should be on or off."))
        return redirect(endpoint)
    services.set_endpoint_active(endpoint=endpoint, active=form.cleaned_data["active"])
    if endpoint.is_active:
        messages.success(request, _("Endpoint turned on: new events are sent to it."))
    else:
        messages.success(request, _("Endpoint turned off: no event is sent to it until you turn it on."))
    return redirect(endpoint)


@require_POST
@portal_view
def webhook_rotate(request, public_id):
    endpoint = get_endpoint_for_user(request, public_id, write=True)
    form = RotateForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose how long the current secret stays valid."))
        return redirect(endpoint)
    secret = services.rotate_secret(endpoint=endpoint, keep_previous=form.cleaned_data["keep_previous"])
    messages.success(request, _("New signing secret made. Copy it now: it will not be shown again."))
    return _secret_page(request, endpoint, secret, created=False)


@require_POST
@portal_view
def webhook_revoke_previous(request, public_id):
    endpoint = get_endpoint_for_user(request, public_id, write=True)
    if services.revoke_previous_secrets(endpoint=endpoint):
        messages.success(request, _("The previous secret no longer signs deliveries."))
    else:
        messages.info(request, _("There was no previous secret still valid."))
    return redirect(endpoint)


@require_POST
@portal_view
def webhook_test(request, public_id):
    endpoint = get_endpoint_for_user(request, public_id, write=True)
    try:
        delivery = services.send_test_event(endpoint=endpoint)
    except services.Refused as exc:
        messages.error(request, str(exc))
        return redirect(endpoint)
    messages.success(request, _("Test event queued: its result appears in the log in a few seconds."))
    return redirect(delivery)


@require_GET
@portal_view
def delivery_detail(request, public_id):
    delivery = get_delivery_for_user(request, public_id)
    try:
        payload = json.dumps(json.loads(delivery.event.body), indent=2, ensure_ascii=False)
    except ValueError:
        payload = delivery.event.body
    return render(
        request,
        "webhooks/delivery_detail.html",
        {
            "delivery": delivery,
            "endpoint": delivery.endpoint,
            "attempts": list(delivery.attempt_log.all()),
            "payload": payload,
            "can_write": delivery.endpoint.company.is_writable,
        },
    )


@require_POST
@portal_view
def delivery_redeliver(request, public_id):
    delivery = get_delivery_for_user(request, public_id, write=True)
    try:
        again = services.redeliver(delivery=delivery)
    except services.Refused as exc:
        messages.error(request, str(exc))
        return redirect(delivery)
    messages.success(request, _("Redelivery queued, with the same event id."))
    return redirect(again)
