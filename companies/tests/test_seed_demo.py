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
