"""Back office for webhooks: every company's endpoints and delivery log, for support.

Staff see and change endpoints (URL, events, on/off), send test events and redeliver; the
signing secrets are never shown (only their first characters), and endpoints are made by the
company's owners, who alone receive the secret. Actions need the change permission.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from webhooks import services
from webhooks.models import Attempt, Delivery, Endpoint, EventType, Secret


class SecretInline(admin.TabularInline):
    model = Secret
    extra = 0
    fields = ["hint", "created_at", "expires_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class EndpointAdminForm(forms.ModelForm):
    event_types = forms.MultipleChoiceField(
        label=_("Events"), choices=EventType.subscribable, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Endpoint
        fields = ["url", "description", "event_types"]

    def clean(self):
        data = super().clean()
        try:
            # The same checks as the portal and the API (public address, resolvable host, …).
            data["url"] = services.validate_url(data.get("url", ""))
        except ValidationError as exc:
            self.add_error("url", exc.message_dict["url"])
        return data


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    form = EndpointAdminForm
    list_display = ["url", "company", "is_active", "disabled_reason", "failing_since", "last_success_at", "waiting"]
    list_filter = ["is_active", "disabled_reason"]
    search_fields = ["url", "description", "company__name", "company__slug", "public_id"]
    list_select_related = ["company"]
    readonly_fields = [
        "company",
        "public_id",
        "is_active",
        "disabled_reason",
        "disabled_at",
        "failing_since",
        "last_success_at",
        "last_failure_at",
        "created_at",
        "created_by",
    ]
    inlines = [SecretInline]
    actions = ["send_test_event", "turn_on", "turn_off"]

    def has_add_permission(self, request):
        return False

    def get_queryset(self, request):
        open_states = [Delivery.Status.PENDING, Delivery.Status.DELIVERING]
        waiting = Count("deliveries", filter=Q(deliveries__status__in=open_states))
        return super().get_queryset(request).annotate(open_count=waiting)

    @admin.display(description=_("waiting deliveries"), ordering="open_count")
    def waiting(self, obj):
        return obj.open_count

    @admin.action(description=_("Send a test event"), permissions=["change"])
    def send_test_event(self, request, queryset):
        sent = 0
        for endpoint in queryset.select_related("company"):
            try:
                services.send_test_event(endpoint=endpoint)
            except services.Refused as exc:
                self.message_user(request, f"{endpoint}: {exc}", messages.WARNING)
            else:
                sent += 1
        self.message_user(request, ngettext("%d test event queued.", "%d test events queued.", sent) % sent)

    @admin.action(description=_("Turn on (a fresh start of the 3 days)"), permissions=["change"])
    def turn_on(self, request, queryset):
        for endpoint in queryset:
            services.set_endpoint_active(endpoint=endpoint, active=True)
        self.message_user(request, _("Turned on."), messages.SUCCESS)

    @admin.action(description=_("Turn off"), permissions=["change"])
    def turn_off(self, request, queryset):
        for endpoint in queryset.filter(is_active=True):
            services.set_endpoint_active(endpoint=endpoint, active=False)
        self.message_user(request, _("Turned off."), messages.SUCCESS)


class AttemptInline(admin.TabularInline):
    model = Attempt
    extra = 0
    fields = ["number", "started_at", "response_status", "duration_ms", "succeeded", "error", "response_body"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "company",
        "event_type",
        "endpoint",
        "trigger",
        "status",
        "response_status",
        "attempts",
        "next_attempt_at",
    ]
    list_filter = ["status", "trigger", "event__type"]
    search_fields = ["=event__id", "=public_id", "endpoint__url", "endpoint__company__name"]
    list_select_related = ["event", "endpoint__company"]
    raw_id_fields = ["event", "endpoint"]
    date_hierarchy = "created_at"
    fields = [
        "public_id",
        "endpoint",
        "event",
        "trigger",
        "status",
        "attempts",
        "next_attempt_at",
        "response_status",
        "duration_ms",
        "error",
        "created_at",
        "finished_at",
        "payload",
    ]
    readonly_fields = fields
    inlines = [AttemptInline]
    actions = ["redeliver"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # The log is a record: readable, never edited; the action below has its own check.
        return obj is None and super().has_change_permission(request, obj)

    @admin.display(description=_("company"), ordering="endpoint__company__name")
    def company(self, obj):
        return obj.endpoint.company

    @admin.display(description=_("event type"), ordering="event__type")
    def event_type(self, obj):
        return obj.event.type

    @admin.display(description=_("payload"))
    def payload(self, obj):
        return format_html('<pre style="white-space:pre-wrap;max-width:60rem">{}</pre>', obj.event.body)

    @admin.action(description=_("Redeliver (same event id and body)"), permissions=["change"])
    def redeliver(self, request, queryset):
        sent = 0
        for delivery in queryset.select_related("event", "endpoint__company"):
            try:
                services.redeliver(delivery=delivery)
            except services.Refused as exc:
                self.message_user(request, f"{delivery.public_id}: {exc}", messages.WARNING)
            else:
                sent += 1
        self.message_user(request, ngettext("%d redelivery queued.", "%d redeliveries queued.", sent) % sent)
