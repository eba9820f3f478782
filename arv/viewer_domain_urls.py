"""URLs on a studio's own viewer domain (see companies/hosts.py): its public pages and the files
they load; the platform's pages answer on the main site only."""

import re

from django.conf import settings
from django.urls import include, path, re_path

from arv import views
from viewer import domain_views

urlpatterns = [
    path("media/<int:connection_id>/<path:path>", domain_views.media, name="media"),
    # Linked by the pages of a studio without a brand (they are the platform's design); a branded
    # page links its logo, or an empty icon (templates/viewer/_icon.html), and a browser that asks
    # anyway gets the logo or nothing, never the platform's icon.
    path("favicon.ico", domain_views.favicon, {"platform_favicon": views.favicon}, name="favicon"),
    path(".well-known/arv-verification.txt", domain_views.verification_file, name="domain_verification"),
    path("", include("viewer.urls")),
    re_path(
        rf"^(?:portal|api|accounts|i18n|{re.escape(settings.ADMIN_URL.strip('/'))})(?:/|$)", domain_views.to_main_site
    ),
]

# The platform's error pages link to its own pages; a studio's domain shows neutral ones.
handler400 = "viewer.domain_views.bad_request"
handler403 = "viewer.domain_views.forbidden"
handler404 = "viewer.domain_views.not_found"
handler500 = "viewer.domain_views.server_error"
