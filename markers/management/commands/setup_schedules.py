"""Register every periodic job with django-q2. Idempotent: run it on every deploy."""

from django.core.management.base import BaseCommand
from django_q.models import Schedule

# name -> (task, schedule type, minutes or cron, help). Every periodic job of the platform is here.
SCHEDULES = {
    "arv: roll up old view sessions": (
        "viewer.tasks.rollup_view_sessions",
        Schedule.MINUTES,
        60,
        "add up raw view sessions older than ANALYTICS_RAW_RETENTION_DAYS into daily totals (no-op when 0)",
    ),
    "arv: sweep jobs and uploads": (
        "markers.tasks.sweep",
        Schedule.MINUTES,
        1,
        "re-queue due and lost jobs, recover jobs of dead workers, undo interrupted uploads",
    ),
    "arv: sweep batches": (
        "content.tasks.sweep_batches",
        Schedule.MINUTES,
        1,
        "batches: re-queue lost and stuck work, finish done batches, expire abandoned ones, clean staging",
    ),
    "arv: sweep webhooks": (
        "webhooks.tasks.sweep",
        Schedule.MINUTES,
        1,
        "send due webhook retries, recover deliveries of dead workers, prune the delivery log",
    ),
    "arv: renew and expire": (
        "companies.tasks.renew_subscriptions",
        Schedule.MINUTES,
        15,
        "auto-renew projects and subscriptions, mark the others expired",
    ),
    "arv: expiry reminders": (
        "companies.tasks.send_reminders",
        Schedule.MINUTES,
        30,
        "e-mail and Telegram reminders before projects and subscriptions expire; retry failed channels",
    ),
    "arv: monthly reports": (
        "analytics.tasks.send_monthly_reports",
        Schedule.CRON,
        "0 8 * * *",
        "last month's view report per company, checked daily and sent once per month",
    ),
    "arv: check viewer domains": (
        "companies.tasks.check_viewer_domains",
        Schedule.MINUTES,
        10,
        "look for the DNS record or file proving control of studios' viewer domains; re-check verified ones daily",
    ),
    "arv: rebase rotations": (
        "content.tasks.rebase_rotations",
        Schedule.CRON,
        "30 3 * * *",
        "move rotation anchors forward so the viewer counts few boundaries",
    ),
}


class Command(BaseCommand):
    help = "Create or update the django-q2 schedules of every periodic job (safe to run repeatedly)."

    def add_arguments(self, parser):
        parser.add_argument("--prune", action="store_true", help="Delete arv schedules that are no longer defined.")

    def handle(self, *args, prune=False, **options):
        for name, (func, kind, every, description) in SCHEDULES.items():
            defaults = {"func": func, "schedule_type": kind, "repeats": -1}
            if kind == Schedule.MINUTES:
                defaults["minutes"] = every
            elif kind == Schedule.CRON:
                defaults["cron"] = every
            _, created = Schedule.objects.update_or_create(name=name, defaults=defaults)
            self.stdout.write(f"{'created' if created else 'updated'}: {name} — {description}")
        if prune:
            stale = Schedule.objects.filter(name__startswith="arv: ").exclude(name__in=SCHEDULES)
            for name in stale.values_list("name", flat=True):
                self.stdout.write(f"deleted: {name}")
            stale.delete()
