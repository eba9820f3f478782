"""Check studios' viewer domains now: the due ones (what the periodic job does), or one company's."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from companies.models import Company
from companies.services import CheckSkipped, check_due_viewer_domains, check_viewer_domain


class Command(BaseCommand):
    help = "Look for the proof of control of claimed viewer domains and record the outcome."

    def add_arguments(self, parser):
        parser.add_argument("--company", metavar="SLUG", help="Check this company's domain now, due or not.")

    def handle(self, *args, company=None, **options):
        if company is None:
            counts = check_due_viewer_domains()
            self.stdout.write(", ".join(f"{k}: {v}" for k, v in counts.items()))
            return
        found = Company.objects.filter(slug=company).first()
        if found is None:
            raise CommandError(f"No company with the slug {company!r}.")
        try:
            result = check_viewer_domain(company=found)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        except CheckSkipped:
            raise CommandError("This domain was checked seconds ago; try again in a moment.") from None
        if result.verified_domain and result.viewer_domain_error:
            since = result.viewer_domain_failing_since
            self.stdout.write(
                f"{result.viewer_domain}: verified, but its proof is missing since {since:%Y-%m-%d %H:%M} — "
                f"{result.viewer_domain_error}"
            )
        elif result.verified_domain:
            self.stdout.write(f"{result.viewer_domain}: verified ({result.viewer_domain_verified_by})")
        else:
            self.stdout.write(f"{result.viewer_domain}: not verified — {result.viewer_domain_error}")
