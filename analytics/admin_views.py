"""Staff analytics in the admin: the portal's dashboard across companies, plus processing jobs.

Hooked into the admin by ``arv.admin.ArvAdminSite`` (URL ``admin:analytics``, and an entry in the
admin's app list). Reading every company's figures needs the "view view session" permission.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from analytics import charts, selectors
from analytics.forms import StaffAnalyticsFilterForm, preset_links
from analytics.views import csv_response, dashboard_context, export_rows
from markers.models import Job
from markers.stats import processing_job_stats

PERMISSION = "viewer.view_viewsession"


@require_safe
def staff_analytics(request, *, admin_site):
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    form = StaffAnalyticsFilterForm(request.GET)
    context = {
        **admin_site.each_context(request),
        "title": _("Analytics"),
        "form": form,
        "presets": preset_links(),
        "staff": True,
        "level": "staff",
    }
    if not form.is_valid():
        return render(request, "admin/viewer/analytics.html", context, status=400)
    dates, bucket = form.cleaned_data["dates"], form.cleaned_data["bucket"]
    company = form.cleaned_data.get("company")
    scope = selectors.Scope(company=company)
    jobs = processing_job_stats(dates)
    context.update(
        dashboard_context(selectors.dashboard(scope, dates, bucket=bucket)),
        company=company,
        extra_query=f"company={company.pk}" if company else "",
        top_companies=selectors.top_companies(dates) if company is None else [],
        show_top=True,
        job_rows=[(Job.Kind(k.kind).label, k) for k in jobs.kinds],
        failures_chart=charts.time_chart(jobs.failures_per_day, "day", title=_("Failed jobs per day"), unit="failures"),
        changelist_url=reverse("admin:markers_job_changelist"),
        csv_url=f"{reverse('admin:analytics_csv')}?{form.query_string()}",
        filter_query=form.query_string(),
    )
    return render(request, "admin/viewer/analytics.html", context)


@require_safe
def staff_analytics_csv(request, *, admin_site):
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    form = StaffAnalyticsFilterForm(request.GET)
    if not form.is_valid():
        text = "\n".join(str(e) for errors in form.errors.values() for e in errors)
        return HttpResponse(text, content_type="text/plain; charset=utf-8", status=400)
    dates, company = form.cleaned_data["dates"], form.cleaned_data.get("company")
    name = company.slug if company else "all"
    return csv_response(
        export_rows(selectors.Scope(company=company), dates, form.cleaned_data["bucket"], with_company=True),
        f"analytics-{name}-{dates.start:%Y%m%d}-{dates.end:%Y%m%d}.csv",
    )
