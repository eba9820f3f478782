"""Give a company a viewer domain in a given state, without the DNS round trip (tests of what a
verified or unverified domain changes; the verification itself has its own tests)."""

from __future__ import annotations

from django.utils import timezone

from companies.hosts import forget_verified_domains
from companies.models import Company


def give_domain(company: Company, domain: str, *, verified: bool = True) -> Company:
    now = timezone.now()
    Company.objects.filter(pk=company.pk).update(
        viewer_domain=domain,
        viewer_domain_token="test-token-" + domain,
        viewer_domain_claimed_at=now,
        viewer_domain_verified_at=now if verified else None,
        viewer_domain_verified_by="dns" if verified else "",
    )
    forget_verified_domains()
    company.refresh_from_db()
    return company
