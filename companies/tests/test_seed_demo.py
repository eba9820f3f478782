"""`seed_demo` (run by `make run`): demo data, and logins with random passwords printed once."""

import re
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command

from companies.models import Company, Membership, Project

User = get_user_model()


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def printed_passwords(output: str) -> dict[str, str]:
    return dict(re.findall(r"\b(admin|demo) / (\S+)", output))


@pytest.fixture
def no_demo_photo(monkeypatch):
    """The logins alone: the first test covers the demo photo (ffmpeg, markers)."""
    from types import SimpleNamespace

    from arv.management.commands.seed_demo import Command

    monkeypatch.setattr(Command, "demo_portrait", lambda self, **kw: SimpleNamespace(public_url="-"))


@pytest.mark.django_db
def test_seed_demo_prints_working_random_logins_once_and_is_idempotent():
    first = seed()
    passwords = printed_passwords(first)
    assert set(passwords) == {"admin", "demo"}
    admin, demo = User.objects.get(username="admin"), User.objects.get(username="demo")
    assert admin.is_staff and admin.is_superuser and admin.check_password(passwords["admin"])
    assert demo.check_password(passwords["demo"])
    # Never the passwords earlier versions printed in the README, and long enough not to guess.
    assert not admin.check_password("admin-demo-pass") and not demo.check_password("demo-pass")
    assert all(len(p) >= 16 for p in passwords.values()) and passwords["admin"] != passwords["demo"]
    assert "shown only this once" in first

    second = seed()
    assert printed_passwords(second) == {}  # stored nowhere, so not shown again
    assert "changepassword admin" in second and "changepassword demo" in second
    admin.refresh_from_db()
    assert admin.check_password(passwords["admin"])
    assert User.objects.filter(username="admin").count() == 1

    company = Company.objects.get(slug="demo-studio")
    assert Company.objects.count() == 1
    assert Project.objects.filter(company=company).count() == 1
    assert Membership.objects.get(user=demo, company=company).role == Membership.Role.OWNER
    # One demo living photo, uploaded through the real services, its jobs queued for the worker.
    from content.models import Portrait
    from markers.models import Job

    portrait = Portrait.objects.get(project__company=company)
    assert portrait.videos.count() == 1 and portrait.image_width == 1000
    assert set(Job.objects.filter(portrait=portrait).values_list("kind", flat=True)) == {
        "mindar",
        "nft",
        "preview",
        "video",
    }
    assert (first + second).count("Demo photo uploaded") == 1

    # The plain password is in no table (only its hash is kept).
    for model in apps.get_models():
        for row in model._base_manager.values_list():
            assert not any(p in str(value) for value in row for p in passwords.values()), model


@pytest.mark.django_db
def test_each_instance_gets_its_own_passwords(no_demo_photo):
    first = printed_passwords(seed())
    User.objects.filter(username__in=["admin", "demo"]).delete()
    second = printed_passwords(seed())
    assert first["admin"] != second["admin"] and first["demo"] != second["demo"]


@pytest.mark.django_db
def test_an_instance_seeded_by_an_earlier_version_loses_the_well_known_passwords(no_demo_photo):
    User.objects.create_superuser("admin", "admin@example.com", "admin-demo-pass")
    User.objects.create_user("demo", "demo@example.com", "demo-pass")
    output = seed()
    assert "old demo password" in output
    passwords = printed_passwords(output)
    for username, old in [("admin", "admin-demo-pass"), ("demo", "demo-pass")]:
        user = User.objects.get(username=username)
        assert not user.check_password(old) and user.check_password(passwords[username])


@pytest.mark.django_db
def test_seed_demo_keeps_a_changed_password(no_demo_photo):
    seed()
    demo = User.objects.get(username="demo")
    demo.set_password("changed-by-the-user")
    demo.save()
    assert "demo /" not in seed()
    demo.refresh_from_db()
    assert demo.check_password("changed-by-the-user")


@pytest.mark.django_db
def test_welcome_names_the_served_address_and_the_logins_but_no_password(make_user):
    from django.core.management.base import CommandError

    out = StringIO()
    call_command("welcome", url="http://127.0.0.1:8800", stdout=out)
    assert "http://127.0.0.1:8800/portal/" in out.getvalue()
    assert "no demo login: run manage.py seed_demo" in out.getvalue()

    demo = make_user("demo")
    demo.set_password("a-demo-password")
    demo.save()
    admin = make_user("admin", is_staff=True)
    admin.set_password("a-password-of-my-own")
    admin.save()
    out = StringIO()
    call_command("welcome", url="http://127.0.0.1:8800", stdout=out)
    text = out.getvalue()
    assert "http://127.0.0.1:8800/admin/" in text and "http://127.0.0.1:8800/api/docs/" in text
    assert "demo (password shown when it was made" in text and "changepassword admin" in text
    assert "a-demo-password" not in text and "a-password-of-my-own" not in text

    # Nobody listening: it says so after the timeout instead of waiting for ever.
    from arv.testing.processes import free_port

    with pytest.raises(CommandError, match="No answer at"):
        call_command("welcome", url=f"http://127.0.0.1:{free_port()}", wait=True, timeout=1, stdout=StringIO())
