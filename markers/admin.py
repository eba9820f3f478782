from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from markers import jobs, mindar, status
from markers.models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "portrait",
        "company",
        "kind",
        "status",
        "attempts",
        "score",
        "duration_ms",
        "short_error",
        "finished_at",
    ]
    list_filter = ["status", "kind"]
    search_fields = ["portrait__title", "portrait__unique_id", "error"]
    list_select_related = ["portrait__company"]
    raw_id_fields = ["portrait", "video", "reused_from"]
    readonly_fields = [f.name for f in Job._meta.fields] + ["inspect_link"]
    actions = ["retry"]

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("company"))
    def company(self, obj):
        return obj.portrait.company

    @admin.display(description=_("score"))
    def score(self, obj):
        return (obj.report or {}).get("score", "—")

    @admin.display(description=_("error"))
    def short_error(self, obj):
        return obj.error[:80]

    @admin.display(description=_("marker"))
    def inspect_link(self, obj):
        if obj.kind != Job.Kind.MINDAR or not obj.output:
            return "—"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:markers_job_inspect", args=[obj.pk]), _("Inspect the .mind file")
        )

    @admin.action(description=_("Retry the selected jobs"), permissions=["change"])
    def retry(self, request, queryset):
        count = 0
        for job in queryset.select_related("portrait", "video"):
            with transaction.atomic():
                jobs.queue_job(portrait=job.portrait, kind=job.kind, video=job.video, force=True)
                status.refresh_portrait_status(portrait=job.portrait)
            count += 1
        self.message_user(
            request, ngettext("%d job queued again.", "%d jobs queued again.", count) % count, messages.SUCCESS
        )

    def get_urls(self):
        return [
            path("<int:pk>/inspect/", self.admin_site.admin_view(self.inspect_view), name="markers_job_inspect"),
            *super().get_urls(),
        ]

    def inspect_view(self, request, pk):
        # admin_view() only checks is_staff: reading a marker needs the permission to view jobs.
        if not self.has_view_permission(request):
            raise PermissionDenied
        job = get_object_or_404(Job.objects.select_related("portrait__company"), pk=pk, kind=Job.Kind.MINDAR)
        if not job.output:
            raise Http404
        error, info = "", None
        try:
            with job.output.open("rb") as fh:
                info = mindar.read_mind(fh.read())
        except mindar.MindFormatError as exc:
            error = str(exc)
        except OSError as exc:
            error = _("The file cannot be read from the storage: %(e)s") % {"e": exc}
        context = {
            **self.admin_site.each_context(request),
            "title": _("Marker %(id)s") % {"id": job.pk},
            "job": job,
            "info": info,
            "error": error,
            "opts": Job._meta,
        }
        return render(request, "admin/markers/inspect.html", context)
