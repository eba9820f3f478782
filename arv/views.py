from django.conf import settings
from django.contrib.auth import views as auth_views
from django.shortcuts import render


def landing(request):
    return render(request, "landing.html")


class PasswordResetView(auth_views.PasswordResetView):
    """The reset e-mail links to SITE_URL, never to whatever Host header the client sent."""

    @property
    def extra_email_context(self):
        return {"site_url": settings.SITE_URL, "site_name": settings.SITE_NAME}
