"""Portal analytics: a company's, a project's and a photo's dashboard, and the same as CSV.

Every page reads through ``analytics.selectors`` (the numbers) after fetching its object through the
access helpers (tenancy: another company's project or photo is a 404). Staff see the same pages
across companies in the admin (``analytics.admin_views``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from analytics import charts, selectors
from analytics.dashboard import overview as dashboard_overview
from analytics.forms import AnalyticsFilterForm, preset_links
from companies.access import get_project_for_user, own_invitations, portal_view
from companies.models import Project
from content.access import get_portrait_for_user
from viewer.models import ViewSession

# Cells starting with these are formulas (or become one) in Excel, LibreOffice and Google Sheets;
# a photo titled "=HYPERLINK(...)" must stay text. OWASP's "CSV injection" list.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Lets Excel open the UTF-8 file as UTF-8 (Cyrillic titles); other readers skip it.
BOM = "\ufeff"


@portal_view
def dashboard(request):
    """The portal's first page: the company's projects and what needs attention, with this week's
    visits (``analytics.dashboard``)."""
    company = request.tenant.company
    projects = Project.objects.for_company(company).exclude(status=Project.Status.ARCHIVED).with_portrait_counts()
    overview = dashboard_overview(company)
    context = {
        "company": company,
        "projects": projects[:50],
        "overview": overview,
        "views_chart": charts.sessions_chart(overview.views_series, "day", title=_("Visits per day")),
        "invitations": own_invitations(request),
    }
    return render(request, "companies/dashboard.html", context)


# --- Shared by the portal pages and the staff page ---------------------------------------------


def breakdown_sections(breakdowns: selectors.Breakdowns) -> list[dict]:
    devices = dict(ViewSession.Device.choices)
    unknown = _("Unknown")
    sections = [
        (_("Devices"), breakdowns.devices, lambda v: devices.get(v, v) or unknown),
        (_("Operating systems"), breakdowns.systems, lambda v: v or unknown),
        (_("Browsers"), breakdowns.browsers, lambda v: v or unknown),
    ]
    return [
        {"title": title, "rows": [{"label": label(s.value), "sessions": s.sessions, "share": s.share} for s in slices]}
        for title, slices, label in sections
    ]


def dashboard_context(dashboard: selectors.Dashboard) -> dict:
    """What ``analytics/_dashboard.html`` draws, from one ``selectors.dashboard()`` result."""
    period = {"day": _("Sessions per day"), "week": _("Sessions per week"), "month": _("Sessions per month")}
    return {
        "dashboard": dashboard,
        "summary": dashboard.summary,
        "chart": charts.sessions_chart(dashboard.series, dashboard.bucket, title=period[dashboard.bucket]),
        "breakdowns": breakdown_sections(dashboard.breakdowns),
        "top_portraits": dashboard.top_portraits,
        "fallbacks": dashboard.fallbacks,
    }


def spreadsheet_safe(value):
    """Text that a spreadsheet would run as a formula gets a leading apostrophe (shown as text)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


class _Echo:
    """csv.writer wants a file; this one hands each formatted line back to be streamed."""

    def write(self, value: str) -> str:
        return value


def csv_response(rows: Iterable[list], filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield BOM
        for row in rows:
            yield writer.writerow([spreadsheet_safe(cell) for cell in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _ratio(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def export_rows(
    scope: selectors.Scope, dates: selectors.DateRange, bucket: selectors.Bucket, *, with_company: bool = False
) -> Iterator[list]:
    """The CSV: a header, then one row per photo and period with sessions (staff: with the company)."""
    yield [
        _("Period start"),
        *([_("Company")] if with_company else []),
        _("Project"),
        _("Photo"),
        _("Photo ID"),
        _("Sessions"),
        _("Found"),
        _("Found share"),
        _("Video played"),
        _("Play rate"),
        _("Average watch time (s)"),
    ]
    for start, p in selectors.portrait_rows(scope, dates, bucket=bucket):
        t = p.totals
        yield [
            start.isoformat(),
            *([p.company_name] if with_company else []),
            p.project_name,
            p.title,
            p.unique_id,
            t.sessions,
            t.found,
            _ratio(t.found_share),
            t.played,
            _ratio(t.play_rate),
            _ratio(t.average_watch_seconds, 1),
        ]


# --- Portal pages -------------------------------------------------------------------------------


def _page(request, *, scope, context: dict, csv_url: str):
    form = AnalyticsFilterForm(request.GET)
    context = {**context, "form": form, "presets": preset_links()}
    if not form.is_valid():
        # The page with the form and its message, and no figures for a range that makes no sense.
        return render(request, "analytics/dashboard.html", context, status=400)
    data = selectors.dashboard(scope, form.cleaned_data["dates"], bucket=form.cleaned_data["bucket"])
    query = form.query_string()
    context.update(
        dashboard_context(data), csv_url=f"{csv_url}?{query}", filter_query=query, show_top=scope.portrait is None
    )
    return render(request, "analytics/dashboard.html", context)


def _csv(request, *, scope, name: str):
    form = AnalyticsFilterForm(request.GET)
    if not form.is_valid():
        text = "\n".join(str(e) for errors in form.errors.values() for e in errors)
        return HttpResponse(text, content_type="text/plain; charset=utf-8", status=400)
    dates = form.cleaned_data["dates"]
    filename = f"analytics-{name}-{dates.start:%Y%m%d}-{dates.end:%Y%m%d}.csv"
    return csv_response(export_rows(scope, dates, form.cleaned_data["bucket"]), filename)


@require_safe
@portal_view
def company_analytics(request):
    company = request.tenant.company
    return _page(
        request,
        scope=selectors.Scope(company=company),
        context={"company": company, "heading": company.name, "level": "company"},
        csv_url=reverse("portal:analytics_csv"),
    )


@require_safe
@portal_view
def company_analytics_csv(request):
    company = request.tenant.company
    return _csv(request, scope=selectors.Scope(company=company), name=company.slug)


@require_safe
@portal_view
def project_analytics(request, slug):
    project = get_project_for_user(request, slug)
    return _page(
        request,
        scope=selectors.Scope(project=project),
        context={"company": request.tenant.company, "project": project, "heading": project.name, "level": "project"},
        csv_url=reverse("portal:project_analytics_csv", args=[project.slug]),
    )


@require_safe
@portal_view
def project_analytics_csv(request, slug):
    project = get_project_for_user(request, slug)
    return _csv(request, scope=selectors.Scope(project=project), name=project.slug)


@require_safe
@portal_view
def portrait_analytics(request, uuid):
    portrait = get_portrait_for_user(request, uuid)
    return _page(
        request,
        scope=selectors.Scope(portrait=portrait),
        context={
            "company": request.tenant.company,
            "project": portrait.project,
            "portrait": portrait,
            "heading": portrait.title,
            "level": "portrait",
        },
        csv_url=reverse("portal:portrait_analytics_csv", args=[portrait.unique_id]),
    )


@require_safe
@portal_view
def portrait_analytics_csv(request, uuid):
    portrait = get_portrait_for_user(request, uuid)
    return _csv(request, scope=selectors.Scope(portrait=portrait), name=str(portrait.unique_id))
