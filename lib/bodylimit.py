"""Request bodies too large for anyone are refused by their Content-Length, before anything reads them.

Django reads a body lazily, but early: the CSRF middleware parses a multipart POST to find its
token before any view (or login check) runs, spooling every file to disk. So the size is judged
here, from the header alone, for every request:

- anonymous requests (no session user, no ``Authorization`` header) may send forms, not files:
  ANONYMOUS_MAX_BODY_BYTES. Not under /api/: its views are exempt from the CSRF middleware and
  DRF refuses a request without credentials (401) before it reads the body;
- everyone else at most a photo and a video in one request (UPLOAD_MAX_MB + VIDEO_MAX_MB, plus
  room for the form's fields), unless the view the URL resolves to accepts more (``accepts_bodies``:
  the batch uploads, up to BATCH_MAX_MB). The API's views keep their own, tighter limits per
  endpoint (``lib.api.ApiView``).

A body sent without a Content-Length (chunked) is not read by Django at all. The proxy in front
should refuse oversized bodies before they even reach the app: nginx's ``client_max_body_size``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.template.defaultfilters import filesizeformat
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _

# Log-in, password reset and the viewer's beacon: all far below this.
ANONYMOUS_MAX_BODY_BYTES = 64 * 1024
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
API_PREFIX = "/api/"


def upload_limit_bytes(*limits_mb: int) -> int:
    """The largest multipart body worth reading: the files' own limits plus room for the fields."""
    return (sum(limits_mb) + 1) * 1024 * 1024


def max_body_bytes() -> int:
    """The most any request may send: a photo and a video at their limits, in one upload."""
    return upload_limit_bytes(settings.UPLOAD_MAX_MB, settings.VIDEO_MAX_MB)


def accepts_bodies(limit: Callable[[], int]):
    """Let a view receive bodies above ``max_body_bytes()``, up to ``limit()`` bytes (read when
    a request comes, so settings changed in tests apply). The attribute survives the decorators
    above it, which copy ``__dict__`` (functools.wraps)."""

    def decorate(view):
        view.max_body_bytes = limit
        return view

    return decorate


def view_limit(path: str) -> int:
    """What the view at *path* accepts: its own allowance, or the default for everyone."""
    default = max_body_bytes()
    try:
        allowance = getattr(resolve(path).func, "max_body_bytes", None)
    except Resolver404:
        return default
    return max(default, allowance()) if callable(allowance) else default


def _length(request) -> int:
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0  # Django reads no body for a malformed length either


def _may_upload(request) -> bool:
    # A token is checked by the API view, which refuses a wrong one before reading the body.
    return "HTTP_AUTHORIZATION" in request.META or request.user.is_authenticated


class BodySizeLimitMiddleware:
    """Answer 413 to bodies over the caller's limit (see the module docstring); goes after
    AuthenticationMiddleware, and runs before any middleware's process_view reads the body."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        length = _length(request)
        if request.method in BODY_METHODS and length > ANONYMOUS_MAX_BODY_BYTES:
            limit = max_body_bytes()
            # Resolving the URL costs only for the rare body above the common limit.
            if length > limit and (limit := view_limit(request.path_info)) < length:
                return _too_large(
                    request,
                    _("The request is %(size)s; at most %(limit)s are accepted.")
                    % {"size": filesizeformat(length), "limit": filesizeformat(limit)},
                )
            if not _may_upload(request) and not request.path.startswith(API_PREFIX):
                return _too_large(
                    request,
                    _("The request is %(size)s, more than is accepted before logging in (%(limit)s). Log in first.")
                    % {"size": filesizeformat(length), "limit": filesizeformat(ANONYMOUS_MAX_BODY_BYTES)},
                )
        return self.get_response(request)


def _too_large(request, message: str) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        # The API's documented error shape (lib.api.RequestTooLarge).
        return JsonResponse({"detail": message, "code": "too_large"}, status=413)
    return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
