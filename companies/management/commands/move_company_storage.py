"""Move a company's files to another storage connection; run it again to resume after a stop."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from companies.models import Company, StorageConnection
from companies.storage_moves import StorageMoveError, run_storage_move, start_storage_move
from lib.storage import StorageUnavailable


class Command(BaseCommand):
    help = (
        "Copy every file of a company to another storage connection, verify each copy (size and "
        "SHA-256), switch the company to it, then delete the old copies. Safe to interrupt: running "
        "the same command again carries on where it stopped."
    )

    def add_arguments(self, parser):
        parser.add_argument("company", metavar="COMPANY_SLUG")
        parser.add_argument("connection", metavar="CONNECTION_NAME")
        parser.add_argument(
            "--allow-missing",
            action="store_true",
            help="Switch even if some files the company references are in neither storage.",
        )

    def handle(self, *args, company, connection, allow_missing=False, **options):
        company = self._company(company)
        target = self._connection(connection)
        try:
            move = start_storage_move(company=company, target=target, requested_by=None)  # run from the shell: no user
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(
            _("Moving %(company)s from “%(source)s” to “%(target)s” (%(status)s).")
            % {"company": company.slug, "source": move.source, "target": move.target, "status": move.status}
        )
        verbose = options["verbosity"] >= 2
        try:
            move = run_storage_move(
                move=move,
                allow_missing=allow_missing,
                progress=(lambda message: self.stdout.write(f"  {message}")) if verbose else None,
            )
        except (StorageMoveError, StorageUnavailable) as exc:
            raise CommandError(
                _("%(error)s\nNothing was lost; run the same command again to resume.") % {"error": exc}
            ) from None
        counts = move.counts()
        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "Done: %(copied)d file(s) copied and verified, %(deleted)d old copies deleted, "
                    "%(missing)d missing. %(company)s now uses “%(target)s”."
                )
                % {
                    "copied": move.files_copied,
                    "deleted": counts["deleted"],
                    "missing": counts["missing"],
                    "company": company.slug,
                    "target": move.target,
                }
            )
        )

    def _company(self, slug: str) -> Company:
        try:
            return Company.objects.get(slug=slug)
        except Company.DoesNotExist:
            raise CommandError(_("No company with the slug “%(slug)s”.") % {"slug": slug}) from None

    def _connection(self, name: str) -> StorageConnection:
        try:
            return StorageConnection.objects.get(name=name)
        except StorageConnection.DoesNotExist:
            names = ", ".join(StorageConnection.objects.values_list("name", flat=True))
            raise CommandError(
                _("No storage connection named “%(name)s” (there are: %(names)s).") % {"name": name, "names": names}
            ) from None
