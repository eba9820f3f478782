"""Messages to companies: expiry reminders and other notices, by e-mail and Telegram.

The monthly view report is composed by ``analytics.reports`` (it reads the view analytics, a
floor above) and created and delivered through :func:`create` and :func:`deliver_pending` here.

Each message is a Notification row whose ``dedupe_key`` is unique, so the same reminder is
created once however often (or concurrently) the job runs. Delivery claims the row with a
conditional UPDATE (a short lease), sends only the channels not yet sent, records each channel's
outcome, and leaves failed channels for the next run, up to ``MAX_ATTEMPTS``.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation

from companies import signals
from companies.models import Company, Membership, Notification, Project, add_months
from lib.periodic import RowFailures

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
LEASE = timedelta(minutes=5)


class TelegramError(Exception):
    pass


def send_telegram(chat_id: str, text: str) -> None:
    """Bot API sendMessage; the base URL is a setting so tests can point it at a local server."""
    token = settings.TELEGRAM_BOT_TOKEN
    if not token:
        raise TelegramError("TELEGRAM_BOT_TOKEN is not configured")
    url = f"{settings.TELEGRAM_API_URL}/bot{token}/sendMessage"
    body = json.dumps({"chat_id": chat_id, "text": text, "disable_web_page_preview": True}).encode()
    request = urllib.request.Request(  # noqa: S310 - TELEGRAM_API_URL is validated as http(s) in settings
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        # The URL is https (or the test server's http) from settings, never user input.
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            description = json.loads(exc.read() or b"{}").get("description", "")
        except ValueError:
            description = ""
        raise TelegramError(f"HTTP {exc.code} {description}".strip()) from None
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        # Never let the URL (it contains the bot token) reach the error text.
        raise TelegramError(type(exc).__name__ + (f": {exc.reason}" if hasattr(exc, "reason") else "")) from None
    if not answer.get("ok"):
        raise TelegramError(answer.get("description") or "Telegram answered ok=false")


def recipients(company: Company) -> list[str]:
    """The company's contact address and its owners', without duplicates."""
    owners = Membership.objects.filter(company=company, role=Membership.Role.OWNER).exclude(user__email="")
    emails = [company.contact_email, *owners.values_list("user__email", flat=True)]
    seen, result = set(), []
    for email in emails:
        if email and email.lower() not in seen:
            seen.add(email.lower())
            result.append(email)
    return result


@dataclass
class Message:
    subject: str
    text: str
    html: str


def _channels(company: Company) -> list[str]:
    channels = []
    if recipients(company):
        channels.append(Notification.Channel.EMAIL)
    if company.telegram_chat_id and settings.TELEGRAM_BOT_TOKEN:
        channels.append(Notification.Channel.TELEGRAM)
    return channels


def render(template: str, context: dict) -> Message:
    """The message of ``companies/email/<template>.txt`` (first line: the subject) and ``.html``."""
    context = {"site_name": settings.SITE_NAME, "site_url": settings.SITE_URL, **context}
    text = render_to_string(f"companies/email/{template}.txt", context).strip()
    subject, _sep, body = text.partition("\n")
    return Message(subject.strip(), body.strip() + "\n", render_to_string(f"companies/email/{template}.html", context))


def create(*, company: Company, kind: str, key: str, message: Message, **links) -> bool:
    """Create the notification for *key* unless it exists; False if it did or there is no channel."""
    channels = _channels(company)
    if not channels:
        return False
    _notification, created = Notification.objects.get_or_create(
        dedupe_key=key,
        defaults={
            "company": company,
            "kind": kind,
            "subject": message.subject[:300],
            "message": message.text,
            "channels": channels,
            "metadata": {"html": message.html},
            **links,
        },
    )
    return created


def deliver(notification: Notification, *, now: datetime | None = None) -> bool:
    """Send the channels not yet sent; False if another sender holds it or nothing was due."""
    now = now or timezone.now()
    claimed = (
        Notification.objects.filter(pk=notification.pk, attempts__lt=MAX_ATTEMPTS)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + LEASE, attempts=F("attempts") + 1)
    )
    if not claimed:
        return False
    notification.refresh_from_db()
    company = notification.company
    fields = ["claimed_until"]
    for channel in notification.pending_channels():
        try:
            if channel == Notification.Channel.EMAIL:
                email = EmailMultiAlternatives(notification.subject, notification.message, to=recipients(company))
                if notification.metadata.get("html"):
                    email.attach_alternative(notification.metadata["html"], "text/html")
                email.send()
            else:
                send_telegram(company.telegram_chat_id, f"{notification.subject}\n\n{notification.message}")
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:1000]
            logger.warning("notification %s: %s failed: %s", notification.pk, channel, error)
            setattr(notification, f"{channel}_error", error)
            fields.append(f"{channel}_error")
        else:
            setattr(notification, f"{channel}_sent", True)
            setattr(notification, f"{channel}_sent_at", timezone.now())
            setattr(notification, f"{channel}_error", "")
            fields += [f"{channel}_sent", f"{channel}_sent_at", f"{channel}_error"]
    notification.claimed_until = None
    notification.is_complete = not notification.pending_channels()
    notification.save(update_fields=[*fields, "is_complete"])
    return True


def send_again(notification: Notification) -> bool:
    """Staff's "send the failed channels again": the notification gets a fresh set of attempts and
    is delivered now (False if another sender holds it)."""
    Notification.objects.filter(pk=notification.pk).update(attempts=0, claimed_until=None)
    return deliver(notification)


def deliver_pending(*, now: datetime | None = None) -> int:
    """Retry every notification with an unsent channel; returns how many were attempted.

    A notification that fails outside its channels' own error handling is logged and left for
    the next run (its lease expires, its attempts count); the others are still delivered.
    """
    done = 0
    rows = RowFailures("deliver_notifications")
    for notification in Notification.objects.filter(is_complete=False, attempts__lt=MAX_ATTEMPTS).select_related(
        "company"
    ):
        with rows.isolated(f"notification {notification.pk}"):
            if deliver(notification, now=now):
                done += 1
    return done


def in_company_language(company: Company):
    """Render inside this block for messages in the company's language."""
    return translation.override(company.language)


def queue_expiry_reminders(*, now: datetime | None = None) -> int:
    """Create the reminders due now (projects and subscriptions expiring soon), and announce
    each expiry to the company's webhooks once, under the reminder's key."""
    now = now or timezone.now()
    created = 0
    rows = RowFailures("queue_expiry_reminders")
    projects = (
        Project.objects.filter(status=Project.Status.ACTIVE, auto_renew=False, expires_at__gt=now)
        .select_related("company")
        .filter(company__is_active=True)
    )
    for project in projects:
        with rows.isolated(f"project {project.pk}"):
            if project.expires_at > now + timedelta(days=project.notify_days_before_expiry):
                continue
            with in_company_language(project.company):
                message = render(
                    "project_expiring",
                    {"project": project, "company": project.company, "days": (project.expires_at - now).days},
                )
            key = f"project_expiring:{project.pk}:{project.expires_at:%Y%m%dT%H%M%S}"
            signals.project_expiring.send(sender=Project, project=project, key=key)
            if create(
                company=project.company,
                kind=Notification.Kind.PROJECT_EXPIRING,
                key=key,
                message=message,
                project=project,
            ):
                Project.objects.filter(pk=project.pk).update(last_notification_sent_at=now)
                created += 1
    companies = Company.objects.filter(is_active=True, subscription_auto_renew=False, subscription_expires_at__gt=now)
    for company in companies:
        with rows.isolated(f"company {company.pk}"):
            if company.subscription_expires_at > now + timedelta(days=company.notify_days_before_expiry):
                continue
            with in_company_language(company):
                message = render(
                    "subscription_expiring", {"company": company, "days": (company.subscription_expires_at - now).days}
                )
            key = f"subscription_expiring:{company.pk}:{company.subscription_expires_at:%Y%m%dT%H%M%S}"
            signals.subscription_expiring.send(sender=Company, company=company, key=key)
            if create(company=company, kind=Notification.Kind.SUBSCRIPTION_EXPIRING, key=key, message=message):
                created += 1
    return created


def send_reminders(*, now: datetime | None = None) -> dict:
    return {"created": queue_expiry_reminders(now=now), "delivered": deliver_pending(now=now)}


def _renewed(expires_at: datetime, months: int, now: datetime) -> datetime:
    """*expires_at* moved forward period after period until it is past *now*, so the cycle's dates
    stay put. A period under one month would never get there: bad data, refused loudly."""
    if months < 1:
        raise ValueError(f"a subscription period of {months} months cannot renew anything")
    while expires_at <= now:
        expires_at = add_months(expires_at, months)
    return expires_at


def renew_and_expire(*, now: datetime | None = None) -> dict:
    """Auto-renew what should renew (by the company's subscription period); expire the rest.

    Each project and company is renewed in its own transaction with its row locked, so one with
    bad data (a period of 0 months, an expiry past year 9999) is logged and skipped while the
    others are renewed.
    """
    now = now or timezone.now()
    counts = {"projects_renewed": 0, "projects_expired": 0, "subscriptions_renewed": 0}
    rows = RowFailures("renew_subscriptions")
    due = Project.objects.filter(status=Project.Status.ACTIVE, expires_at__lte=now)
    for pk in list(due.values_list("pk", flat=True)):
        with rows.isolated(f"project {pk}", atomic=True):
            # Locked and checked again: another run may have renewed it since the list was read.
            project = due.select_for_update(of=("self",)).select_related("company").filter(pk=pk).first()
            if project is None:
                continue
            if project.auto_renew:
                project.expires_at = _renewed(project.expires_at, project.company.subscription_period_months, now)
                project.save(update_fields=["expires_at", "updated_at"])
                counts["projects_renewed"] += 1
            else:
                project.status = Project.Status.EXPIRED
                project.save(update_fields=["status", "updated_at"])
                counts["projects_expired"] += 1
    renewing = Company.objects.filter(subscription_auto_renew=True, subscription_expires_at__lte=now)
    for pk in list(renewing.values_list("pk", flat=True)):
        with rows.isolated(f"company {pk}", atomic=True):
            company = renewing.select_for_update().filter(pk=pk).first()
            if company is None:
                continue
            company.subscription_expires_at = _renewed(
                company.subscription_expires_at, company.subscription_period_months, now
            )
            company.save(update_fields=["subscription_expires_at", "updated_at"])
            counts["subscriptions_renewed"] += 1
    counts["failed"] = rows.count
    return counts
