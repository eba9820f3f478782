"""The monthly view report (moved from companies/tests/test_notifications.py with the report), and
its schedule on an install registered before the move."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from analytics import reports
from companies.models import Notification


@pytest.mark.django_db
def test_monthly_report(tenants, make_portrait, telegram):
    import uuid

    from viewer.models import ViewSession

    popular = make_portrait(tenants.project_a, title="Popular")
    quiet = make_portrait(tenants.project_a, title="Quiet")
    now = timezone.now()
    last_month = (now.replace(day=1) - timedelta(days=3)).replace(hour=12)
    for portrait, n in ((popular, 3), (quiet, 1)):
        for _ in range(n):
            ViewSession.objects.create(
                session_id=uuid.uuid4(),
                company=tenants.a,
                project=tenants.project_a,
                portrait=portrait,
                created_at=last_month,
            )
    ViewSession.objects.create(
        session_id=uuid.uuid4(), company=tenants.a, project=tenants.project_a, portrait=quiet, created_at=now
    )
    counts = reports.send_monthly_reports()
    assert counts["created"] == 1
    (message,) = mail.outbox
    assert "viewed 4 times" in message.body
    assert message.body.index("Popular — 3") < message.body.index("Quiet — 1")
    assert reports.send_monthly_reports()["created"] == 0
    tenants.b.monthly_report_opt_out = True
    tenants.b.save()
    assert Notification.objects.filter(company=tenants.b).count() == 0


@pytest.mark.django_db
def test_an_install_scheduled_under_the_old_name_runs_the_report_after_the_next_deploy():
    """Installs from before the move stored ``companies.tasks.send_monthly_reports`` in their
    schedule row; ``setup_schedules`` (run on every deploy) finds the row by its name and points it
    at the new task, so the old name, which no longer imports, is never run again."""
    from importlib import import_module

    from django_q.models import Schedule

    Schedule.objects.create(
        name="arv: monthly reports",
        func="companies.tasks.send_monthly_reports",
        schedule_type=Schedule.CRON,
        cron="0 8 * * *",
        repeats=-1,
    )
    call_command("setup_schedules", stdout=StringIO())
    (schedule,) = Schedule.objects.filter(name="arv: monthly reports")
    assert schedule.func == "analytics.tasks.send_monthly_reports"
    assert (schedule.schedule_type, schedule.cron) == (Schedule.CRON, "0 8 * * *")
    assert not Schedule.objects.filter(func="companies.tasks.send_monthly_reports").exists()
    module, name = schedule.func.rsplit(".", 1)
    assert getattr(import_module(module), name)() == {"created": 0, "delivered": 0}


@pytest.mark.django_db
def test_the_command_sends_the_reports():
    out = StringIO()
    call_command("send_monthly_reports", stdout=out)
    assert out.getvalue() == "reports created: 0, notifications delivered: 0\n"
