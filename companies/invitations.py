"""Answering an invitation: through the signed link in its e-mail, or in the portal.

Only the invited account may accept (see :class:`~companies.models.Invitation`). Someone logged
in as another account who opens the link is told so and cannot accept it; an invitee without an
account (or without a password yet) chooses a password on the link's page.
"""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from companies import services
from companies.access import SESSION_KEY, account_view, get_own_invitation
from companies.forms import AcceptInvitationForm
from companies.models import Invitation


def _joined(request, membership) -> None:
    # Accepting is choosing: the portal opens in the company just joined.
    request.session[SESSION_KEY] = membership.company_id
    messages.success(
        request,
        _("You are now a member of %(company)s (%(role)s).")
        % {"company": membership.company.name, "role": membership.get_role_display()},
    )


def _page(request, invitation, state: str, *, status: int = 200, form=None):
    response = render(
        request,
        "companies/invitation.html",
        {"invitation": invitation, "state": state, "form": form},
        status=status,
    )
    # The URL is a credential: keep the page out of caches and its address out of Referer headers.
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


@never_cache
@sensitive_post_parameters("new_password1", "new_password2")
@require_http_methods(["GET", "POST"])
def invitation_link(request, token):
    """The page the e-mailed link opens: accept or decline, as the invited account only."""
    invitation = Invitation.from_token(token)
    if invitation is None:
        return _page(request, None, "invalid", status=404)
    if not invitation.is_open:
        return _page(request, invitation, "closed", status=410)
    action = request.POST.get("action") if request.method == "POST" else None
    user = request.user
    if user.is_authenticated:
        if not invitation.is_for(user):
            return _page(request, invitation, "wrong_account", status=403)
        if action in ("accept", "decline"):
            return _answer(request, invitation, action)
        return _page(request, invitation, "answer")

    invitee = invitation.invitee()
    if invitee is not None and invitee.has_usable_password():
        if action:
            return redirect_to_login(request.get_full_path())
        return _page(request, invitation, "log_in")

    # No account with a password: the link, read in the invited mailbox, is the credential.
    form = AcceptInvitationForm(invitation, request.POST if action == "accept" else None)
    if action == "decline":
        try:
            services.decline_invitation(invitation=invitation)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return _page(request, invitation, "declined")
    if action == "accept" and form.is_valid():
        try:
            user = services.accept_invitation_with_password(
                invitation=invitation,
                password=form.cleaned_data["new_password1"],
                full_name=form.cleaned_data["full_name"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            _joined(request, user.memberships.select_related("company").get(company=invitation.company))
            return redirect("portal:dashboard")
    return _page(request, invitation, "set_password", form=form, status=400 if form.errors else 200)


def _answer(request, invitation, action: str):
    try:
        if action == "accept":
            membership = services.accept_invitation(invitation=invitation, user=request.user)
        else:
            services.decline_invitation(invitation=invitation, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("portal:dashboard")
    if action == "accept":
        _joined(request, membership)
    else:
        messages.success(request, _("Invitation to %(company)s declined.") % {"company": invitation.company.name})
    return redirect("portal:dashboard")


@require_POST
@account_view
def invitation_accept(request, pk):
    """Accept from the portal's "pending invitations" block."""
    return _answer(request, get_own_invitation(request, pk), "accept")


@require_POST
@account_view
def invitation_decline(request, pk):
    return _answer(request, get_own_invitation(request, pk), "decline")
