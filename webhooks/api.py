"""REST API for webhook endpoints and their delivery log (owners only), on the portal's services.

Endpoints and deliveries are addressed by their UUIDs; another company's are 404, editors and
viewers get 403. The signing secret is in the answer to the request that made it (create,
rotate) and nowhere else.
"""

from __future__ import annotations

import json
from datetime import timedelta

from django.db.models import Prefetch
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from companies.api import TenantApiView, paginated
from lib.api import QuerySerializer
from lib.api_fields import StrictCharField, StrictChoiceField
from lib.api_policies import Pagination
from lib.api_schema import ErrorSerializer
from webhooks import services
from webhooks.access import check_webhook_owner, get_delivery_for_user, get_endpoint_for_user
from webhooks.models import Attempt, Delivery, Endpoint, EventType, Secret


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = gettext_lazy("The request conflicts with what is already going on.")
    default_code = "conflict"


CONFLICT = OpenApiResponse(ErrorSerializer, "Refused for now; `detail` says why (e.g. already on its way).")

# --- Representations ---------------------------------------------------------------------------------


class SecretSerializer(serializers.Serializer):
    hint = StrictCharField(help_text="The secret's first characters, to tell secrets apart.")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(
        allow_null=True, help_text="null for the current secret; for the previous one, when it stops signing."
    )


class EndpointOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    url = StrictCharField()
    description = StrictCharField()
    event_types = serializers.ListField(child=StrictChoiceField(choices=EventType.subscribable()))
    is_active = serializers.BooleanField(help_text="Off: no event is sent to it (test events and redeliveries are).")
    disabled_reason = StrictChoiceField(
        choices=Endpoint.DisabledReason.choices,
        allow_blank=True,
        help_text="Why it is off: `manual`, or `failing` when every attempt failed for 3 days; empty while on.",
    )
    disabled_at = serializers.DateTimeField(allow_null=True)
    failing_since = serializers.DateTimeField(
        allow_null=True, help_text="The first failed attempt since the last success; null while it works."
    )
    last_success_at = serializers.DateTimeField(allow_null=True)
    last_failure_at = serializers.DateTimeField(allow_null=True)
    secrets = serializers.SerializerMethodField(help_text="The secrets deliveries are signed with now, newest first.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    @extend_schema_field(SecretSerializer(many=True))
    def get_secrets(self, endpoint):
        now = timezone.now()
        valid = [s for s in endpoint.secrets.all() if s.is_valid(now)]
        return SecretSerializer(valid, many=True).data


class EndpointWithSecretSerializer(EndpointOutputSerializer):
    secret = StrictCharField(help_text="The new signing secret (`whsec_…`): shown in this answer only.")


class EventSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="The `webhook-id` header: the same on every retry and redelivery.")
    type = StrictChoiceField(choices=EventType.choices)
    created_at = serializers.DateTimeField()


class DeliveryOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    endpoint = serializers.UUIDField(source="endpoint.public_id")
    event = EventSummarySerializer()
    trigger = StrictChoiceField(choices=Delivery.Trigger.choices)
    status = StrictChoiceField(choices=Delivery.Status.choices)
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True, help_text="When the next try is due (`pending`).")
    response_status = serializers.IntegerField(allow_null=True, help_text="The last attempt's HTTP status.")
    duration_ms = serializers.IntegerField(allow_null=True, help_text="The last attempt's duration.")
    error = StrictCharField(help_text="Why the last attempt failed; empty after a success.")
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class AttemptSerializer(serializers.ModelSerializer):
    # Declared rather than generated, so that they are the strict kind like every string field.
    response_body = StrictCharField(
        allow_blank=True, required=False, help_text="The start of the answer (at most 4 KB)."
    )
    error = StrictCharField(allow_blank=True, required=False, max_length=500)

    class Meta:
        model = Attempt
        fields = [
            "number",
            "started_at",
            "duration_ms",
            "response_status",
            "response_body",
            "response_truncated",
            "error",
            "succeeded",
        ]


class DeliveryDetailSerializer(DeliveryOutputSerializer):
    payload = serializers.SerializerMethodField(help_text="The JSON body sent, exactly as signed.")
    attempt_log = AttemptSerializer(many=True, source="attempt_log.all")

    @extend_schema_field({"type": "object", "additionalProperties": True})
    def get_payload(self, delivery):
        return json.loads(delivery.event.body)


def _endpoints(request):
    return Endpoint.objects.for_company(request.tenant.company).prefetch_related(
        Prefetch("secrets", queryset=Secret.objects.order_by("-created_at", "-id"))
    )


def _endpoint_response(request, endpoint_id, *, status_code=status.HTTP_200_OK, secret: str | None = None):
    endpoint = _endpoints(request).get(public_id=endpoint_id)
    if secret is None:
        return Response(EndpointOutputSerializer(endpoint).data, status=status_code)
    endpoint.secret = secret
    response = Response(EndpointWithSecretSerializer(endpoint).data, status=status_code)
    # The answer holds a secret: no cache may keep it.
    response["Cache-Control"] = "no-store"
    return response


def _delivery_response(delivery: Delivery, *, status_code=status.HTTP_200_OK) -> Response:
    return Response(DeliveryOutputSerializer(delivery).data, status=status_code)


# --- Endpoints ---------------------------------------------------------------------------------------


class EndpointInputSerializer(serializers.Serializer):
    url = StrictCharField(
        max_length=2000, help_text="http(s) URL on a public address; no user name, password or fragment."
    )
    description = StrictCharField(max_length=200, allow_blank=True, required=False)
    event_types = serializers.ListField(
        child=StrictChoiceField(choices=EventType.subscribable()), min_length=1, max_length=20
    )
    is_active = serializers.BooleanField(required=False, default=True)


class EndpointListApi(TenantApiView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="webhooks_endpoints_list",
        summary="List webhook endpoints",
        description="Owners only.",
        responses=EndpointOutputSerializer(many=True),
    )
    def get(self, request):
        check_webhook_owner(request)
        return paginated(self, request, _endpoints(request), EndpointOutputSerializer)


class EndpointCreateApi(TenantApiView):
    @extend_schema(
        operation_id="webhooks_endpoints_create",
        summary="Add a webhook endpoint",
        description="The host must resolve to public addresses. The answer holds the signing secret, "
        "which is never shown again. At most 20 endpoints per company.",
        request=EndpointInputSerializer,
        responses={201: EndpointWithSecretSerializer},
    )
    def post(self, request):
        membership = check_webhook_owner(request, write=True)
        serializer = EndpointInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint, secret = services.create_endpoint(
            company=membership.company, created_by=request.user, **serializer.validated_data
        )
        response = _endpoint_response(request, endpoint.public_id, status_code=status.HTTP_201_CREATED, secret=secret)
        path = reverse("api:webhook_endpoint", kwargs={"endpoint_id": endpoint.public_id})
        response["Location"] = request.build_absolute_uri(path)
        return response


class EndpointDetailApi(TenantApiView):
    @extend_schema(
        operation_id="webhooks_endpoints_retrieve", summary="Get a webhook endpoint", responses=EndpointOutputSerializer
    )
    def get(self, request, endpoint_id):
        endpoint = get_endpoint_for_user(request, endpoint_id)
        return _endpoint_response(request, endpoint.public_id)


class EndpointUpdateApi(TenantApiView):
    class InputSerializer(EndpointInputSerializer):
        url = StrictCharField(max_length=2000, required=False)
        event_types = serializers.ListField(
            child=StrictChoiceField(choices=EventType.subscribable()), min_length=1, max_length=20, required=False
        )
        is_active = serializers.BooleanField(
            required=False, help_text="true turns it on again (the 3 days of failures start over)."
        )

    @extend_schema(
        operation_id="webhooks_endpoints_partial_update",
        summary="Change a webhook endpoint",
        description="Only the fields sent change.",
        request=InputSerializer,
        responses=EndpointOutputSerializer,
    )
    def patch(self, request, endpoint_id):
        endpoint = get_endpoint_for_user(request, endpoint_id, write=True)
        serializer = self.InputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        if serializer.validated_data:
            services.update_endpoint(endpoint=endpoint, **serializer.validated_data)
        return _endpoint_response(request, endpoint.public_id)


class EndpointDeleteApi(TenantApiView):
    @extend_schema(
        operation_id="webhooks_endpoints_destroy",
        summary="Delete a webhook endpoint",
        description="With its secrets and delivery log.",
        responses={204: None},
    )
    def delete(self, request, endpoint_id):
        endpoint = get_endpoint_for_user(request, endpoint_id, write=True)
        services.delete_endpoint(endpoint=endpoint)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointRotateSecretApi(TenantApiView):
    class InputSerializer(serializers.Serializer):
        keep_previous_hours = serializers.IntegerField(
            min_value=0,
            max_value=168,
            default=24,
            help_text="How long the current secret keeps signing next to the new one (0: it ends now).",
        )

    @extend_schema(
        operation_id="webhooks_endpoints_rotate_secret",
        summary="Rotate the signing secret",
        description="Makes a new current secret, shown in this answer only. Until the previous one "
        "expires, every delivery carries a signature made with each; an older one still valid ends now.",
        request=InputSerializer,
        responses=EndpointWithSecretSerializer,
    )
    def post(self, request, endpoint_id):
        endpoint = get_endpoint_for_user(request, endpoint_id, write=True)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        keep = timedelta(hours=serializer.validated_data["keep_previous_hours"])
        secret = services.rotate_secret(endpoint=endpoint, keep_previous=keep)
        return _endpoint_response(request, endpoint.public_id, secret=secret)


class EndpointTestApi(TenantApiView):
    @extend_schema(
        operation_id="webhooks_endpoints_test",
        summary="Send a test event",
        description="Queues a `ping` event to this endpoint only, tried once, even while it is off.",
        request=None,
        responses={202: DeliveryOutputSerializer, 409: CONFLICT},
    )
    def post(self, request, endpoint_id):
        endpoint = get_endpoint_for_user(request, endpoint_id, write=True)
        try:
            delivery = services.send_test_event(endpoint=endpoint)
        except services.Refused as exc:
            raise Conflict(str(exc)) from None
        return _delivery_response(delivery, status_code=status.HTTP_202_ACCEPTED)


# --- Deliveries --------------------------------------------------------------------------------------


class DeliveryListApi(TenantApiView):
    pagination_class = Pagination

    class FilterSerializer(QuerySerializer):
        status = StrictChoiceField(choices=Delivery.Status.choices, required=False)
        event_type = StrictChoiceField(choices=EventType.choices, required=False)

    query_serializer = FilterSerializer

    @extend_schema(
        operation_id="webhooks_endpoints_deliveries_list",
        summary="An endpoint's delivery log",
        description="Newest first; kept for WEBHOOK_LOG_RETENTION_DAYS (30 by default).",
        parameters=[FilterSerializer],
        responses=DeliveryOutputSerializer(many=True),
    )
    def get(self, request, endpoint_id):
        endpoint = get_endpoint_for_user(request, endpoint_id)
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        deliveries = endpoint.deliveries.select_related("event", "endpoint").order_by("-created_at", "-id")
        if "status" in filters.validated_data:
            deliveries = deliveries.filter(status=filters.validated_data["status"])
        if "event_type" in filters.validated_data:
            deliveries = deliveries.filter(event__type=filters.validated_data["event_type"])
        return paginated(self, request, deliveries, DeliveryOutputSerializer)


class DeliveryDetailApi(TenantApiView):
    @extend_schema(
        operation_id="webhooks_deliveries_retrieve",
        summary="Get a delivery",
        description="With the payload sent and every attempt (status, duration, the answer's first 4 KB, error).",
        responses=DeliveryDetailSerializer,
    )
    def get(self, request, delivery_id):
        delivery = get_delivery_for_user(request, delivery_id)
        return Response(DeliveryDetailSerializer(delivery).data)


class RedeliverApi(TenantApiView):
    @extend_schema(
        operation_id="webhooks_deliveries_redeliver",
        summary="Redeliver",
        description="Sends the delivery's event to its endpoint again — same event id and body, a new "
        "delivery in the log — even while the endpoint is off. Refused while that event is still on its way there.",
        request=None,
        responses={202: DeliveryOutputSerializer, 409: CONFLICT},
    )
    def post(self, request, delivery_id):
        delivery = get_delivery_for_user(request, delivery_id, write=True)
        try:
            again = services.redeliver(delivery=delivery)
        except services.Refused as exc:
            raise Conflict(str(exc)) from None
        return _delivery_response(again, status_code=status.HTTP_202_ACCEPTED)
