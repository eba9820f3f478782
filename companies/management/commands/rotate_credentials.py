"""Re-encrypt every stored credential with the first key of FIELD_ENCRYPTION_KEYS."""

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from companies import crypto
from companies.models import StorageConnection


class Command(BaseCommand):
    help = (
        "Re-encrypt stored storage credentials and webhook signing secrets with the newest key "
        "(see companies/crypto.py)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--generate-key", action="store_true", help="Print a new Fernet key and exit.")

    def handle(self, *args, generate_key=False, **options):
        if generate_key:
            self.stdout.write(crypto.generate_key())
            return
        with transaction.atomic():
            connections = self._rotate(StorageConnection, "credentials_encrypted", "the credentials of “{}”")
            # Looked up by name: the webhooks app builds on this one, not the other way round.
            secrets = self._rotate(apps.get_model("webhooks", "Secret"), "value_encrypted", "a signing secret of {}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Re-encrypted the credentials of {connections} storage connection(s) "
                f"and {secrets} webhook signing secret(s)."
            )
        )

    def _rotate(self, model, field: str, what: str) -> int:
        rotated = 0
        for row in model.objects.select_for_update().exclude(**{field: ""}):
            try:
                setattr(row, field, crypto.rotate(getattr(row, field)))
            except Exception:
                raise CommandError(
                    f"{what.format(row).capitalize()} cannot be decrypted with any configured key; nothing was "
                    "changed. Add the old key to FIELD_ENCRYPTION_KEYS and run again."
                ) from None
            row.save(update_fields=[field])
            rotated += 1
        return rotated
