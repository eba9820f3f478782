"""The portal page where a user makes, rotates and revokes their REST API token.

A token is the user's (one per user), not a company's: the API acts in the company named by the
``X-Company`` header, with the user's role there. Only a hash of the key is stored
(:class:`~companies.models.ApiToken`), so the key is shown once, in the answer to the POST that
made it, and never again.
"""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from companies.access import portal_view
from companies.models import ApiToken


def _page(request, *, new_key: str = ""):
    token = ApiToken.objects.filter(user=request.user).first()
    response = render(
        request,
        "companies/api_token.html",
        {"token": token, "new_key": new_key, "memberships": request.tenant.memberships},
    )
    # The page may show a secret: never keep it in a cache or the browser's history.
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@portal_view
def api_token(request):
    return _page(request)


@require_POST
@portal_view
def api_token_create(request):
    """Make a new token, replacing (and so revoking) the previous one."""
    _token, key = ApiToken.issue(request.user)
    messages.success(request, _("New API token made. Copy it now: it will not be shown again."))
    return _page(request, new_key=key)


@require_POST
@portal_view
def api_token_revoke(request):
    if ApiToken.objects.filter(user=request.user).delete()[0]:
        messages.success(request, _("API token revoked: programs using it can no longer connect."))
    return redirect("portal:api_token")
