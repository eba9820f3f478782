from functools import lru_cache

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.staticfiles import finders
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerView

from lib.addresses import client_key
from lib.ratelimit import allow, hits


def landing(request):
    return render(request, "landing.html")


@lru_cache(maxsize=1)
def _favicon() -> bytes:
    with open(finders.find("img/favicon.ico"), "rb") as fh:
        return fh.read()


@require_safe
def favicon(request):
    """/favicon.ico, which browsers ask for whatever the page links (and for PDFs and images,
    which link nothing): the site's icon rather than a 404 in every log."""
    response = HttpResponse(_favicon(), content_type="image/vnd.microsoft.icon")
    response["Cache-Control"] = "public, max-age=86400"
    return response


class LoginView(auth_views.LoginView):
    """Django's login with a brake on guessing: after LOGIN_FAILURES_PER_IP failed attempts from
    an address, or LOGIN_FAILURES_PER_USER on one username, within LOGIN_LOCKOUT_MINUTES, further
    attempts are refused without checking the password (HTTP 429)."""

    def _keys(self):
        username = (self.request.POST.get("username") or "").strip().lower()[:150]
        return (
            (f"login-ip:{client_key(self.request)}", settings.LOGIN_FAILURES_PER_IP),
            (f"login-user:{username}", settings.LOGIN_FAILURES_PER_USER),
        )

    def post(self, request, *args, **kwargs):
        window = settings.LOGIN_LOCKOUT_MINUTES * 60
        if any(hits(key, window=window) >= limit for key, limit in self._keys()):
            form = self.get_form()
            form.errors.clear()
            form.add_error(
                None,
                _("Too many failed attempts. Wait %(minutes)d minutes, or reset your password.")
                % {"minutes": settings.LOGIN_LOCKOUT_MINUTES},
            )
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        window = settings.LOGIN_LOCKOUT_MINUTES * 60
        for key, limit in self._keys():
            allow(key, limit=limit, window=window)
        return super().form_invalid(form)


class PasswordResetView(auth_views.PasswordResetView):
    """The reset e-mail links to SITE_URL, never to whatever Host header the client sent; and an
    address cannot be flooded with reset e-mails."""

    @property
    def extra_email_context(self):
        return {"site_url": settings.SITE_URL, "site_name": settings.SITE_NAME}

    def form_valid(self, form):
        email = form.cleaned_data["email"].lower()
        if not allow(f"reset:{email}", limit=3, window=3600) or not allow(
            f"reset-ip:{client_key(self.request)}", limit=20, window=3600
        ):
            # Same answer as a normal request: whether the address exists stays secret.
            return super(auth_views.PasswordResetView, self).form_valid(form)
        return super().form_valid(form)


class ApiDocsView(SpectacularSwaggerView):
    """Swagger UI that works under the site's Content-Security-Policy: drf-spectacular's page
    starts Swagger UI with an inline script, which ``script-src 'self'`` blocks (a blank page);
    this one loads the same start-up from a static file and gives it its settings as JSON."""

    template_name = "api_docs.html"

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        # "Try it out" with the portal's session sends the CSRF cookie's token on writes: make
        # sure there is one. (The token itself is never written into the page.)
        get_token(request)
        response = super().get(request, *args, **kwargs)
        ui_settings = spectacular_settings.SWAGGER_UI_SETTINGS
        response.data["docs_config"] = {
            "schemaUrl": self._get_schema_url(request),
            "settings": ui_settings if isinstance(ui_settings, dict) else {},
            "csrfHeader": self._get_csrf_header_name(),
            "csrfCookie": settings.CSRF_COOKIE_NAME,
        }
        return response
