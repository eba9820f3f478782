from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from companies import domains, logos, services
from companies.access import (
    SESSION_KEY,
    account_view,
    check_owner,
    check_write,
    get_invitation_for_user,
    get_membership_for_user,
    get_project_for_user,
    own_invitations,
    portal_view,
)
from companies.domains import display_domain
from companies.forms import BrandForm, InviteForm, ProjectForm, RoleForm, SwitchCompanyForm, ViewerDomainForm
from companies.models import Company, Invitation, Project
from lib.forms import add_service_errors
from lib.ratelimit import allow
from lib.storage import StorageUnavailable, storage_error_message

# Invitation e-mails an owner may send per company per hour: enough for onboarding a team, too
# few to use the platform's mail server against someone's inbox.
INVITATIONS_PER_HOUR = 30

PROJECTS_PER_PAGE = 25


def _safe_next(request, target: str) -> str:
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""


@account_view
def choose_company(request):
    """Which company to work in, for users of several; the choice lasts for the session."""
    tenant = request.tenant
    if not tenant.memberships:
        return redirect("portal:dashboard")
    return render(
        request,
        "companies/choose_company.html",
        {
            "memberships": tenant.memberships,
            "current": tenant.membership,
            "next": _safe_next(request, request.GET.get("next", "")),
            "invitations": own_invitations(request),
        },
    )


@require_POST
@account_view
def switch_company(request):
    form = SwitchCompanyForm(request.POST)
    had_choice = request.tenant.membership is not None
    if form.is_valid() and request.tenant.switch(form.cleaned_data["company"]):
        target = _safe_next(request, form.cleaned_data["next"])
        # Object URLs of the old company would 404 in the new one: after a switch only non-portal
        # pages are kept; a first choice goes on to the page that asked for it.
        if target and (not had_choice or not target.startswith("/portal/")):
            return redirect(target)
        return redirect("portal:dashboard")
    messages.error(request, _("You are not a member of that company."))
    return redirect("portal:choose_company" if request.tenant.needs_choice else "portal:dashboard")


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
            add_service_errors(form, exc)
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
            add_service_errors(form, exc)
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


def _member_page(request, *, invite_form=None, status=200):
    company = request.tenant.company
    is_owner = request.tenant.membership.is_owner
    members = company.memberships.select_related("user").order_by("user__email", "user__username")
    invitations = (
        company.invitations.filter(status=Invitation.Status.PENDING).select_related("invited_by").order_by("email")
        if is_owner
        else []
    )
    return render(
        request,
        "companies/member_list.html",
        {
            "members": members,
            "invitations": invitations,
            "invite_form": invite_form or InviteForm(),
            "is_owner": is_owner,
            "me": request.tenant.membership,
        },
        status=status,
    )


@portal_view
def member_list(request):
    return _member_page(request)


def _invite(request, membership, form) -> bool:
    """Send the invitation the valid *form* describes; False (errors on the form) if refused."""
    if not allow(f"invitations:{membership.company_id}", limit=INVITATIONS_PER_HOUR, window=3600):
        form.add_error(None, _("Too many invitations were sent in the last hour. Try again later."))
        return False
    try:
        services.invite_member(company=membership.company, invited_by=request.user, **form.cleaned_data)
    except ValidationError as exc:
        add_service_errors(form, exc)
        return False
    return True


@require_POST
@portal_view
def member_invite(request):
    membership = check_owner(request)
    form = InviteForm(request.POST)
    if form.is_valid() and _invite(request, membership, form):
        messages.success(
            request,
            _("Invitation sent to %(email)s. They become a member when they accept it.")
            % {"email": form.cleaned_data["email"]},
        )
        return redirect("portal:member_list")
    return _member_page(request, invite_form=form, status=400)


@require_POST
@portal_view
def invitation_resend(request, pk):
    invitation = get_invitation_for_user(request, pk)
    form = InviteForm({"email": invitation.email, "role": invitation.role})
    if form.is_valid() and _invite(request, request.tenant.membership, form):
        messages.success(
            request, _("A new link was sent to %(email)s; the old one no longer works.") % {"email": invitation.email}
        )
    else:
        messages.error(request, " ".join(form.non_field_errors()) or _("The invitation could not be sent."))
    return redirect("portal:member_list")


@require_POST
@portal_view
def invitation_revoke(request, pk):
    invitation = get_invitation_for_user(request, pk)
    if services.revoke_invitation(invitation=invitation):
        messages.success(request, _("The invitation to %(email)s was withdrawn.") % {"email": invitation.email})
    else:
        messages.error(request, _("That invitation was answered meanwhile."))
    return redirect("portal:member_list")


@require_POST
@portal_view
def leave_company(request):
    membership = request.tenant.membership
    try:
        services.leave_company(membership=membership)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("portal:member_list")
    request.session.pop(SESSION_KEY, None)
    messages.success(request, _("You left %(company)s.") % {"company": membership.company.name})
    return redirect("portal:dashboard")


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


# --- Brand and viewer domain ----------------------------------------------------------------------


def _check_brand_owner(request):
    membership = check_write(request)
    if not membership.is_owner:
        raise PermissionDenied(_("Only the company's owners can change its brand and domain."))
    return membership


def _brand_page(request, *, form=None, domain_form=None, status=200):
    company = Company.objects.get(pk=request.tenant.company.pk)
    context = {
        "company": company,
        "brand": company.brand,
        "form": form
        or BrandForm(initial={"brand_name": company.brand_name, "brand_accent_color": company.brand_accent_color}),
        "domain_form": domain_form or ViewerDomainForm(initial={"domain": display_domain(company.viewer_domain)}),
        "can_edit": request.tenant.membership.is_owner and company.is_writable,
        "domain_display": display_domain(company.viewer_domain),
        "txt_name": domains.txt_record_name(company.viewer_domain),
        "txt_value": domains.txt_record_value(company.viewer_domain_token),
        "file_url": f"http://{company.viewer_domain}{domains.WELL_KNOWN_PATH}",
        "verified_by": domains.VERIFIED_BY.get(company.viewer_domain_verified_by, ""),
        "grace_days": settings.DOMAIN_GRACE_DAYS,
        "site_host": urlsplit(settings.SITE_URL).hostname,
        "site_is_ip": domains.is_ip(urlsplit(settings.SITE_URL).hostname or ""),
    }
    return render(request, "companies/brand.html", context, status=status)


@portal_view
def brand(request):
    """The studio's brand (name, logo, accent colour) and viewer domain. Every member sees it;
    only owners change it."""
    if request.method != "POST":
        return _brand_page(request)
    membership = _check_brand_owner(request)
    form = BrandForm(request.POST, request.FILES)
    if not form.is_valid():
        return _brand_page(request, form=form, status=400)
    company = membership.company
    try:
        # The logo first: if storage or quota refuses it, nothing else changed either.
        if form.cleaned_data["logo"] is not None:
            logos.set_company_logo(company=company, logo=form.cleaned_data["logo"])
        elif request.POST.get("logo-clear"):
            logos.remove_company_logo(company=company)
        services.update_brand(
            company=company,
            brand_name=form.cleaned_data["brand_name"],
            brand_accent_color=form.cleaned_data["brand_accent_color"],
        )
    except StorageUnavailable:
        form.add_error(None, storage_error_message())
        return _brand_page(request, form=form, status=400)
    except ValidationError as exc:
        add_service_errors(form, exc)
        return _brand_page(request, form=form, status=400)
    messages.success(request, _("Brand saved."))
    return redirect("portal:brand")


@require_POST
@portal_view
def domain_set(request):
    membership = _check_brand_owner(request)
    form = ViewerDomainForm(request.POST)
    if form.is_valid():
        try:
            services.claim_viewer_domain(company=membership.company, domain=form.cleaned_data["domain"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Domain saved. Add the DNS record below, then check it."))
            return redirect("portal:brand")
    return _brand_page(request, domain_form=form, status=400)


@require_POST
@portal_view
def domain_check(request):
    membership = _check_brand_owner(request)
    try:
        company = services.check_viewer_domain(company=membership.company)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except services.CheckSkipped:
        messages.warning(request, _("The domain was checked a few seconds ago; wait a moment and try again."))
    else:
        if company.verified_domain and not company.viewer_domain_error:
            messages.success(
                request,
                _("Verified: QR codes and links now use %(domain)s.")
                % {"domain": display_domain(company.viewer_domain)},
            )
        else:
            messages.error(request, _("Not verified yet: %(reason)s") % {"reason": company.viewer_domain_error})
    return redirect("portal:brand")


@require_POST
@portal_view
def domain_remove(request):
    membership = _check_brand_owner(request)
    services.remove_viewer_domain(company=membership.company)
    messages.success(request, _("Domain removed: QR codes and links use the main site again."))
    return redirect("portal:brand")
