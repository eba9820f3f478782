from companies.access import Tenant
from companies.storage import storage_origins
from lib import csp


class TenantMiddleware:
    """Attach ``request.tenant`` (the user's memberships and active company), computed lazily.

    Lazy, so public pages such as the AR viewer pay no query for it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.tenant = Tenant(request)
        return self.get_response(request)


class ContentSecurityPolicyMiddleware(csp.ContentSecurityPolicyMiddleware):
    """The site's policy, allowing the origins of the remote storage connections."""

    def storage_origins(self) -> tuple[str, ...]:
        return storage_origins()
