"""Staff may do in the back office only what their permissions allow (issue 16, item 3).

Every action of every registered ModelAdmin, and every custom admin URL, is found by walking the
admin itself (``admin.site._registry``, ``get_actions``, ``get_urls``), not from a hand-written
list, so a new action or view is covered the day it is added:

- each action declares the permission it needs (``allowed_permissions``);
- a staff user holding only ``view_*`` permissions runs none of them: the database and the task
  queue are unchanged; the same request by a superuser does change something, which shows the
  request really reaches the action;
- each custom admin URL answers a staff user without permissions 403, and changes nothing for a
  view-only one.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.sessions.models import Session
from django.test import Client, RequestFactory
from django.urls import URLPattern, reverse
from django.utils import timezone

User = get_user_model()


def _superuser_request():
    request = RequestFactory().get("/")
    request.user = User(username="walker", is_superuser=True, is_staff=True, is_active=True)
    return request


def registered_actions() -> list[tuple[str, str]]:
    """(model label, action name) of every action a superuser is offered, on every ModelAdmin."""
    request = _superuser_request()
    return sorted(
        (model._meta.label, name)
        for model, model_admin in admin.site._registry.items()
        for name in model_admin.get_actions(request)
    )


def custom_urls() -> list[tuple[str, URLPattern, type | None]]:
    """(URL name, pattern, model) of each URL the admin adds to Django's standard ones."""
    site = admin.site
    standard = {p.name for p in admin.AdminSite.get_urls(site) if isinstance(p, URLPattern)}
    found = [(p.name, p, None) for p in site.get_urls() if isinstance(p, URLPattern) and p.name not in standard]
    for model, model_admin in site._registry.items():
        standard = {p.name for p in admin.ModelAdmin.get_urls(model_admin)}
        found += [(p.name, p, model) for p in model_admin.get_urls() if p.name not in standard]
    return sorted(found, key=lambda item: item[0])


ACTIONS = registered_actions()
CUSTOM_URLS = custom_urls()


def test_the_walk_finds_the_actions_and_views_we_know_of():
    """A guard on the walk itself: if it found nothing, every test below would pass vacuously."""
    assert {
        ("companies.Company", "extend_subscription"),
        ("companies.Company", "move_storage"),
        ("companies.StorageConnection", "test_connection"),
        ("markers.Job", "retry"),
        ("django_q.Failure", "resubmit"),
        ("auth.User", "delete_selected"),
    } <= set(ACTIONS)
    assert {"markers_job_inspect", "analytics", "analytics_csv", "auth_user_password_change"} <= {
        name for name, _pattern, _model in CUSTOM_URLS
    }


@pytest.mark.parametrize(("label", "action"), ACTIONS)
def test_every_action_declares_the_permission_it_needs(label, action):
    model_admin = admin.site._registry[apps.get_model(label)]
    func = model_admin.get_actions(_superuser_request())[action][0]
    permissions = getattr(func, "allowed_permissions", None)
    assert permissions, f"{label} action {action!r} has no allowed_permissions"
    for permission in permissions:
        assert callable(getattr(model_admin, f"has_{permission}_permission", None)), (label, action, permission)


# --- The world every action and view is tried on -------------------------------------------------------


@pytest.fixture
def world(tenants, ready_portrait, tmp_path, settings, dns_server):
    """At least one row of every model the admin shows (checked), in states the actions act on."""
    from django_q.models import Failure, OrmQ, Schedule, Success

    from companies.models import (
        ApiToken,
        Invitation,
        Notification,
        PendingUpload,
        StorageConnection,
        StorageMove,
    )
    from content.models import VideoEvent
    from markers.models import Job
    from viewer.models import ViewSession, ViewSessionDaily

    now = timezone.now()
    portrait = ready_portrait
    moving_to = StorageConnection.objects.create(name="Move target", base_path="target")
    StorageMove.objects.create(company=tenants.a, source=StorageConnection.get_default(), target=moving_to)
    # The newest connection (the one actions get) is used by nothing, so it can be deleted too.
    StorageConnection.objects.create(name="Spare disk", base_path="spare")
    Notification.objects.create(
        company=tenants.a,
        kind=Notification.Kind.SUBSCRIPTION_EXPIRING,
        dedupe_key="walk",
        subject="Expiring",
        message="Soon",
        channels=["email"],
        attempts=3,
    )
    Invitation.objects.create(
        company=tenants.a, email="someone@example.com", role="owner", expires_at=now + timedelta(days=3)
    )
    ApiToken.issue(tenants.owner)
    VideoEvent.objects.create(portrait=portrait, video=portrait.videos.get(), action=VideoEvent.Action.ADDED)
    PendingUpload.objects.create(company=tenants.a, names=["x/y.jpg"], reserved_bytes=10)
    Job.objects.create(portrait=portrait, kind="preview", status="failed", error="boom", finished_at=now)
    ViewSession.objects.create(session_id=uuid.uuid4(), company=tenants.a, project=tenants.project_a, portrait=portrait)
    ViewSessionDaily.objects.create(
        day=now.date(), company=tenants.a, project=tenants.project_a, portrait=portrait, device_type="phone"
    )
    from django.contrib.auth.models import Group

    Group.objects.create(name="Support")
    Schedule.objects.create(func="math.floor", args="1", schedule_type=Schedule.DAILY, name="walk")
    for success in (True, False):
        (Success if success else Failure).objects.create(
            id=uuid.uuid4().hex,
            name=f"task-{success}",
            func="math.floor",
            args=(1,),
            kwargs={},
            started=now,
            stopped=now,
            success=success,
        )
    from arv.testing.domains import give_domain
    from content.tests import batch_data, batch_flow

    # A claimed domain, for "check viewer domains" to look up (on the test's own DNS server).
    give_domain(tenants.b, "ar.beta.test", verified=False)  # the newest: actions get it
    from webhooks import services as webhooks

    batch_flow.check(batch_flow.start(tenants, batch_data.zip_bytes(batch_data.pairs(tmp_path, 1))))
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True  # the endpoint is never called here
    endpoint, _secret = webhooks.create_endpoint(
        company=tenants.a, url="http://127.0.0.1:9/hook", event_types=["portrait.ready"]
    )
    # Tried once and failed (nothing listens on the discard port): one a redelivery can send again.
    webhooks.attempt_delivery(delivery_id=webhooks.send_test_event(endpoint=endpoint).pk)
    if admin.site.is_registered(OrmQ):
        OrmQ.objects.create(key="walk", payload="x", lock=now)
    for model, model_admin in admin.site._registry.items():
        assert model_admin.get_queryset(_superuser_request()).exists(), f"no {model._meta.label} row to act on"
    return tenants


@pytest.fixture
def view_only_staff(make_user):
    user = make_user("viewonly", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    return user


@pytest.fixture
def bare_staff(make_user):
    return make_user("barestaff", is_staff=True)


def state() -> tuple:
    """Every row of every table (sessions aside: logging in writes them), and the task queue."""
    from django_q.brokers import get_broker

    rows = {}
    for model in apps.get_models():
        if model._meta.proxy or model is Session:
            continue
        rows[model._meta.label] = list(model._base_manager.order_by("pk").values())
    return rows, get_broker().queue_size()


def run_action(client, user, label: str, action: str):
    model = apps.get_model(label)
    model_admin = admin.site._registry[model]
    target = model_admin.get_queryset(_superuser_request()).exclude(pk=user.pk if model is User else None)
    obj = target.order_by("-pk").first()
    from companies.models import StorageConnection

    spare = StorageConnection.objects.get(name="Spare disk")
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    # Everything an intermediate page asks for, so that a permitted action runs to its end.
    data = {
        "action": action,
        "_selected_action": [str(obj.pk)],
        "index": "0",
        "apply": "1",
        "post": "yes",
        "months": "120",
        "target": str(spare.pk),
    }
    return client.post(url, data)


@pytest.mark.django_db
@pytest.mark.parametrize(("label", "action"), ACTIONS)
def test_a_view_only_staff_user_runs_no_action(world, view_only_staff, label, action):
    client = Client()
    client.force_login(view_only_staff)
    before = state()
    response = run_action(client, view_only_staff, label, action)
    assert response.status_code in (200, 302, 403), response.status_code
    assert state() == before, f"{label} {action} changed something for a view-only user"


@pytest.mark.django_db
@pytest.mark.parametrize(("label", "action"), ACTIONS)
def test_the_same_request_by_a_superuser_runs_the_action(world, admin_user, label, action):
    """The control: the requests above do reach each action when the permission is there."""
    client = Client()
    client.force_login(admin_user)
    before = state()
    response = run_action(client, admin_user, label, action)
    assert response.status_code == 302, (label, action, response.status_code)
    assert state() != before, f"{label} {action} changed nothing even for a superuser"


# --- Custom admin views ----------------------------------------------------------------------------------


def custom_url(pattern: URLPattern, name: str, model) -> str:
    """The URL of *pattern* for an existing object of *model* (the first row)."""
    kwargs = {}
    for param in pattern.pattern.converters:
        obj = model._default_manager.order_by("pk").first()
        kwargs[param] = obj.pk
    return reverse(f"admin:{name}", kwargs=kwargs)


POST_DATA = {"password1": "Zx81!longpass", "password2": "Zx81!longpass", "usable_password": "true", "company": "1"}


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "pattern", "model"), CUSTOM_URLS, ids=[n for n, _p, _m in CUSTOM_URLS])
def test_custom_admin_views_refuse_staff_without_the_permission(world, bare_staff, name, pattern, model):
    client = Client()
    client.force_login(bare_staff)
    url = custom_url(pattern, name, model)
    before = state()
    assert client.get(url).status_code == 403, url
    assert client.post(url, POST_DATA).status_code in (403, 405), url
    assert state() == before


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "pattern", "model"), CUSTOM_URLS, ids=[n for n, _p, _m in CUSTOM_URLS])
def test_custom_admin_views_change_nothing_for_view_only_staff(world, view_only_staff, name, pattern, model):
    client = Client()
    client.force_login(view_only_staff)
    url = custom_url(pattern, name, model)
    before = state()
    assert client.get(url).status_code in (200, 403), url
    assert client.post(url, POST_DATA).status_code in (200, 302, 403, 405), url
    assert state() == before
