from django.core.management.base import BaseCommand

from content.services import rebase_rotations


class Command(BaseCommand):
    help = "Move video rotations' anchors forward (keeps the viewer's rotation arithmetic short)."

    def handle(self, *args, **options):
        self.stdout.write(f"rotations rebased: {rebase_rotations()}")
