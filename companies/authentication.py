"""REST API authentication by the user's API token (``Authorization: Token <key>``).

Kept apart from ``companies.api``: DRF reads ``DEFAULT_AUTHENTICATION_CLASSES`` when ``APIView``
is defined, so this module must not import any view.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from companies.models import ApiToken


class ApiTokenAuthentication(TokenAuthentication):
    """DRF's header format and errors, against :class:`ApiToken`, which keeps only a hash."""

    model = ApiToken

    def authenticate_credentials(self, key):
        token = ApiToken.objects.for_key(key).select_related("user").first()
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token.touch()
        return token.user, token
