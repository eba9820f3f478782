from django.core.management.base import BaseCommand

from webhooks.tasks import sweep


class Command(BaseCommand):
    help = (
        "Queue due webhook retries and deliveries whose task was lost, take back attempts of dead "
        "workers, and prune the delivery log (WEBHOOK_LOG_RETENTION_DAYS)."
    )

    def handle(self, *args, **options):
        counts = sweep()
        self.stdout.write(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in counts.items()))
