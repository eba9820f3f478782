"""Re-encrypt every stored credential with the first key of FIELD_ENCRYPTION_KEYS."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from companies import crypto
from companies.models import StorageConnection


class Command(BaseCommand):
    help = "Re-encrypt stored storage credentials with the newest key (see companies/crypto.py)."

    def add_arguments(self, parser):
        parser.add_argument("--generate-key", action="store_true", help="Print a new Fernet key and exit.")

    def handle(self, *args, generate_key=False, **options):
        if generate_key:
            self.stdout.write(crypto.generate_key())
            return
        rotated = 0
        with transaction.atomic():
            for connection in StorageConnection.objects.select_for_update().exclude(credentials_encrypted=""):
                try:
                    connection.credentials_encrypted = crypto.rotate(connection.credentials_encrypted)
                except Exception:
                    raise CommandError(
                        f"The credentials of “{connection.name}” cannot be decrypted with any configured key; "
                        "nothing was changed. Add the old key to FIELD_ENCRYPTION_KEYS and run again."
                    ) from None
                connection.save(update_fields=["credentials_encrypted"])
                rotated += 1
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted the credentials of {rotated} storage connection(s)."))
