from django.core.management.base import BaseCommand

from companies.notifications import renew_and_expire


class Command(BaseCommand):
    help = "Auto-renew projects and subscriptions that renew; mark the other expired projects expired."

    def handle(self, *args, **options):
        counts = renew_and_expire()
        self.stdout.write(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in counts.items()))
