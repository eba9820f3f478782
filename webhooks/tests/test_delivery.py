"""Delivering events to a real receiver on 127.0.0.1: signing, retries with back-off, at least
once and never again after a success, leases of dead workers, turning failing endpoints off.

Time moves through the services' ``now`` arguments; nothing here sleeps.
"""

import json
import random
import time
from datetime import UTC, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from companies.models import Notification
from webhooks import services, signing, tasks
from webhooks.models import Attempt, Delivery, Endpoint, Event, EventType
from webhooks.tests.receiver import Answer

pytestmark = pytest.mark.django_db


def seeded(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 - retry jitter, not cryptography


def ping(endpoint, *, now=None) -> Delivery:
    """An event delivery for *endpoint* (a test event is tried once; these are retried)."""
    event = services.emit(company=endpoint.company, event_type=EventType.PORTRAIT_READY, data={"n": 1}, now=now)
    return event.deliveries.get(endpoint=endpoint)


def test_an_event_arrives_signed_with_the_event_id_and_the_exact_body(endpoint, receiver):
    now = timezone.now()
    event = services.emit(
        company=endpoint.company, event_type=EventType.PORTRAIT_READY, data={"title": "Anna & Ivan ✓"}, now=now
    )
    delivery = event.deliveries.get()
    assert tasks.deliver(delivery.pk) == Delivery.Status.SUCCEEDED

    (request,) = receiver.requests
    assert request.path == "/hook"
    assert request.body == event.body.encode()
    body = json.loads(request.body)
    assert body == {
        "id": str(event.id),
        "type": "portrait.ready",
        "created_at": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "company": "alpha",
        "data": {"title": "Anna & Ivan ✓"},
    }
    headers = request.headers
    assert headers["webhook-id"] == str(event.id)
    assert headers["content-type"] == "application/json"
    assert headers["arv-event-type"] == "portrait.ready"
    assert headers["arv-delivery-id"] == str(delivery.public_id)
    assert headers["arv-attempt"] == "1"
    assert headers["user-agent"].startswith("ARV-Webhooks/")
    stamp = int(headers["webhook-timestamp"])
    assert abs(stamp - time.time()) < 60
    assert headers["webhook-signature"] == signing.sign(
        endpoint.secret, msg_id=str(event.id), timestamp=stamp, body=request.body
    )

    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.response_status == 200 and delivery.attempts == 1
    assert delivery.finished_at >= now and delivery.next_attempt_at is None and delivery.error == ""
    (attempt,) = delivery.attempt_log.all()
    assert attempt.succeeded and attempt.response_status == 200 and attempt.response_body == "ok"
    endpoint.refresh_from_db()
    assert endpoint.last_success_at == delivery.finished_at and endpoint.failing_since is None


def test_only_active_endpoints_that_asked_for_the_event_type_get_it(make_endpoint, receiver, tenants):
    wants = make_endpoint(receiver.url("/a"), event_types=["portrait.ready"])
    make_endpoint(receiver.url("/b"), event_types=["video.ready"])
    make_endpoint(receiver.url("/c"), event_types=["portrait.ready"], is_active=False)
    make_endpoint(receiver.url("/d"), company=tenants.b, event_types=["portrait.ready"])
    event = services.emit(company=tenants.a, event_type="portrait.ready", data={})
    assert [d.endpoint for d in event.deliveries.all()] == [wants]
    assert services.emit(company=tenants.a, event_type="project.expiring", data={}) is None
    assert Event.objects.count() == 1


def test_nobody_listening_costs_no_event_and_no_payload(tenants):
    def payload():
        raise AssertionError("the payload is built only for listeners")

    assert services.emit(company=tenants.a, event_type="portrait.ready", data=payload) is None
    assert not Event.objects.exists()


def test_a_deactivated_company_announces_nothing(endpoint, tenants):
    tenants.a.set_active(False)
    assert services.emit(company=tenants.a, event_type="portrait.ready", data={}) is None


def test_unknown_event_types_are_a_programming_error(tenants):
    with pytest.raises(ValueError, match="unknown webhook event type"):
        services.emit(company=tenants.a, event_type="portrait.exploded", data={})


def test_the_event_commits_with_its_cause_or_not_at_all(endpoint, django_capture_on_commit_callbacks):
    from django.db import transaction

    with (  # noqa: PT012 - the exception is raised by the block's last line, after the emit
        django_capture_on_commit_callbacks() as queued,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.emit(company=endpoint.company, event_type="portrait.ready", data={})
        raise RuntimeError("the state change failed")
    assert not Event.objects.exists() and not Delivery.objects.exists()
    assert queued == []


def test_deliveries_are_queued_when_the_transaction_commits(endpoint, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, *args, **kw: sent.append((func, args)))
    with django_capture_on_commit_callbacks(execute=True):
        event = services.emit(company=endpoint.company, event_type="portrait.ready", data={})
        assert sent == []
    assert sent == [("webhooks.tasks.deliver", (event.deliveries.get().pk,))]


def test_a_500_is_retried_with_growing_waits_until_it_succeeds(endpoint, receiver):
    receiver.answer(Answer(500, b"database down"), Answer(503, b"x" * 10_000), Answer(200))
    now = timezone.now()
    delivery = ping(endpoint, now=now)
    rng = seeded(7)

    assert services.attempt_delivery(delivery_id=delivery.pk, now=now, rng=rng) == "pending"
    delivery.refresh_from_db()
    first_wait = delivery.next_attempt_at - now
    assert timedelta(seconds=51) <= first_wait <= timedelta(seconds=69)
    assert delivery.response_status == 500 and delivery.error == "HTTP 500 Internal Server Error"
    # Not due yet: a second worker (or the sweeper's task) finds nothing to do.
    assert services.attempt_delivery(delivery_id=delivery.pk, now=now + timedelta(seconds=30)) is None

    later = delivery.next_attempt_at
    assert services.attempt_delivery(delivery_id=delivery.pk, now=later, rng=rng) == "pending"
    delivery.refresh_from_db()
    assert timedelta(seconds=153) <= delivery.next_attempt_at - later <= timedelta(seconds=207)

    last = delivery.next_attempt_at
    assert services.attempt_delivery(delivery_id=delivery.pk, now=last, rng=rng) == "succeeded"
    attempts = list(Attempt.objects.filter(delivery=delivery).values_list("number", "response_status", "succeeded"))
    assert attempts == [(1, 500, False), (2, 503, False), (3, 200, True)]
    long = Attempt.objects.get(delivery=delivery, number=2)
    assert len(long.response_body) == services.RESPONSE_BODY_LIMIT and long.response_truncated
    assert [r.headers["webhook-id"] for r in receiver.requests] == [str(delivery.event_id)] * 3
    assert [r.headers["arv-attempt"] for r in receiver.requests] == ["1", "2", "3"]
    assert len({r.body for r in receiver.requests}) == 1


def test_a_receiver_that_does_not_answer_in_time_is_retried(endpoint, receiver, fast_timeouts):
    receiver.answer(Answer(hold=True))
    now = timezone.now()
    delivery = ping(endpoint, now=now)
    assert services.attempt_delivery(delivery_id=delivery.pk, now=now) == "pending"
    delivery.refresh_from_db()
    assert delivery.error.startswith("Timed out") and delivery.response_status is None
    assert services.attempt_delivery(delivery_id=delivery.pk, now=delivery.next_attempt_at) == "succeeded"
    assert len(receiver.requests) == 2


def test_nothing_is_sent_again_after_a_success(endpoint, receiver):
    now = timezone.now()
    delivery = ping(endpoint, now=now)
    assert services.attempt_delivery(delivery_id=delivery.pk, now=now) == "succeeded"
    # A duplicate task, a late sweeper, a day later: nothing is claimed, nothing is sent.
    for later in (now, now + timedelta(minutes=5), now + timedelta(days=1)):
        assert services.attempt_delivery(delivery_id=delivery.pk, now=later) is None
        assert services.sweep(now=later)["queued"] == 0
    assert len(receiver.requests) == 1


def test_two_workers_racing_for_one_delivery_send_it_once(endpoint, receiver):
    now = timezone.now()
    delivery = ping(endpoint, now=now)
    token = services.claim(delivery.pk, now)
    assert token is not None
    assert services.claim(delivery.pk, now) is None
    assert services.attempt_delivery(delivery_id=delivery.pk, now=now) is None
    assert receiver.requests == []


def test_retries_stop_after_about_a_day(endpoint, receiver):
    receiver.default = Answer(500)
    start = timezone.now()
    delivery = ping(endpoint, now=start)
    now, statuses = start, []
    for _ in range(services.MAX_ATTEMPTS):
        statuses.append(services.attempt_delivery(delivery_id=delivery.pk, now=now, rng=seeded(1)))
        delivery.refresh_from_db()
        now = delivery.next_attempt_at or now
    assert statuses == ["pending"] * (services.MAX_ATTEMPTS - 1) + ["failed"]
    assert delivery.finished_at - start > timedelta(hours=20)
    assert delivery.finished_at - start < timedelta(hours=29)
    assert len(receiver.requests) == services.MAX_ATTEMPTS
    assert services.attempt_delivery(delivery_id=delivery.pk, now=now + timedelta(days=1)) is None


@pytest.mark.parametrize("attempts", range(1, 12))
def test_retry_waits_grow_by_three_with_bounded_jitter(attempts):
    base = min(60 * 3 ** (attempts - 1), 6 * 3600)
    for seed in range(20):
        wait = services.retry_delay(attempts, rng=seeded(seed)).total_seconds()
        assert base * 0.85 <= wait <= base * 1.15


def test_the_schedule_adds_up_to_about_a_day():
    total = sum(60 * min(3 ** (n - 1), 360) for n in range(1, services.MAX_ATTEMPTS))
    assert 23 * 3600 < total < 25 * 3600


def test_a_test_event_is_tried_once(endpoint, receiver):
    receiver.answer(Answer(500))
    delivery = services.send_test_event(endpoint=endpoint)
    assert delivery.trigger == "test" and delivery.event.type == "ping"
    assert services.attempt_delivery(delivery_id=delivery.pk) == "failed"
    body = json.loads(receiver.requests[0].body)
    assert body["type"] == "ping" and body["data"]["endpoint"]["id"] == str(endpoint.public_id)
    # One click, one test at a time.
    again = services.send_test_event(endpoint=endpoint)
    with pytest.raises(services.Refused):
        services.send_test_event(endpoint=endpoint)
    assert services.attempt_delivery(delivery_id=again.pk) == "succeeded"


def test_redelivery_sends_the_same_event_again_as_a_new_log_entry(endpoint, receiver):
    now = timezone.now()
    first = ping(endpoint, now=now)
    services.attempt_delivery(delivery_id=first.pk, now=now)
    again = services.redeliver(delivery=first, now=now)
    assert again.pk != first.pk and again.event_id == first.event_id and again.trigger == "redelivery"
    with pytest.raises(services.Refused, match="still on its way"):
        services.redeliver(delivery=first, now=now)
    assert services.attempt_delivery(delivery_id=again.pk, now=now) == "succeeded"
    assert receiver.requests[0].body == receiver.requests[1].body
    assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]


def test_redirects_are_not_followed(endpoint, receiver):
    receiver.answer(Answer(302, headers={"Location": "http://127.0.0.1:1/elsewhere"}))
    delivery = ping(endpoint)
    assert services.attempt_delivery(delivery_id=delivery.pk) == "pending"
    delivery.refresh_from_db()
    assert delivery.response_status == 302
    assert delivery.error == "Redirect (302) to http://127.0.0.1:1/elsewhere not followed: use the final URL."
    assert len(receiver.requests) == 1


def test_a_refused_connection_is_a_failed_attempt(endpoint, receiver):
    receiver.close()
    delivery = ping(endpoint)
    assert services.attempt_delivery(delivery_id=delivery.pk) == "pending"
    delivery.refresh_from_db()
    assert delivery.error == "Connection refused"
    assert delivery.attempt_log.get().error == "Connection refused"


def test_a_killed_worker_loses_nothing_and_sends_nothing_twice_after_success(endpoint, receiver):
    now = timezone.now()
    delivery = ping(endpoint, now=now)
    # A worker claims the delivery and dies before recording anything.
    assert services.claim(delivery.pk, now) is not None
    delivery.refresh_from_db()
    assert delivery.status == "delivering"
    assert services.sweep(now=now + timedelta(minutes=1))["recovered"] == 0  # still within its lease
    after_lease = now + services.lease() + timedelta(seconds=1)
    counts = services.sweep(now=after_lease)
    assert counts["recovered"] == 1
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.next_attempt_at == after_lease
    assert services.attempt_delivery(delivery_id=delivery.pk, now=after_lease) == "succeeded"
    assert [r.headers["arv-attempt"] for r in receiver.requests] == ["2"]
    # Nothing is sent again however often the sweeper runs.
    for later in (after_lease + timedelta(minutes=10), after_lease + timedelta(days=2)):
        services.sweep(now=later)
        assert services.attempt_delivery(delivery_id=delivery.pk, now=later) is None
    assert len(receiver.requests) == 1


def test_a_worker_that_lost_its_lease_cannot_overwrite_the_new_holder(endpoint, receiver):
    now = timezone.now()
    delivery = ping(endpoint, now=now)
    old_token = services.claim(delivery.pk, now)
    services.sweep(now=now + services.lease() + timedelta(seconds=1))
    assert services.attempt_delivery(delivery_id=delivery.pk, now=now + services.lease() + timedelta(seconds=2))
    delivery.refresh_from_db()
    # The presumed-dead worker finally records a failure: it no longer holds the delivery.
    assert services._record(delivery, old_token, None, "late", duration_ms=1, now=now, rng=None) is None
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.error == ""


def test_the_sweeper_queues_due_retries_once_and_again_if_the_task_was_lost(endpoint, receiver, settings, monkeypatch):
    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, pk, **kw: queued.append(pk))
    receiver.answer(Answer(500))
    now = timezone.now()
    delivery = ping(endpoint, now=now)
    services.attempt_delivery(delivery_id=delivery.pk, now=now)
    delivery.refresh_from_db()
    due = delivery.next_attempt_at
    assert services.sweep(now=due - timedelta(seconds=1))["queued"] == 0
    assert services.sweep(now=due)["queued"] == 1
    assert services.sweep(now=due + timedelta(seconds=30))["queued"] == 0  # its task is on its way
    lost = due + timedelta(seconds=settings.JOB_LOST_AFTER_SECONDS + 1)
    assert services.sweep(now=lost)["queued"] == 1
    assert queued == [delivery.pk, delivery.pk]


def test_a_broker_outage_leaves_the_delivery_for_the_sweeper(endpoint, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr("django_q.tasks.async_task", down)
    delivery = ping(endpoint)
    services.enqueue(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.enqueued_at is None and delivery.status == "pending"


def test_one_bad_row_does_not_stop_the_sweeper(endpoint, receiver, make_endpoint, monkeypatch):
    other = make_endpoint(receiver.url("/other"))
    now = timezone.now()
    first, second = ping(endpoint, now=now), Delivery.objects.get(endpoint=other)
    Delivery.objects.update(enqueued_at=None)
    queued = []

    def flaky(func, pk, **kwargs):
        if pk == first.pk:
            raise RuntimeError("this row's task cannot be queued")
        queued.append(pk)

    monkeypatch.setattr("django_q.tasks.async_task", flaky)
    monkeypatch.setattr(services, "enqueue", lambda pk: flaky(None, pk))
    counts = services.sweep(now=now)
    assert counts["errors"] == 1 and counts["queued"] == 1 and queued == [second.pk]


def test_the_log_is_pruned_after_its_retention(endpoint, receiver, settings):
    settings.WEBHOOK_LOG_RETENTION_DAYS = 30
    now = timezone.now()
    delivery = ping(endpoint, now=now)
    services.attempt_delivery(delivery_id=delivery.pk, now=now)
    assert services.sweep(now=now + timedelta(days=29))["pruned"] == 0
    assert services.sweep(now=now + timedelta(days=31))["pruned"] == 1
    assert not Delivery.objects.exists() and not Attempt.objects.exists() and not Event.objects.exists()


def test_an_endpoint_failing_for_three_days_is_turned_off_and_the_owner_told_once(
    endpoint, receiver, tenants, django_capture_on_commit_callbacks
):
    receiver.default = Answer(500)
    start = timezone.now()
    first = ping(endpoint, now=start)
    services.attempt_delivery(delivery_id=first.pk, now=start)
    endpoint.refresh_from_db()
    assert endpoint.failing_since == start and endpoint.is_active

    day2 = start + timedelta(days=2)
    services.attempt_delivery(delivery_id=ping(endpoint, now=day2).pk, now=day2)
    endpoint.refresh_from_db()
    assert endpoint.is_active and mail.outbox == []

    waiting = ping(endpoint, now=day2)  # still has retries to come
    day3 = start + timedelta(days=3, minutes=1)
    with django_capture_on_commit_callbacks(execute=True):
        services.attempt_delivery(delivery_id=ping(endpoint, now=day3).pk, now=day3)
    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.disabled_reason == "failing" and endpoint.disabled_at == day3
    waiting.refresh_from_db()
    assert waiting.status == "failed" and "turned off" in waiting.error

    (message,) = mail.outbox
    assert message.subject == "Webhook endpoint of Alpha Studio turned off"
    assert endpoint.url in message.body and endpoint.get_absolute_url() in message.body
    assert sorted(message.to) == ["alice@example.com", "alpha@example.com"]
    notification = Notification.objects.get(kind="webhook_turned_off")
    assert notification.email_sent and notification.company == tenants.a

    # Off: new events no longer go there, and the owners are not told again.
    assert services.emit(company=tenants.a, event_type="portrait.ready", data={}) is None
    failing_test = services.send_test_event(endpoint=endpoint, now=day3)
    with django_capture_on_commit_callbacks(execute=True):
        services.attempt_delivery(delivery_id=failing_test.pk, now=day3 + timedelta(days=1))
    assert len(mail.outbox) == 1

    # On again: a fresh start, the three days count from the next failure.
    services.set_endpoint_active(endpoint=endpoint, active=True)
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.failing_since is None and endpoint.disabled_reason == ""


def test_a_success_in_between_restarts_the_three_days(endpoint, receiver):
    start = timezone.now()
    receiver.answer(Answer(500), Answer(200), Answer(500))
    services.attempt_delivery(delivery_id=ping(endpoint, now=start).pk, now=start)
    services.attempt_delivery(delivery_id=ping(endpoint, now=start).pk, now=start + timedelta(days=2))
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None
    day4 = start + timedelta(days=4)
    services.attempt_delivery(delivery_id=ping(endpoint, now=day4).pk, now=day4)
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.failing_since == day4


def test_an_event_for_an_endpoint_turned_off_meanwhile_is_not_sent(endpoint, receiver):
    delivery = ping(endpoint)
    services.set_endpoint_active(endpoint=endpoint, active=False)
    assert services.attempt_delivery(delivery_id=delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert delivery.error == "The endpoint is turned off: not sent." and receiver.requests == []
    # A person's redelivery still goes.
    assert services.attempt_delivery(delivery_id=services.redeliver(delivery=delivery).pk) == "succeeded"


def test_endpoints_are_counted_per_company(make_endpoint, receiver, tenants):
    for i in range(services.MAX_ENDPOINTS_PER_COMPANY):
        make_endpoint(receiver.url(f"/{i}"))
    with pytest.raises(Exception, match="at most 20 webhook endpoints"):
        make_endpoint(receiver.url("/one-more"))
    make_endpoint(receiver.url("/b"), company=tenants.b)
    assert Endpoint.objects.filter(company=tenants.a).count() == 20


def test_the_sweeper_runs_every_minute_and_by_hand(endpoint, receiver, monkeypatch):
    from io import StringIO

    from django.core.management import call_command
    from django_q.models import Schedule

    call_command("setup_schedules", stdout=StringIO())
    schedule = Schedule.objects.get(name="arv: sweep webhooks")
    assert schedule.func == "webhooks.tasks.sweep" and schedule.minutes == 1
    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, pk, **kw: queued.append(pk))
    delivery = ping(endpoint)
    Delivery.objects.filter(pk=delivery.pk).update(enqueued_at=None)
    out = StringIO()
    call_command("sweep_webhooks", stdout=out)
    assert "queued: 1" in out.getvalue() and queued == [delivery.pk]
