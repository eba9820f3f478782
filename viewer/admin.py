from django.contrib import admin

from viewer.models import ViewSession, ViewSessionDaily


@admin.register(ViewSession)
class ViewSessionAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "portrait",
        "company",
        "device_type",
        "os",
        "browser",
        "found",
        "time_to_found_ms",
        "video_played",
        "watch_seconds",
    ]
    list_filter = ["device_type", "found", "video_played", "engine"]
    list_select_related = ["portrait", "company"]
    search_fields = ["portrait__title", "portrait__unique_id", "session_id"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    readonly_fields = [f.name for f in ViewSession._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(ViewSessionDaily)
class ViewSessionDailyAdmin(admin.ModelAdmin):
    """Read-only: rows are written by the retention job alone (viewer/retention.py)."""

    list_display = ["day", "portrait", "company", "device_type", "os", "browser", "sessions", "found", "played"]
    list_filter = ["device_type"]
    list_select_related = ["portrait", "company"]
    search_fields = ["portrait__title", "portrait__unique_id", "company__name"]
    date_hierarchy = "day"
    show_full_result_count = False
    readonly_fields = [f.name for f in ViewSessionDaily._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
