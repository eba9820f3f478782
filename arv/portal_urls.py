"""The studio portal at /portal/ (namespace ``portal``): each app's pages, assembled here in the
shell so that no app has to include the URLs of an app above it."""

from django.urls import include, path

app_name = "portal"

urlpatterns = [
    path("", include("companies.urls")),
    path("", include("photos.urls")),
    path("", include("content.urls")),
    path("", include("analytics.urls")),
    path("", include("webhooks.urls")),
]
