"""``manage.py backfill_compact_markers``: write the ``.arvm`` of every marker made before it existed."""

from django.core.management.base import BaseCommand, CommandError

from companies.models import Company
from markers.backfill import backfill_compact_markers, pending_albums, pending_jobs


class Command(BaseCommand):
    help = (
        "Write the compact marker (.arvm) the arv viewer engine reads next to every ready MindAR "
        "marker and album marker that has none (or an older format). Safe to interrupt and run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--company", action="append", default=[], metavar="SLUG", help="only this company (repeatable)"
        )
        parser.add_argument("--limit", type=int, metavar="N", help="at most N markers in this run")
        parser.add_argument("--dry-run", action="store_true", help="count what would be written, write nothing")

    def handle(self, *args, company, limit, dry_run, **options):
        company_ids = None
        if company:
            found = dict(Company.objects.filter(slug__in=company).values_list("slug", "pk"))
            missing = sorted(set(company) - set(found))
            if missing:
                raise CommandError(f"no such company: {', '.join(missing)}")
            company_ids = list(found.values())
        if limit is not None and limit < 1:
            raise CommandError("--limit must be at least 1")
        if dry_run:
            jobs = pending_jobs(company_ids=company_ids).count()
            albums = pending_albums(company_ids=company_ids).count()
            self.stdout.write(f"would write {jobs} photo and {albums} album compact markers")
            return
        report = backfill_compact_markers(company_ids=company_ids, limit=limit)
        self.stdout.write(report.as_text())
        if report.failed:
            raise CommandError(f"{len(report.failed)} markers failed; see the log, fix, and run again")
