from datetime import timedelta
from functools import partial, update_wrapper

from django.contrib import admin
from django.db.models import Count, Q
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from analytics import admin_views
from companies.models import Company, Project
from content.models import Portrait
from markers.models import Job


class ArvAdminSite(admin.AdminSite):
    site_header = _("ARV back office")
    site_title = _("ARV back office")
    index_title = _("Platform")

    def index(self, request, extra_context=None):
        since = timezone.now() - timedelta(hours=24)
        figures = Company.objects.aggregate(
            companies=Count("pk"), active_companies=Count("pk", filter=Q(is_active=True))
        )
        figures["active_projects"] = Project.objects.live().count()
        figures["portraits"] = Portrait.objects.count()
        figures["failed_jobs_24h"] = Job.objects.markers().failed_since(since).count()
        return super().index(request, {"platform_figures": figures, **(extra_context or {})})

    # --- Staff analytics (analytics/admin_views.py) -----------------------------------------------

    def get_urls(self):
        def view(func):
            return self.admin_view(update_wrapper(partial(func, admin_site=self), func))

        return [
            path("analytics/", view(admin_views.staff_analytics), name="analytics"),
            path("analytics.csv", view(admin_views.staff_analytics_csv), name="analytics_csv"),
            *super().get_urls(),
        ]

    def get_app_list(self, request, app_label=None):
        """The analytics page, listed first under "Viewer" for staff allowed to see it."""
        app_list = super().get_app_list(request, app_label)
        if request.user.has_perm(admin_views.PERMISSION):
            for app in app_list:
                if app["app_label"] == "viewer":
                    entry = {
                        "name": _("Analytics"),
                        "object_name": "Analytics",
                        "admin_url": reverse("admin:analytics"),
                        "add_url": None,
                        "view_only": True,
                        "perms": {"view": True},
                    }
                    app["models"].insert(0, entry)
        return app_list
