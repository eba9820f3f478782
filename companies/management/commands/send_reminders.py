from django.core.management.base import BaseCommand

from companies.notifications import send_reminders


class Command(BaseCommand):
    help = "Create the due expiry reminders (projects, subscriptions) and send every unsent channel."

    def handle(self, *args, **options):
        counts = send_reminders()
        self.stdout.write(f"reminders created: {counts['created']}, notifications delivered: {counts['delivered']}")
