from django.core.management.base import BaseCommand

from markers.tasks import sweep


class Command(BaseCommand):
    help = "Re-queue due and lost jobs, recover jobs of dead workers, undo interrupted uploads."

    def handle(self, *args, **options):
        counts = sweep()
        self.stdout.write(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in counts.items()))
