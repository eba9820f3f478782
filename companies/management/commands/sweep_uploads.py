from django.core.management.base import BaseCommand

from companies.quota import sweep_pending_uploads


class Command(BaseCommand):
    help = "Undo uploads whose process died midway: delete their files, give their quota back."

    def handle(self, *args, **options):
        self.stdout.write(f"interrupted uploads undone: {sweep_pending_uploads()}")
