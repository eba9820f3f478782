"""Webhooks: endpoints and their secrets, emitting events, delivering them, sweeping.

Emitting is an outbox: :func:`emit` writes the event and one delivery per listening endpoint in
the transaction of the state change that caused it, and hands the deliveries to the task queue
when that transaction commits. So an event exists exactly when its cause committed, and a broker
outage or a dead worker delays deliveries but never loses them: the sweeper queues every due
delivery again.

Each attempt claims its delivery with one conditional UPDATE (waiting and due → sending, with a
claim token and a lease); only the holder of the token records the outcome. A worker killed
mid-request leaves a "sending" row whose lease runs out; the sweeper puts it back to "waiting"
and it is sent again (at least once: receivers deduplicate on the event id). A recorded success
is final, so nothing is sent again after it — unless a person asks for a redelivery.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from companies import crypto, notifications
from companies.models import Company, Notification
from lib.periodic import RowFailures
from lib.tasks import send_task
from webhooks import signing, transport
from webhooks.models import Attempt, Delivery, Endpoint, Event, EventType, Secret

logger = logging.getLogger(__name__)

MAX_ENDPOINTS_PER_COMPANY = 20
#: About a day of attempts: 1 + 9 retries, waiting 1, 3, 9, 27, 81 min, ~4 h, then 6 h (±15 %).
MAX_ATTEMPTS = 10
#: An endpoint whose attempts have all failed for this long is turned off and its owners told.
DISABLE_AFTER = timedelta(days=3)
#: How much of a receiver's answer is kept, per attempt.
RESPONSE_BODY_LIMIT = 4096
#: How long a previous secret may stay valid after a rotation.
MAX_SECRET_OVERLAP = timedelta(days=7)
#: Rows each sweeper step looks at per run, so one run stays short whatever piled up.
SWEEP_BATCH = 500


# --- Policy --------------------------------------------------------------------------------------------


def retry_delay(attempts: int, *, rng: random.Random | None = None) -> timedelta:
    """How long to wait after the *attempts*-th failed attempt: exponential (×3 from a minute,
    at most 6 hours), with ±15 % jitter so that deliveries that failed together (an endpoint
    that was down) do not all come back at the same second."""
    base = min(60 * 3 ** max(attempts - 1, 0), 6 * 3600)
    return timedelta(seconds=base * (rng or random).uniform(0.85, 1.15))


def timeouts() -> transport.Timeouts:
    return transport.Timeouts(
        connect=settings.WEBHOOK_CONNECT_TIMEOUT,
        read=settings.WEBHOOK_READ_TIMEOUT,
        total=settings.WEBHOOK_TOTAL_TIMEOUT,
    )


def lease() -> timedelta:
    """How long a claim holds: well past the longest possible request."""
    return max(timedelta(minutes=5), timedelta(seconds=2 * settings.WEBHOOK_TOTAL_TIMEOUT))


def check_url(url: str) -> transport.Target:
    return transport.check_url(url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_TARGETS)


# --- Endpoints -------------------------------------------------------------------------------------------


def validate_url(url: str) -> str:
    url = (url or "").strip()
    if not url:
        raise ValidationError({"url": _("Enter the URL that receives the webhooks.")})
    if len(url) > Endpoint._meta.get_field("url").max_length:
        raise ValidationError({"url": _("The URL is too long (at most 2000 characters).")})
    try:
        check_url(url)
    except transport.UnsafeTarget as exc:
        raise ValidationError({"url": str(exc)}) from None
    return url


def _clean_event_types(event_types) -> list[str]:
    allowed = {value for value, _label in EventType.subscribable()}
    chosen = sorted(set(event_types or []))
    unknown = [t for t in chosen if t not in allowed]
    if unknown:
        raise ValidationError({"event_types": _("Unknown event type: %(types)s.") % {"types": ", ".join(unknown)}})
    if not chosen:
        raise ValidationError({"event_types": _("Choose at least one event.")})
    return chosen


def _new_secret(endpoint: Endpoint, now: datetime) -> str:
    value = signing.generate_secret()
    secret = Secret(endpoint=endpoint, created_at=now)
    secret.set_value(value)
    secret.save()
    return value


@transaction.atomic
def create_endpoint(
    *, company: Company, url: str, event_types, description: str = "", is_active: bool = True, created_by=None
) -> tuple[Endpoint, str]:
    """A new endpoint and its signing secret (returned once: it is stored encrypted only)."""
    url = validate_url(url)
    event_types = _clean_event_types(event_types)
    # The company's row serialises concurrent creations, so the limit holds.
    list(Company.objects.select_for_update().filter(pk=company.pk).values_list("pk"))
    if Endpoint.objects.for_company(company).count() >= MAX_ENDPOINTS_PER_COMPANY:
        raise ValidationError(
            _("A company can have at most %(n)d webhook endpoints: delete one you no longer use.")
            % {"n": MAX_ENDPOINTS_PER_COMPANY}
        )
    endpoint = Endpoint(
        company=company,
        url=url,
        description=description.strip(),
        event_types=event_types,
        is_active=is_active,
        disabled_reason="" if is_active else Endpoint.DisabledReason.MANUAL,
        disabled_at=None if is_active else timezone.now(),
        created_by=created_by if getattr(created_by, "is_authenticated", False) else None,
    )
    endpoint.full_clean(exclude=["company", "created_by"])
    endpoint.save()
    return endpoint, _new_secret(endpoint, endpoint.created_at)


def update_endpoint(*, endpoint: Endpoint, **fields) -> Endpoint:
    """Change the URL, description, event types or whether it is on; only the fields given."""
    if "url" in fields:
        fields["url"] = validate_url(fields["url"])
    if "event_types" in fields:
        fields["event_types"] = _clean_event_types(fields["event_types"])
    if "description" in fields:
        fields["description"] = (fields["description"] or "").strip()
    active = fields.pop("is_active", None)
    with transaction.atomic():
        if fields:
            for name, value in fields.items():
                setattr(endpoint, name, value)
            endpoint.full_clean(exclude=["company", "created_by"])
            endpoint.save(update_fields=[*fields, "updated_at"])
        if active is not None and active != endpoint.is_active:
            set_endpoint_active(endpoint=endpoint, active=active)
    return endpoint


def set_endpoint_active(*, endpoint: Endpoint, active: bool, now: datetime | None = None) -> None:
    """Turn an endpoint on (with a clean slate: the three days start again) or off by hand."""
    now = now or timezone.now()
    if active:
        endpoint.is_active, endpoint.disabled_reason, endpoint.disabled_at = True, "", None
        endpoint.failing_since = None
    else:
        endpoint.is_active, endpoint.disabled_reason, endpoint.disabled_at = False, Endpoint.DisabledReason.MANUAL, now
    endpoint.save(update_fields=["is_active", "disabled_reason", "disabled_at", "failing_since", "updated_at"])


def delete_endpoint(*, endpoint: Endpoint) -> None:
    """The endpoint, its secrets and its delivery log; events other endpoints got stay."""
    endpoint.delete()


def _overlap(keep_previous: timedelta) -> timedelta:
    if keep_previous < timedelta(0) or keep_previous > MAX_SECRET_OVERLAP:
        raise ValidationError({"keep_previous": _("The previous secret can stay valid for at most 7 days.")})
    return keep_previous


@transaction.atomic
def rotate_secret(*, endpoint: Endpoint, keep_previous: timedelta, now: datetime | None = None) -> str:
    """A new current secret. The one it replaces stays valid for *keep_previous* (deliveries are
    signed with both meanwhile); any older one still valid ends now, so at most two are valid."""
    keep_previous = _overlap(keep_previous)
    now = now or timezone.now()
    list(Endpoint.objects.select_for_update().filter(pk=endpoint.pk).values_list("pk"))
    endpoint.secrets.filter(expires_at__gt=now).update(expires_at=now)
    endpoint.secrets.filter(expires_at__isnull=True).update(expires_at=now + keep_previous)
    value = _new_secret(endpoint, now)
    Endpoint.objects.filter(pk=endpoint.pk).update(updated_at=now)
    return value


def revoke_previous_secrets(*, endpoint: Endpoint, now: datetime | None = None) -> int:
    """End the overlap now: only the current secret signs from here on."""
    now = now or timezone.now()
    return endpoint.secrets.filter(expires_at__gt=now).update(expires_at=now)


# --- Emitting ---------------------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def render_body(event: Event, data: dict) -> str:
    envelope = {
        "id": str(event.id),
        "type": event.type,
        "created_at": _iso(event.created_at),
        "company": event.company.slug,
        "data": data,
    }
    return json.dumps(envelope, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))


def enqueue(delivery_id: int) -> None:
    """Hand the delivery to the task queue; if the broker is down the sweeper will do it later."""
    if not send_task("webhooks.tasks.deliver", delivery_id, label="webhook", otherwise="the sweeper will"):
        Delivery.objects.filter(pk=delivery_id).update(enqueued_at=None)


def _deliveries(event: Event, endpoints, *, trigger: str, now: datetime) -> list[Delivery]:
    deliveries = [
        Delivery.objects.create(
            event=event, endpoint=endpoint, trigger=trigger, next_attempt_at=now, enqueued_at=now, created_at=now
        )
        for endpoint in endpoints
    ]
    for delivery in deliveries:
        transaction.on_commit(lambda pk=delivery.pk: enqueue(pk))
    return deliveries


def emit(
    *,
    company: Company,
    event_type: str,
    data: dict | Callable[[], dict],
    dedupe_key: str | None = None,
    now: datetime | None = None,
) -> Event | None:
    """Announce *event_type* to the company's active endpoints that asked for it.

    Call it where the state change happens, inside its transaction: the event and its
    deliveries commit (and are queued) with it, or not at all. *data* is the payload's ``data``
    object — the API's representation of what changed — or a function making it, called only
    when some endpoint listens, in the company's language. With a *dedupe_key*, the event is
    announced once however often this is called. Returns the event, or None when nobody listens.
    """
    if event_type not in EventType.values:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    if not company.is_active:
        return None
    endpoints = Endpoint.objects.listening(company, event_type)
    if not endpoints:
        return None
    now = now or timezone.now()
    with transaction.atomic():
        if dedupe_key and Event.objects.filter(dedupe_key=dedupe_key).exists():
            return None
        event = Event(company=company, type=event_type, created_at=now, dedupe_key=dedupe_key)
        with translation.override(company.language):
            event.body = render_body(event, data() if callable(data) else data)
        try:
            with transaction.atomic():
                event.save(force_insert=True)
        except IntegrityError:
            return None  # a concurrent run announced it first
        _deliveries(event, endpoints, trigger=Delivery.Trigger.EVENT, now=now)
    return event


class Refused(Exception):
    """A person's request that cannot be done now; the message says why."""


@transaction.atomic
def send_test_event(*, endpoint: Endpoint, now: datetime | None = None) -> Delivery:
    """A ``ping`` to this endpoint only, tried once (click again to retry), even while it is off."""
    now = now or timezone.now()
    list(Endpoint.objects.select_for_update().filter(pk=endpoint.pk).values_list("pk"))
    if endpoint.deliveries.open().filter(trigger=Delivery.Trigger.TEST).exists():
        raise Refused(_("A test event is already on its way to this endpoint; wait for its result."))
    event = Event(company=endpoint.company, type=EventType.PING, created_at=now)
    data = {
        "endpoint": {"id": str(endpoint.public_id), "url": endpoint.url},
        "message": "A test event: this endpoint receives ARV webhooks.",
    }
    event.body = render_body(event, data)
    event.save(force_insert=True)
    return _deliveries(event, [endpoint], trigger=Delivery.Trigger.TEST, now=now)[0]


def redeliver(*, delivery: Delivery, now: datetime | None = None) -> Delivery:
    """Send a delivery's event to its endpoint again: same event id and body, a new log entry."""
    now = now or timezone.now()
    refusal = _("This event is still on its way to this endpoint; wait for the current delivery to finish.")
    if Delivery.objects.open().filter(event_id=delivery.event_id, endpoint_id=delivery.endpoint_id).exists():
        raise Refused(refusal)
    try:
        with transaction.atomic():
            return _deliveries(delivery.event, [delivery.endpoint], trigger=Delivery.Trigger.REDELIVERY, now=now)[0]
    except IntegrityError:
        raise Refused(refusal) from None


# --- Delivering -------------------------------------------------------------------------------------------


def claim(delivery_id: int, now: datetime) -> uuid.UUID | None:
    token = uuid.uuid4()
    claimed = Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.PENDING, next_attempt_at__lte=now).update(
        status=Delivery.Status.DELIVERING,
        claim_token=token,
        claimed_until=now + lease(),
        attempts=F("attempts") + 1,
        enqueued_at=None,
        updated_at=now,
    )
    return token if claimed else None


def _text(body: bytes) -> str:
    # PostgreSQL text cannot hold NUL.
    return body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def _send(delivery: Delivery, now: datetime) -> tuple[transport.Response | None, str]:
    """One request; (the answer or None, an error text or "")."""
    endpoint, event = delivery.endpoint, delivery.event
    try:
        secrets = endpoint.signing_secrets(now)
    except crypto.CredentialsUnreadable:
        return None, "The signing secret cannot be decrypted (FIELD_ENCRYPTION_KEYS changed?): rotate it."
    body = event.body.encode()
    headers = {
        **signing.headers(secrets, msg_id=str(event.id), timestamp=int(now.timestamp()), body=body),
        "ARV-Event-Type": event.type,
        "ARV-Delivery-Id": str(delivery.public_id),
        "ARV-Attempt": str(delivery.attempts),
    }
    try:
        # Checked again now: DNS may have changed since the URL was saved, and so may the setting.
        target = check_url(endpoint.url)
        context = transport.tls_context(settings.WEBHOOK_CA_FILE or None) if target.scheme == "https" else None
        response = transport.post(
            target, body=body, headers=headers, timeouts=timeouts(), max_body=RESPONSE_BODY_LIMIT, context=context
        )
    except (transport.UnsafeTarget, transport.TransportError) as exc:
        return None, str(exc)[:500]
    if 200 <= response.status < 300:
        return response, ""
    if 300 <= response.status < 400:
        where = f" to {response.location}" if response.location else ""
        return response, f"Redirect ({response.status}){where} not followed: use the final URL."[:500]
    return response, f"HTTP {response.status} {response.reason}".strip()[:500]


def attempt_delivery(*, delivery_id: int, now: datetime | None = None, rng: random.Random | None = None) -> str | None:
    """Make the next attempt of a delivery if it is due and nobody else holds it.

    Returns the delivery's status afterwards, or None when there was nothing to do.
    """
    now = now or timezone.now()
    token = claim(delivery_id, now)
    if token is None:
        return None
    delivery = Delivery.objects.select_related("event", "endpoint__company").get(pk=delivery_id)
    if not delivery.endpoint.is_active and delivery.trigger == Delivery.Trigger.EVENT:
        Delivery.objects.filter(pk=delivery.pk, claim_token=token).update(
            status=Delivery.Status.FAILED,
            error="The endpoint is turned off: not sent.",
            finished_at=now,
            next_attempt_at=None,
            claim_token=None,
            claimed_until=None,
            updated_at=now,
        )
        return Delivery.Status.FAILED
    started = time.monotonic()
    response, error = _send(delivery, now)
    duration_ms = int((time.monotonic() - started) * 1000)
    return _record(delivery, token, response, error, duration_ms=duration_ms, now=now, rng=rng)


def _record(delivery, token, response, error, *, duration_ms: int, now: datetime, rng) -> str | None:
    succeeded = response is not None and not error
    last_try = succeeded or delivery.trigger == Delivery.Trigger.TEST or delivery.attempts >= MAX_ATTEMPTS
    status = Delivery.Status.FAILED if last_try else Delivery.Status.PENDING
    if succeeded:
        status = Delivery.Status.SUCCEEDED
    endpoint = delivery.endpoint
    with transaction.atomic():
        updated = Delivery.objects.filter(pk=delivery.pk, claim_token=token).update(
            status=status,
            next_attempt_at=None if last_try else now + retry_delay(delivery.attempts, rng=rng),
            finished_at=now if last_try else None,
            response_status=response.status if response else None,
            duration_ms=duration_ms,
            error=error,
            claim_token=None,
            claimed_until=None,
            updated_at=now,
        )
        if not updated:
            # The sweeper took the delivery back (our lease ran out): its new holder decides.
            return None
        Attempt.objects.create(
            delivery=delivery,
            number=delivery.attempts,
            started_at=now,
            duration_ms=duration_ms,
            response_status=response.status if response else None,
            response_body=_text(response.body) if response else "",
            response_truncated=bool(response and response.truncated),
            error=error,
            succeeded=succeeded,
        )
        endpoints = Endpoint.objects.filter(pk=endpoint.pk)
        if succeeded:
            endpoints.update(last_success_at=now, failing_since=None)
        else:
            endpoints.update(last_failure_at=now)
            endpoints.filter(failing_since__isnull=True).update(failing_since=now)
            _disable_if_failing_too_long(endpoint, now)
    logger.info("webhook delivery %s attempt %s: %s %s", delivery.pk, delivery.attempts, status, error)
    return status


def _disable_if_failing_too_long(endpoint: Endpoint, now: datetime) -> None:
    turned_off = Endpoint.objects.filter(pk=endpoint.pk, is_active=True, failing_since__lte=now - DISABLE_AFTER).update(
        is_active=False, disabled_reason=Endpoint.DisabledReason.FAILING, disabled_at=now, updated_at=now
    )
    if not turned_off:
        return
    endpoint.deliveries.filter(status=Delivery.Status.PENDING, trigger=Delivery.Trigger.EVENT).update(
        status=Delivery.Status.FAILED,
        error="The endpoint was turned off after failing for 3 days: not sent.",
        next_attempt_at=None,
        finished_at=now,
        updated_at=now,
    )
    logger.warning("webhook endpoint %s turned off: every attempt failed for %s days", endpoint.pk, DISABLE_AFTER.days)
    # The conditional UPDATE above succeeds once per turning-off, so the owners hear it once.
    transaction.on_commit(lambda: notify_turned_off(endpoint_id=endpoint.pk, at=now))


def notify_turned_off(*, endpoint_id: int, at: datetime) -> None:
    """Tell the company (its contact address and owners) that an endpoint was turned off."""
    endpoint = Endpoint.objects.select_related("company").filter(pk=endpoint_id).first()
    if endpoint is None:
        return
    company = endpoint.company
    context = {
        "company": company,
        "endpoint": endpoint,
        "days": DISABLE_AFTER.days,
        "site_name": settings.SITE_NAME,
        "site_url": settings.SITE_URL,
        "endpoint_url": settings.SITE_URL + endpoint.get_absolute_url(),
    }
    with translation.override(company.language):
        text = render_to_string("webhooks/email/endpoint_turned_off.txt", context).strip()
        html = render_to_string("webhooks/email/endpoint_turned_off.html", context)
    subject, _sep, body = text.partition("\n")
    key = f"webhook_turned_off:{endpoint.pk}:{at:%Y%m%dT%H%M%S}"
    message = notifications.Message(subject.strip(), body.strip() + "\n", html)
    if notifications.create(company=company, kind=Notification.Kind.WEBHOOK_TURNED_OFF, key=key, message=message):
        # Sent now; if a channel fails, `send_reminders` retries it like any other message.
        notifications.deliver(Notification.objects.get(dedupe_key=key))


# --- Sweeping ----------------------------------------------------------------------------------------------


def _each(rows, step, counts: dict, name: str, failures: RowFailures) -> None:
    """Run *step* per delivery; one row's failure is logged and counted, the others still run."""
    for row in rows:
        with failures.isolated(f"delivery {row[0]}"):
            if step(row):
                counts[name] += 1


def sweep(*, now: datetime | None = None) -> dict[str, int]:
    """The periodic safety net: recover attempts of dead workers, queue due retries and deliveries
    whose task was lost, and forget what is older than WEBHOOK_LOG_RETENTION_DAYS."""
    now = now or timezone.now()
    counts = {"recovered": 0, "gave_up": 0, "queued": 0, "pruned": 0, "errors": 0}
    failures = RowFailures("webhooks.sweep")

    def recover(row) -> bool:
        pk, attempts, token, trigger = row
        rows = Delivery.objects.filter(pk=pk, status=Delivery.Status.DELIVERING, claim_token=token)
        if attempts >= MAX_ATTEMPTS or trigger == Delivery.Trigger.TEST:
            counts["gave_up"] += rows.update(
                status=Delivery.Status.FAILED,
                error="The worker stopped during the last attempt; not tried again.",
                finished_at=now,
                claim_token=None,
                claimed_until=None,
                updated_at=now,
            )
            return False
        return bool(
            rows.update(
                status=Delivery.Status.PENDING,
                next_attempt_at=now,
                error="The worker stopped during an attempt; it is sent again.",
                claim_token=None,
                claimed_until=None,
                updated_at=now,
            )
        )

    stale = Delivery.objects.filter(status=Delivery.Status.DELIVERING, claimed_until__lt=now)
    _each(
        stale.values_list("pk", "attempts", "claim_token", "trigger")[:SWEEP_BATCH],
        recover,
        counts,
        "recovered",
        failures,
    )

    def queue(row) -> bool:
        pk, enqueued_at = row
        # Conditional, so two sweepers never queue the same delivery twice.
        if not Delivery.objects.filter(pk=pk, enqueued_at=enqueued_at).update(enqueued_at=now):
            return False
        enqueue(pk)
        return True

    lost = now - timedelta(seconds=settings.JOB_LOST_AFTER_SECONDS)
    due = Delivery.objects.due(now).filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=lost))
    _each(
        due.order_by("next_attempt_at").values_list("pk", "enqueued_at")[:SWEEP_BATCH],
        queue,
        counts,
        "queued",
        failures,
    )

    cutoff = now - timedelta(days=settings.WEBHOOK_LOG_RETENTION_DAYS)
    old = list(Delivery.objects.filter(finished_at__lt=cutoff).values_list("pk", flat=True)[: SWEEP_BATCH * 10])
    if old:
        counts["pruned"] += Delivery.objects.filter(pk__in=old).delete()[1].get(Delivery._meta.label, 0)
    # Events nobody's log shows any more; deduplicated ones stay, or the reminder job would
    # announce the same expiry again.
    orphans = Event.objects.filter(created_at__lt=cutoff, dedupe_key__isnull=True, deliveries__isnull=True)
    Event.objects.filter(pk__in=list(orphans.values_list("pk", flat=True)[: SWEEP_BATCH * 10])).delete()
    Secret.objects.filter(expires_at__lt=now - timedelta(days=1)).delete()
    counts["errors"] = failures.count
    return counts
