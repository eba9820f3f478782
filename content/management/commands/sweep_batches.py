from django.core.management.base import BaseCommand

from content.batches import sweep_batches


class Command(BaseCommand):
    help = (
        "Batches: re-queue lost and stuck checks and rows, finish batches whose portraits are done, "
        "expire abandoned batches and delete staging files nobody needs."
    )

    def handle(self, *args, **options):
        for name, count in sweep_batches().items():
            self.stdout.write(f"{name}: {count}")
