from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from arv import health, views
from companies import hosts
from companies.invitations import invitation_link
from viewer import media

urlpatterns = [
    path("", views.landing, name="landing"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("tls/ask", hosts.tls_ask, name="tls_ask"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/password_reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("invitations/<str:token>/", invitation_link, name="invitation"),
    path("portal/", include("arv.portal_urls")),
    path("api/v1/", include("arv.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/docs/", views.ApiDocsView.as_view(url_name="api_schema"), name="api_docs"),
    path("media/<int:connection_id>/<path:path>", media.media, name="media"),
    path("", include("viewer.urls")),
    path(settings.ADMIN_URL, admin.site.urls),
]
