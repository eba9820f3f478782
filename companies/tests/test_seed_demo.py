from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from companies.models import Company, Membership, Project


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_prints_the_logins():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=out)
    User = get_user_model()
    assert User.objects.filter(username="admin", is_staff=True, is_superuser=True).count() == 1
    demo = User.objects.get(username="demo")
    assert demo.check_password("demo-pass")
    assert User.objects.get(username="admin").check_password("admin-demo-pass")
    company = Company.objects.get(slug="demo-studio")
    assert Company.objects.count() == 1
    assert Project.objects.filter(company=company).count() == 1
    assert Membership.objects.get(user=demo, company=company).role == Membership.Role.OWNER
    assert out.getvalue().count("admin / admin-demo-pass") == 2
    assert "demo / demo-pass" in out.getvalue()
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
    assert out.getvalue().count("Demo photo uploaded") == 1


@pytest.mark.django_db
def test_seed_demo_keeps_a_changed_password():
    call_command("seed_demo", stdout=StringIO())
    demo = get_user_model().objects.get(username="demo")
    demo.set_password("changed-by-the-user")
    demo.save()
    call_command("seed_demo", stdout=StringIO())
    demo.refresh_from_db()
    assert demo.check_password("changed-by-the-user")


@pytest.mark.django_db
def test_welcome_names_the_served_address_and_only_the_demo_passwords_still_in_use(make_user):
    from django.core.management.base import CommandError

    out = StringIO()
    call_command("welcome", url="http://127.0.0.1:8800", stdout=out)
    assert "http://127.0.0.1:8800/portal/" in out.getvalue()
    assert "no demo login: run manage.py seed_demo" in out.getvalue()

    demo = make_user("demo")
    demo.set_password("demo-pass")
    demo.save()
    admin = make_user("admin", is_staff=True)
    admin.set_password("a-password-of-my-own")
    admin.save()
    out = StringIO()
    call_command("welcome", url="http://127.0.0.1:8800", stdout=out)
    text = out.getvalue()
    assert "http://127.0.0.1:8800/admin/" in text and "http://127.0.0.1:8800/api/docs/" in text
    assert "demo / demo-pass" in text
    assert "admin / (the password you set)" in text and "a-password-of-my-own" not in text

    # Nobody listening: it says so after the timeout instead of waiting for ever.
    from arv.testing.processes import free_port

    with pytest.raises(CommandError, match="No answer at"):
        call_command("welcome", url=f"http://127.0.0.1:{free_port()}", wait=True, timeout=1, stdout=StringIO())
