"""Expiry reminders and monthly reports by e-mail and Telegram (a real local HTTP server)."""

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from companies import notifications
from companies.models import Notification, Project


@pytest.fixture
def expiring(tenants):
    tenants.a.telegram_chat_id = "-100200300"
    tenants.a.save()
    project = tenants.project_a
    project.expires_at = timezone.now() + timedelta(days=5, hours=1)
    project.notify_days_before_expiry = 7
    project.save()
    return project


@pytest.mark.django_db
def test_a_reminder_goes_by_email_and_telegram_once(expiring, telegram, tenants):
    counts = notifications.send_reminders()
    assert counts == {"created": 1, "delivered": 1}
    (message,) = mail.outbox
    assert sorted(message.to) == ["alice@example.com", "alpha@example.com"]
    assert "Weddings" in message.subject and "expires soon" in message.subject
    assert "in 5 days" in message.body and "/portal/projects/weddings/" in message.body
    assert "Weddings" in message.alternatives[0][0]
    (call,) = telegram.requests
    assert call["path"] == "/bot123456:TEST-TOKEN/sendMessage"
    assert call["body"]["chat_id"] == "-100200300" and "Weddings" in call["body"]["text"]
    notification = Notification.objects.get()
    assert notification.email_sent and notification.telegram_sent and notification.is_complete
    assert notification.project == expiring
    expiring.refresh_from_db()
    assert expiring.last_notification_sent_at is not None
    # The second run sends nothing.
    assert notifications.send_reminders() == {"created": 0, "delivered": 0}
    assert len(mail.outbox) == 1 and len(telegram.requests) == 1


@pytest.mark.django_db
def test_a_failed_channel_is_recorded_and_retried_alone(expiring, telegram):
    telegram.fail_next = 1
    notifications.send_reminders()
    notification = Notification.objects.get()
    assert notification.email_sent and not notification.telegram_sent and not notification.is_complete
    assert "HTTP 502 Bad Gateway" in notification.telegram_error
    assert "TEST-TOKEN" not in notification.telegram_error
    notifications.send_reminders()
    notification.refresh_from_db()
    assert notification.telegram_sent and notification.telegram_error == "" and notification.is_complete
    assert len(mail.outbox) == 1  # e-mail was not sent twice
    assert len(telegram.requests) == 2


@pytest.mark.django_db
def test_gives_up_after_max_attempts(expiring, telegram):
    telegram.fail_next = 100
    for _ in range(notifications.MAX_ATTEMPTS + 3):
        notifications.send_reminders()
    assert len(telegram.requests) == notifications.MAX_ATTEMPTS
    assert Notification.objects.get().attempts == notifications.MAX_ATTEMPTS


@pytest.mark.django_db
def test_staff_send_a_notification_that_gave_up_again_from_the_back_office(
    expiring, telegram, client, django_user_model
):
    telegram.fail_next = notifications.MAX_ATTEMPTS
    for _ in range(notifications.MAX_ATTEMPTS):
        notifications.send_reminders()
    notification = Notification.objects.get()
    assert not notification.telegram_sent and notification.attempts == notifications.MAX_ATTEMPTS
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    response = client.post(
        reverse("admin:companies_notification_changelist"),
        {"action": "send_again", "_selected_action": [notification.pk]},
    )
    assert response.status_code == 302
    notification.refresh_from_db()
    assert notification.telegram_sent and notification.is_complete and notification.attempts == 1
    assert len(mail.outbox) == 1  # the e-mail had gone the first time: not sent twice


@pytest.mark.django_db
def test_concurrent_senders_never_send_a_channel_twice(expiring, telegram):
    notifications.queue_expiry_reminders()
    notification = Notification.objects.get()
    # A second sender arrives while the first holds the lease.
    Notification.objects.filter(pk=notification.pk).update(claimed_until=timezone.now() + timedelta(minutes=1))
    assert notifications.deliver(notification) is False
    assert mail.outbox == [] and telegram.requests == []
    # The lease expires (a crashed sender): the next run delivers.
    Notification.objects.filter(pk=notification.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert notifications.deliver(notification) is True
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_two_jobs_at_once_create_one_notification(expiring, telegram):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers; the unique key is what is tested on PostgreSQL")

    def run(_):
        try:
            return notifications.queue_expiry_reminders()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(run, range(4)))
    assert Notification.objects.count() == 1


@pytest.mark.django_db
def test_no_reminder_outside_the_window_or_for_auto_renewing_projects(tenants):
    project = tenants.project_a
    project.expires_at = timezone.now() + timedelta(days=30)
    project.save()
    assert notifications.queue_expiry_reminders() == 0
    project.expires_at = timezone.now() + timedelta(days=2)
    project.auto_renew = True
    project.save()
    assert notifications.queue_expiry_reminders() == 0


@pytest.mark.django_db
def test_an_extended_project_gets_a_new_reminder_later(expiring):
    notifications.send_reminders()
    expiring.expires_at += timedelta(days=1)
    expiring.save()
    assert notifications.send_reminders()["created"] == 1
    assert Notification.objects.count() == 2


@pytest.mark.django_db
def test_subscription_reminder_in_the_companys_language(tenants):
    tenants.a.subscription_expires_at = timezone.now() + timedelta(days=3, hours=2)
    tenants.a.language = "ru"
    tenants.a.save()
    notifications.send_reminders()
    (message,) = mail.outbox
    assert "подписка" in message.body.lower() or "подписк" in message.subject.lower()


@pytest.mark.django_db
def test_renewal_and_expiry(tenants):
    now = timezone.now()
    renewing = Project.objects.create(
        company=tenants.a, name="R", slug="r", auto_renew=True, expires_at=now - timedelta(days=3)
    )
    lapsing = Project.objects.create(company=tenants.a, name="L", slug="l", expires_at=now - timedelta(minutes=1))
    tenants.a.subscription_auto_renew = True
    tenants.a.subscription_period_months = 1
    tenants.a.subscription_expires_at = now - timedelta(days=1)
    tenants.a.save()
    counts = notifications.renew_and_expire()
    assert counts == {"projects_renewed": 1, "projects_expired": 1, "subscriptions_renewed": 1, "failed": 0}
    renewing.refresh_from_db()
    lapsing.refresh_from_db()
    tenants.a.refresh_from_db()
    assert renewing.expires_at > now and renewing.status == "active"
    # Renewed from the old date by the company's period (one month here), not from today.
    assert (renewing.expires_at - (now - timedelta(days=3))).days in range(28, 32)
    assert lapsing.status == "expired"
    assert tenants.a.subscription_expires_at > now
    assert notifications.renew_and_expire() == {
        "projects_renewed": 0,
        "projects_expired": 0,
        "subscriptions_renewed": 0,
        "failed": 0,
    }
