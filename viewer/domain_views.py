"""What a studio's own viewer domain serves besides the public pages (see companies/hosts.py):
the files those pages load (that company's only), the verification file, redirects to the main
site, and error pages that carry the studio's brand instead of the platform's."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_safe

from companies.models import Company
from companies.storage import connection_for_company
from viewer import media as media_views


def host_company(request) -> Company | None:
    company_id = getattr(request, "viewer_host_company_id", None)
    if company_id is None:
        return None
    if not hasattr(request, "_viewer_host_company"):
        request._viewer_host_company = (
            Company.objects.select_related("storage_connection").filter(pk=company_id).first()
        )
    return request._viewer_host_company


@require_safe
def media(request, connection_id: int, path: str):
    """Stored files of this domain's company only: another studio's files are not served here,
    whatever their name."""
    company = host_company(request)
    if company is None or path.split("/", 1)[0] != company.path_prefix:
        raise Http404
    if connection_for_company(company).pk != connection_id:
        raise Http404
    return media_views.media(request, connection_id=connection_id, path=path)


@require_safe
def verification_file(request):
    """The proof of control, once verified: the domain now points here, and later re-checks of
    the file (which the studio's old web server no longer answers) must keep passing. Never
    served for a domain that is not verified: such a host is not even accepted."""
    company = host_company(request)
    if company is None or not company.verified_domain:
        raise Http404
    response = HttpResponse(company.viewer_domain_token, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


@require_safe
def favicon(request, *, platform_favicon):
    """/favicon.ico on a studio's domain: its logo when it has a brand (the platform's icon
    never shows there), else the platform's (*platform_favicon*, the main site's view)."""
    company = host_company(request)
    if company is not None and company.brand.is_set:
        if not company.brand.logo_url:
            raise Http404
        return HttpResponseRedirect(company.brand.logo_url)
    return platform_favicon(request)


def to_main_site(request, *args, **kwargs):
    """The portal, admin, API and log-in live on the main site only (their cookies are its own)."""
    response = HttpResponseRedirect(settings.SITE_URL + request.get_full_path())
    if request.method not in ("GET", "HEAD"):
        response.status_code = 307  # keep the method and body
    return response


def _neutral(request, reason: str, status: int):
    company = host_company(request)
    context = {"company": company, "brand": company.brand if company else None, "reason": reason, "title": ""}
    return render(request, "viewer/still.html", context, status=status)


def bad_request(request, exception=None):
    return _neutral(request, "missing", 400)


def forbidden(request, exception=None):
    return _neutral(request, "missing", 403)


def not_found(request, exception=None):
    return _neutral(request, "missing", 404)


def server_error(request):
    try:
        return _neutral(request, "error", 500)
    except Exception:
        # The failure may be the database itself: a plain answer, still without our name.
        return HttpResponse("Server error", status=500, content_type="text/plain; charset=utf-8")
