"""Signed webhooks: where a company wants to hear about events, what happened, what was sent.

- :class:`Endpoint`: a company's receiving URL and the event types it wants.
- :class:`Secret`: an endpoint's signing secrets, encrypted at rest. One is current; after a
  rotation the previous one stays valid until it expires (or is revoked), and deliveries are
  signed with both meanwhile.
- :class:`Event`: one thing that happened, with the exact JSON body every endpoint receives, so
  retries and redeliveries send the same bytes under the same event id.
- :class:`Delivery`: one event on its way to one endpoint: the row the queue claims, retries and
  finishes. :class:`Attempt`: one HTTP request of a delivery, for the delivery log.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from companies import crypto
from companies.models import Company


class EventType(models.TextChoices):
    PORTRAIT_READY = "portrait.ready", _("Portrait ready")
    PORTRAIT_FAILED = "portrait.failed", _("Portrait failed")
    VIDEO_READY = "video.ready", _("Video ready")
    BATCH_READY = "batch.ready", _("Batch ready")
    PROJECT_EXPIRING = "project.expiring", _("Project expiring")
    SUBSCRIPTION_EXPIRING = "subscription.expiring", _("Subscription expiring")
    PING = "ping", _("Test event")

    @classmethod
    def subscribable(cls) -> list[tuple[str, str]]:
        """What an endpoint can ask for; ``ping`` is only ever sent by "send test event"."""
        return [(value, label) for value, label in cls.choices if value != cls.PING]


class EndpointQuerySet(models.QuerySet):
    def for_company(self, company: Company):
        return self.filter(company=company)

    def listening(self, company: Company, event_type: str) -> list[Endpoint]:
        """The company's active endpoints that asked for *event_type* (few per company, so the
        list is filtered here: SQLite has no JSON containment lookup)."""
        return [e for e in self.filter(company=company, is_active=True) if event_type in e.event_types]


class Endpoint(models.Model):
    class DisabledReason(models.TextChoices):
        NONE = "", _("—")
        MANUAL = "manual", _("Turned off by a person")
        FAILING = "failing", _("Failing for too long")

    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="webhook_endpoints", verbose_name=_("company")
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    url = models.CharField(_("URL"), max_length=2000)
    description = models.CharField(_("description"), max_length=200, blank=True)
    event_types = models.JSONField(_("event types"), default=list)
    is_active = models.BooleanField(_("active"), default=True)
    disabled_reason = models.CharField(
        _("why it is off"), max_length=10, choices=DisabledReason.choices, blank=True, default=""
    )
    disabled_at = models.DateTimeField(_("turned off"), null=True, blank=True)
    # The first failed attempt since the last success: three days of that turns the endpoint off.
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True)
    last_success_at = models.DateTimeField(_("last success"), null=True, blank=True)
    last_failure_at = models.DateTimeField(_("last failure"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )

    objects = EndpointQuerySet.as_manager()

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["company", "created_at"], name="webhook_endpoint_company_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(is_active=True, disabled_reason="") | Q(is_active=False) & ~Q(disabled_reason=""),
                name="webhook_endpoint_off_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return self.url

    def get_absolute_url(self) -> str:
        return reverse("portal:webhook_detail", kwargs={"public_id": self.public_id})

    def event_type_labels(self) -> list[str]:
        """In the order the event types are declared (the portal's checkboxes' order)."""
        return [str(label) for value, label in EventType.choices if value in self.event_types]

    def signing_secrets(self, now: datetime | None = None) -> list[str]:
        """The secrets valid at *now*, newest first: every delivery is signed with each."""
        now = now or timezone.now()
        valid = self.secrets.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now)).order_by("-created_at", "-id")
        return [secret.value for secret in valid]


class Secret(models.Model):
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="secrets", verbose_name=_("endpoint"))
    # Fernet, like storage credentials (companies.crypto): `rotate_credentials` re-encrypts it.
    value_encrypted = models.TextField(editable=False, verbose_name=_("value encrypted"))
    # "whsec_AbCd…": enough to tell secrets apart in the portal, nothing to sign with.
    hint = models.CharField(_("secret"), max_length=20)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    # Empty: the current secret. Set when a rotation replaced it: valid until then.
    expires_at = models.DateTimeField(_("valid until"), null=True, blank=True)

    class Meta:
        verbose_name = _("signing secret")
        verbose_name_plural = _("signing secrets")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint"], condition=Q(expires_at__isnull=True), name="one_current_webhook_secret"
            ),
        ]

    def __str__(self) -> str:
        return self.hint + "…"

    @property
    def value(self) -> str:
        return crypto.decrypt_json(self.value_encrypted)["secret"]

    def set_value(self, secret: str) -> None:
        self.value_encrypted = crypto.encrypt_json({"secret": secret})
        self.hint = secret[:12]

    def is_valid(self, now: datetime | None = None) -> bool:
        return self.expires_at is None or self.expires_at > (now or timezone.now())


class Event(models.Model):
    # The id receivers deduplicate on (the `webhook-id` header and the body's "id").
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="webhook_events")
    type = models.CharField(_("event type"), max_length=40, choices=EventType.choices)
    # The exact bytes sent (UTF-8 JSON): signatures are over these, on every attempt.
    body = models.TextField(editable=False)
    # What makes two events "the same" (an expiry reminder per expiry date): unique, so repeated
    # or concurrent runs of a job announce it once.
    dedupe_key = models.CharField(max_length=200, null=True, blank=True, unique=True, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["company", "-created_at"], name="webhook_event_company_idx")]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class DeliveryQuerySet(models.QuerySet):
    def for_company(self, company: Company):
        return self.filter(endpoint__company=company)

    def open(self):
        return self.filter(status__in=[Delivery.Status.PENDING, Delivery.Status.DELIVERING])

    def due(self, now: datetime):
        return self.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        DELIVERING = "delivering", _("Sending")
        SUCCEEDED = "succeeded", _("Delivered")
        FAILED = "failed", _("Failed")

    class Trigger(models.TextChoices):
        EVENT = "event", _("Event")
        TEST = "test", _("Test event")
        REDELIVERY = "redelivery", _("Redelivery")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("event"))
    endpoint = models.ForeignKey(
        Endpoint, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("endpoint")
    )
    trigger = models.CharField(_("trigger"), max_length=12, choices=Trigger.choices, default=Trigger.EVENT)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next try"), null=True, blank=True)
    # When a task for the next attempt was handed to the queue: the sweeper queues it again only
    # if that task seems lost.
    enqueued_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("enqueued at"))
    # Only the holder of the current token may record the outcome of an attempt; the lease lets
    # the sweeper take back a delivery whose worker died mid-request.
    claim_token = models.UUIDField(null=True, blank=True, editable=False, verbose_name=_("claim token"))
    claimed_until = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("claimed until"))
    # The last attempt, for the log's columns (each attempt is an Attempt row).
    response_status = models.PositiveSmallIntegerField(_("response code"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-id"]
        constraints = [
            # A redelivery while the event is still on its way to that endpoint would only send it twice.
            models.UniqueConstraint(
                fields=["event", "endpoint"],
                condition=Q(status__in=["pending", "delivering"]),
                name="one_open_webhook_delivery",
            ),
        ]
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_log_idx"),
            # The sweeper's working set: small, whatever the table's size.
            models.Index(
                fields=["status", "next_attempt_at"],
                condition=Q(status__in=["pending", "delivering"]),
                name="webhook_delivery_open_idx",
            ),
            models.Index(fields=["finished_at"], name="webhook_delivery_finished_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event.type} → {self.endpoint.url}"

    def get_absolute_url(self) -> str:
        return reverse("portal:webhook_delivery", kwargs={"public_id": self.public_id})

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.PENDING, self.Status.DELIVERING)


class Attempt(models.Model):
    delivery = models.ForeignKey(
        Delivery, on_delete=models.CASCADE, related_name="attempt_log", verbose_name=_("delivery")
    )
    number = models.PositiveSmallIntegerField(_("attempt"))
    started_at = models.DateTimeField(_("sent"))
    duration_ms = models.PositiveIntegerField(_("duration (ms)"))
    response_status = models.PositiveSmallIntegerField(_("response code"), null=True, blank=True)
    # The start of the answer, as text; never more than RESPONSE_BODY_LIMIT bytes of it.
    response_body = models.TextField(_("response"), blank=True)
    response_truncated = models.BooleanField(default=False, verbose_name=_("response truncated"))
    error = models.CharField(_("error"), max_length=500, blank=True)
    succeeded = models.BooleanField(_("succeeded"), default=False)

    class Meta:
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="one_webhook_attempt_per_number")]

    def __str__(self) -> str:
        return f"#{self.number}: {self.response_status or self.error}"
