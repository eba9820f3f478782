from datetime import timedelta

from django.contrib import admin
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ArvAdminSite(admin.AdminSite):
    site_header = _("ARV back office")
    site_title = _("ARV back office")
    index_title = _("Platform")

    def index(self, request, extra_context=None):
        from companies.models import Company, Project
        from content.models import Portrait
        from markers.models import Job

        since = timezone.now() - timedelta(hours=24)
        figures = Company.objects.aggregate(
            companies=Count("pk"), active_companies=Count("pk", filter=Q(is_active=True))
        )
        figures["active_projects"] = Project.objects.live().count()
        figures["portraits"] = Portrait.objects.count()
        figures["failed_jobs_24h"] = Job.objects.markers().failed_since(since).count()
        return super().index(request, {"platform_figures": figures, **(extra_context or {})})
