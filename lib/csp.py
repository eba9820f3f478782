"""Content-Security-Policy and Permissions-Policy for every HTML page.

One strict base policy: scripts only from this site (no inline script anywhere in our templates),
no plugins, no framing, forms post only here. Views that need more add to it on the response
(``add_csp``): the viewer allows its importmap by hash and the camera. Origins of remote storages
(S3 endpoints, CDNs) are allowed for images, media and fetches, because thumbnails, videos and
markers may be served from there: ``companies.middleware`` knows them.
"""

from __future__ import annotations

import base64
import hashlib

BASE_POLICY: dict[str, tuple[str, ...]] = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    # Style attributes (progress bars, the admin's own widgets); styles cannot run code.
    "style-src": ("'self'", "'unsafe-inline'"),
    "img-src": ("'self'", "data:", "blob:"),
    "media-src": ("'self'", "blob:"),
    "font-src": ("'self'", "data:"),
    "connect-src": ("'self'",),
    "worker-src": ("'self'", "blob:"),
    "object-src": ("'none'",),
    "base-uri": ("'self'",),
    "form-action": ("'self'",),
    "frame-ancestors": ("'none'",),
}
PERMISSIONS = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
STORAGE_DIRECTIVES = ("img-src", "media-src", "connect-src")


def script_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def add_csp(response, *, permissions: str | None = None, **directives: tuple[str, ...]) -> None:
    """Extend the policy of this response: ``add_csp(r, script_src=("'sha256-…'",))``."""
    extra = getattr(response, "csp_extra", {})
    for name, values in directives.items():
        key = name.replace("_", "-")
        extra[key] = (*extra.get(key, ()), *values)
    response.csp_extra = extra
    if permissions is not None:
        response.permissions_policy = permissions


def build_policy(extra: dict[str, tuple[str, ...]], origins: tuple[str, ...]) -> str:
    parts = []
    for name, values in BASE_POLICY.items():
        values = (*values, *extra.get(name, ()))
        if name in STORAGE_DIRECTIVES:
            values = (*values, *origins)
        parts.append(f"{name} {' '.join(dict.fromkeys(values))}")
    return "; ".join(parts)


class ContentSecurityPolicyMiddleware:
    """Sets the policy on every HTML response; subclasses name the storage origins to allow."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" in response or not response.get("Content-Type", "").startswith("text/html"):
            return response
        response["Content-Security-Policy"] = build_policy(getattr(response, "csp_extra", {}), self.storage_origins())
        response["Permissions-Policy"] = getattr(response, "permissions_policy", PERMISSIONS)
        return response

    def storage_origins(self) -> tuple[str, ...]:
        return ()
