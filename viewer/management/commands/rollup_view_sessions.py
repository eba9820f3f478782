from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from viewer import retention


class Command(BaseCommand):
    help = (
        "Roll raw view sessions older than N days up into daily totals and delete them. Safe to run "
        "repeatedly and alongside the scheduled job; N defaults to ANALYTICS_RAW_RETENTION_DAYS."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than-days",
            type=int,
            default=None,
            help="Roll up every whole day older than this (default: ANALYTICS_RAW_RETENTION_DAYS).",
        )

    def handle(self, *args, older_than_days=None, **options):
        days = older_than_days if older_than_days is not None else settings.ANALYTICS_RAW_RETENTION_DAYS
        if not days:
            self.stdout.write("Retention is off (ANALYTICS_RAW_RETENTION_DAYS=0); nothing to do.")
            return
        if days < 1:
            raise CommandError("--older-than-days must be at least 1.")
        cutoff = retention.cutoff_day(days)
        result = retention.rollup_view_sessions(older_than_days=days)
        self.stdout.write(f"Days before {cutoff:%Y-%m-%d}: {result}.")
