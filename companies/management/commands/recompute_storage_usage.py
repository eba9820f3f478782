"""Recount each company's storage use from the files its rows reference, and correct the counter."""

from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from companies.models import Company
from companies.storage_moves import UsageReport, recompute_storage_usage
from lib.storage import StorageUnavailable


def _signed_size(value: int) -> str:
    return ("+" if value > 0 else "-" if value < 0 else "±") + str(filesizeformat(abs(value)))


class Command(BaseCommand):
    help = (
        "Measure every file each company's rows reference (photos, previews, videos, renditions, "
        "posters, markers) in its storage and set the usage counters to the result, printing the drift."
    )

    def add_arguments(self, parser):
        parser.add_argument("--company", metavar="SLUG", help="Only this company.")
        parser.add_argument("--dry-run", action="store_true", help="Print the drift, change nothing.")

    def handle(self, *args, company=None, dry_run=False, **options):
        companies = Company.objects.order_by("slug")
        if company:
            companies = companies.filter(slug=company)
            if not companies.exists():
                raise CommandError(_("No company with the slug “%(slug)s”.") % {"slug": company})
        failed = []
        for each in companies:
            try:
                report = recompute_storage_usage(company=each, dry_run=dry_run)
            except StorageUnavailable as exc:
                failed.append(each.slug)
                self.stderr.write(
                    _("%(company)s: storage not readable, nothing changed: %(error)s")
                    % {"company": each.slug, "error": exc}
                )
                continue
            self.stdout.write(self._line(report, dry_run=dry_run))
            for name in report.missing:
                self.stdout.write(_("  missing: %(name)s") % {"name": name})
        if failed:
            raise CommandError(
                _("Could not check: %(companies)s. Run again when their storage is back.")
                % {"companies": ", ".join(failed)}
            )

    def _line(self, report: UsageReport, *, dry_run: bool) -> str:
        values = {
            "company": report.company.slug,
            "counted": filesizeformat(report.counted),
            "actual": filesizeformat(report.actual),
            "drift": _signed_size(report.drift),
            "bytes": report.drift,
            "rows": report.rows_corrected,
            "missing": len(report.missing),
        }
        line = _("%(company)s: counted %(counted)s, files %(actual)s, drift %(drift)s (%(bytes)+d bytes)") % values
        if report.missing:
            line += _(", %(missing)d file(s) missing") % values
        if dry_run or (not report.drift and not report.rows_corrected):
            return line
        if report.corrected:
            return line + _(" — corrected (%(rows)d row(s) too)") % values
        return line + _(" — NOT corrected: the counter changed while counting; run again") % values
