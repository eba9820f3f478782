"""Who may see and change a company's webhooks: its owners.

Endpoints carry the order system's address and signing secrets, and the delivery log holds
payloads with customers' details and the receiver's answers, so editors and viewers see none of
it (403 with the reason); another company's endpoints and deliveries are 404, like everything
else (``companies.access``). Changes also need a writable company.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from companies.access import PortalRequest
from companies.models import Membership
from webhooks.models import Delivery, Endpoint


def check_webhook_owner(request: PortalRequest, *, write: bool = False) -> Membership:
    """The active membership if it may see (and with *write*, change) webhooks; else 403/404."""
    m = request.tenant.membership
    if m is None:
        raise Http404
    if not m.is_owner:
        raise PermissionDenied(_("Only the company's owners can see and manage its webhooks."))
    if write and not m.company.is_writable:
        raise PermissionDenied(m.company.read_only_reason)
    return m


def get_endpoint_for_user(request: PortalRequest, public_id, *, write: bool = False) -> Endpoint:
    company = request.tenant.company
    if company is None:
        raise Http404
    endpoint = get_object_or_404(Endpoint.objects.for_company(company).select_related("company"), public_id=public_id)
    check_webhook_owner(request, write=write)
    return endpoint


def get_delivery_for_user(request: PortalRequest, public_id, *, write: bool = False) -> Delivery:
    company = request.tenant.company
    if company is None:
        raise Http404
    deliveries = Delivery.objects.for_company(company).select_related("event", "endpoint__company")
    delivery = get_object_or_404(deliveries, public_id=public_id)
    check_webhook_owner(request, write=write)
    return delivery
