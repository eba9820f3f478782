from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from companies import services
from companies.access import (
    check_owner,
    check_write,
    get_membership_for_user,
    get_project_for_user,
    portal_view,
)
from companies.dashboard import overview as dashboard_overview
from companies.forms import InviteForm, ProjectForm, RoleForm, SwitchCompanyForm
from companies.models import Project
from viewer import charts

PROJECTS_PER_PAGE = 25


def _add_errors(form, exc: ValidationError) -> None:
    for message in exc.messages:
        form.add_error(None, message)


@portal_view
def dashboard(request):
    company = request.tenant.company
    projects = Project.objects.for_company(company).exclude(status=Project.Status.ARCHIVED).with_portrait_counts()
    overview = dashboard_overview(company)
    context = {
        "company": company,
        "projects": projects[:50],
        "overview": overview,
        "views_chart": charts.sessions_chart(overview.views_series, "day", title=_("Visits per day")),
    }
    return render(request, "companies/dashboard.html", context)


@require_POST
@portal_view
def switch_company(request):
    form = SwitchCompanyForm(request.POST)
    if form.is_valid() and request.tenant.switch(form.cleaned_data["company"]):
        target = form.cleaned_data["next"]
        # Object URLs of the old company would 404 in the new one: only non-portal pages are kept.
        safe = target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})
        if safe and not target.startswith("/portal/"):
            return redirect(target)
        return redirect("portal:dashboard")
    messages.error(request, _("You are not a member of that company."))
    return redirect("portal:dashboard")


@portal_view
def project_list(request):
    company = request.tenant.company
    show = request.GET.get("show", "current")
    projects = Project.objects.for_company(company).with_portrait_counts()
    projects = (
        projects.filter(status=Project.Status.ARCHIVED)
        if show == "archived"
        else projects.exclude(status=Project.Status.ARCHIVED)
    )
    page = Paginator(projects, PROJECTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "companies/project_list.html", {"page": page, "show": show})


@portal_view
def project_create(request):
    membership = check_write(request)
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = services.create_project(company=membership.company, created_by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Project “%(name)s” created.") % {"name": project.name})
            return redirect(project)
    return render(request, "companies/project_form.html", {"form": form})


@portal_view
def project_edit(request, slug):
    project = get_project_for_user(request, slug, write=True)
    form = ProjectForm(request.POST or None, initial=ProjectForm.initial_for(project))
    if request.method == "POST" and form.is_valid():
        try:
            services.update_project(project=project, **form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Project saved."))
            return redirect(project)
    return render(request, "companies/project_form.html", {"form": form, "project": project})


@require_POST
@portal_view
def project_archive(request, slug):
    project = get_project_for_user(request, slug, write=True)
    project.archive()
    messages.success(
        request, _("Project “%(name)s” archived: its photos are no longer shown to visitors.") % {"name": project.name}
    )
    return redirect("portal:project_list")


@portal_view
def member_list(request):
    company = request.tenant.company
    members = company.memberships.select_related("user").order_by("user__email", "user__username")
    return render(
        request,
        "companies/member_list.html",
        {"members": members, "invite_form": InviteForm(), "is_owner": request.tenant.membership.is_owner},
    )


@require_POST
@portal_view
def member_invite(request):
    membership = check_owner(request)
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            services.invite_member(company=membership.company, invited_by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Invitation sent to %(email)s.") % {"email": form.cleaned_data["email"]})
            return redirect("portal:member_list")
    members = membership.company.memberships.select_related("user").order_by("user__email", "user__username")
    return render(
        request, "companies/member_list.html", {"members": members, "invite_form": form, "is_owner": True}, status=400
    )


@require_POST
@portal_view
def member_role(request, pk):
    membership = get_membership_for_user(request, pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a valid role."))
        return redirect("portal:member_list")
    try:
        services.change_member_role(membership=membership, role=form.cleaned_data["role"])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Role updated."))
    return redirect("portal:member_list")


@require_POST
@portal_view
def member_remove(request, pk):
    membership = get_membership_for_user(request, pk)
    try:
        services.remove_member(membership=membership)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("%(user)s was removed from the company.") % {"user": membership.user.email or membership.user.username},
        )
    return redirect("portal:member_list")
