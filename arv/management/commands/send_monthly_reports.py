from django.core.management.base import BaseCommand

from analytics.reports import send_monthly_reports


class Command(BaseCommand):
    help = "Send last month's view report to every company that has not opted out (once per month)."

    def handle(self, *args, **options):
        counts = send_monthly_reports()
        self.stdout.write(f"reports created: {counts['created']}, notifications delivered: {counts['delivered']}")
