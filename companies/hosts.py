"""Which Host names this server answers to, and what each one may show.

``settings.ALLOWED_HOSTS`` is an :class:`AllowedHosts`: the operator's host names plus the
*verified* viewer domains of companies, read from a shared cache (filled from the database on a
miss) and remembered per process for a few seconds. Nothing else is accepted: no wildcard, and a
claimed but unverified domain gets Django's 400 like any unknown host.

On a company's domain, :class:`ViewerDomainMiddleware` switches the request to
``arv.viewer_domain_urls``: the public pages of that company only (a photo of another company is
a 404 there), the files they load, and redirects to the main site for the portal, the admin, the
API and the log-in pages.
"""

from __future__ import annotations

import logging
import threading
import time
from contextvars import ContextVar

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError
from django.http.request import split_domain_port, validate_host

logger = logging.getLogger(__name__)

CACHE_KEY = "arv:viewer-domains:v1"
CACHE_SECONDS = 300
# How long a process trusts its copy; verification changes reach every process within this.
MEMO_SECONDS = 5.0
URLCONF = "arv.viewer_domain_urls"

_lock = threading.Lock()
_memo: tuple[float, dict[str, int]] | None = None
# The host name of the request being handled (set by ViewerDomainMiddleware): host validation
# then looks that one name up instead of walking every verified domain.
_requested: ContextVar[str | None] = ContextVar("arv_requested_host", default=None)


def static_hosts() -> tuple[str, ...]:
    """The operator's ALLOWED_HOSTS (without company domains)."""
    hosts = settings.ALLOWED_HOSTS
    return hosts.static if isinstance(hosts, AllowedHosts) else tuple(hosts)


def _cache_key() -> str:
    # Per database: a cache shared by two installs (or a test run next to a dev server, both on
    # var/cache) must not mix their companies' domains.
    from django.db import connection

    return f"{CACHE_KEY}:{connection.settings_dict['NAME']}"


def verified_domains() -> dict[str, int]:
    """Verified viewer domain → company id."""
    global _memo
    now = time.monotonic()
    with _lock:
        if _memo and now - _memo[0] < MEMO_SECONDS:
            return _memo[1]
    try:
        domains = cache.get(_cache_key())
    except Exception:
        # The cache (Redis) is down: the database still knows, and pages keep working.
        logger.warning("cache unavailable for viewer domains; reading them from the database")
        domains = None
    if domains is None:
        # Not at the top: the settings import this module (AllowedHosts) before any model exists.
        from companies.models import Company

        domains = dict(Company.objects.with_verified_domain().values_list("viewer_domain", "pk"))
        try:
            cache.set(_cache_key(), domains, CACHE_SECONDS)
        except Exception:
            logger.warning("cache unavailable: viewer domains not cached")
    with _lock:
        _memo = (now, domains)
    return domains


def forget_verified_domains() -> None:
    """Call after a domain is verified, changed, removed or lapses (on commit)."""
    global _memo
    with _lock:
        _memo = None
    try:
        cache.delete(_cache_key())
    except Exception:
        # Entries expire after CACHE_SECONDS anyway; the change must not fail for the cache.
        logger.warning("cache unavailable: viewer domains will refresh within %s s", CACHE_SECONDS)


def company_for_host(host: str) -> int | None:
    """The company whose verified viewer domain *host* is (already validated, port stripped)."""
    return verified_domains().get(host.rstrip(".").lower())


class AllowedHosts(list):
    """ALLOWED_HOSTS as Django reads it (iterated per check): the static names, then verified
    company domains. A company domain never contains a wildcard or a leading dot (normalised on
    input), so no pattern here matches more than one exact name. A list, because Django insists
    on one; its items are the static names."""

    @property
    def static(self) -> tuple[str, ...]:
        return tuple(super().__iter__())

    def __iter__(self):
        yield from super().__iter__()
        try:
            domains = verified_domains()
        except DatabaseError:
            # Fail closed: the operator's own hosts keep working while the database is away.
            logger.warning("viewer domains unavailable; only the static ALLOWED_HOSTS are served", exc_info=True)
            return
        except RuntimeError:
            # Outside a request, where the database may not be used (a test run's set-up copies
            # ALLOWED_HOSTS into a list before any database exists).
            return
        requested = _requested.get()
        if requested is None:
            yield from domains
        elif requested in domains:
            yield requested

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"AllowedHosts({list(self.static)!r} + verified company domains)"

    def __reduce__(self):
        return (AllowedHosts, (list(self.static),))


class ViewerDomainMiddleware:
    """On a verified company domain: that company's public pages only (``request.urlconf``), and a
    Strict-Transport-Security header that stays on the studio's name (no subdomains, no preload:
    those are the studio's decisions about its own domain)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.viewer_host_company_id = None
        # Django's own reading of the Host (or X-Forwarded-Host) header, before validation.
        requested, _port = split_domain_port(request._get_raw_host())
        token = _requested.set(requested)
        try:
            return self._route(request)
        finally:
            _requested.reset(token)

    def _route(self, request):
        # get_host() validates against ALLOWED_HOSTS first: an unknown host ends here with a 400.
        domain, _port = split_domain_port(request.get_host())
        # The operator's own exact names are never a studio's (claims of them are refused): no
        # lookup. Patterns ("*", ".example.com") do not count: a studio's name may fall under them.
        exact = [h for h in static_hosts() if h != "*" and not h.startswith(".")]
        company_id = None if validate_host(domain, exact) else company_for_host(domain)
        if company_id is None:
            return self.get_response(request)
        request.viewer_host_company_id = company_id
        request.urlconf = URLCONF
        response = self.get_response(request)
        if response.has_header("Strict-Transport-Security"):
            response["Strict-Transport-Security"] = f"max-age={settings.SECURE_HSTS_SECONDS}"
        return response


def tls_ask(request):
    """For a TLS proxy that gets certificates on demand (Caddy's ``on_demand_tls { ask … }``):
    200 for a name this server answers to (a verified viewer domain), 404 otherwise, so nobody
    can make the proxy request certificates for arbitrary names pointed at it."""
    from django.http import HttpResponse

    domain = (request.GET.get("domain") or "").strip().rstrip(".").lower()
    if domain and company_for_host(domain) is not None:
        return HttpResponse("ok", content_type="text/plain")
    return HttpResponse("unknown", status=404, content_type="text/plain")
