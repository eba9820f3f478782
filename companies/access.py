"""Tenancy in one place.

``TenantMiddleware`` puts a :class:`Tenant` on every request. Views never filter by company
themselves: they fetch every tenant-owned object through a ``get_<model>_for_user`` helper, which
looks it up inside the active company (404 for anything else, so another tenant's objects are
indistinguishable from missing ones) and, for writes, checks the role and the company's state
(403 with a reason).
"""

from __future__ import annotations

from functools import cached_property, wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from companies.models import Company, Invitation, Membership, Project

SESSION_KEY = "active_company_id"


class Tenant:
    def __init__(self, request: HttpRequest):
        self._request = request

    @cached_property
    def memberships(self) -> list[Membership]:
        user = self._request.user
        if not user.is_authenticated:
            return []
        return list(Membership.objects.filter(user=user).select_related("company").order_by("company__name"))

    @cached_property
    def membership(self) -> Membership | None:
        """The company chosen in this session; a user of exactly one company needs no choice.

        A user of several companies who has not chosen gets None (the portal asks them to
        choose): acting in some default company would put their work where they did not mean to.
        """
        wanted = self._request.session.get(SESSION_KEY) if hasattr(self._request, "session") else None
        return self._select(wanted)

    def _select(self, company_id) -> Membership | None:
        for m in self.memberships:
            if m.company_id == company_id:
                return m
        return self.memberships[0] if len(self.memberships) == 1 else None

    @property
    def needs_choice(self) -> bool:
        """Several companies and none chosen."""
        return self.membership is None and len(self.memberships) > 1

    @property
    def company(self) -> Company | None:
        return self.membership.company if self.membership else None

    @property
    def can_write(self) -> bool:
        m = self.membership
        return bool(m and m.can_write and m.company.is_writable)

    def switch(self, slug: str) -> bool:
        for m in self.memberships:
            if m.company.slug == slug:
                self._request.session[SESSION_KEY] = m.company_id
                self.__dict__["membership"] = m
                return True
        return False


class PortalRequest(HttpRequest):
    tenant: Tenant


def account_view(view):
    """Log-in required, no company needed (choosing one, answering invitations)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapper


def portal_view(view):
    """Log-in required, and an active company: users of several companies who have not chosen
    one are asked to; users of none get an explanation (and their invitations), not a crash."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if request.tenant.needs_choice:
            return redirect(f"{reverse('portal:choose_company')}?{urlencode({'next': request.get_full_path()})}")
        if request.tenant.membership is None:
            invitations = Invitation.objects.for_user(request.user).select_related("company", "invited_by")
            return render(request, "companies/no_company.html", {"invitations": invitations}, status=403)
        return view(request, *args, **kwargs)

    return wrapper


def check_write(request: PortalRequest) -> Membership:
    """The active membership, if it may change data; 403 with the reason otherwise."""
    m = request.tenant.membership
    if m is None:
        raise Http404
    if not m.can_write:
        raise PermissionDenied(_("Your role in this company is “viewer”: you can look but not change anything."))
    if not m.company.is_writable:
        raise PermissionDenied(m.company.read_only_reason)
    return m


def check_owner(request: PortalRequest) -> Membership:
    m = check_write(request)
    if not m.is_owner:
        raise PermissionDenied(_("Only the company's owners can manage its members."))
    return m


def scoped_get(request: PortalRequest, queryset: QuerySet, *, write: bool = False, **lookup):
    """Fetch from a queryset already restricted to the active company; then check writes."""
    if request.tenant.company is None:
        raise Http404
    obj = get_object_or_404(queryset, **lookup)
    if write:
        check_write(request)
    return obj


def get_project_for_user(request: PortalRequest, slug: str, *, write: bool = False) -> Project:
    queryset = Project.objects.for_company(request.tenant.company).select_related("company")
    return scoped_get(request, queryset, write=write, slug=slug)


def get_membership_for_user(request: PortalRequest, pk: int) -> Membership:
    """Members are managed by owners only, so this helper always checks ownership."""
    company = request.tenant.company
    if company is None:
        raise Http404
    membership = get_object_or_404(company.memberships.select_related("user"), pk=pk)
    check_owner(request)
    return membership


def get_invitation_for_user(request: PortalRequest, pk: int) -> Invitation:
    """A pending invitation of the active company, for its owners to withdraw or send again."""
    company = request.tenant.company
    if company is None:
        raise Http404
    invitation = get_object_or_404(company.invitations.filter(status=Invitation.Status.PENDING), pk=pk)
    check_owner(request)
    return invitation


def get_own_invitation(request: PortalRequest, pk: int) -> Invitation:
    """A pending invitation addressed to the logged-in user (to accept or decline); 404 otherwise."""
    return get_object_or_404(Invitation.objects.for_user(request.user).select_related("company"), pk=pk)


def own_invitations(request: PortalRequest):
    """The pending invitations addressed to the logged-in user, oldest first (the portal lists them
    to accept or decline)."""
    return Invitation.objects.for_user(request.user).select_related("company", "invited_by").order_by("created_at")
