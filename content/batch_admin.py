"""Back office view of batches: what a print shop uploaded, where it stands and why rows failed.

Read-only: batches change only through their services (upload, confirm, the workers)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from content.models import Batch, BatchRow


class BatchRowInline(admin.TabularInline):
    model = BatchRow
    extra = 0
    fields = ["number", "status", "photo_name", "order_reference", "title", "portrait", "errors", "attempts"]
    readonly_fields = fields
    raw_id_fields = ["portrait"]
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = ["created_at", "company", "project", "original_name", "status", "upload_files", "created_by"]
    list_filter = ["status", "source"]
    list_select_related = ["company", "project", "created_by"]
    search_fields = ["uuid", "original_name", "company__name", "project__name"]
    date_hierarchy = "created_at"
    inlines = [BatchRowInline]
    fieldsets = [
        (None, {"fields": ["uuid", "company", "project", "status", "source", "sheet_format", "original_name"]}),
        (_("Upload"), {"fields": ["upload_files", "upload_bytes", "needed_bytes", "error", "warnings"]}),
        (
            _("Progress"),
            {
                "fields": [
                    "created_by",
                    "confirmed_by",
                    "attempts",
                    "heartbeat_at",
                    "staging_cleaned",
                    "created_at",
                    "checked_at",
                    "confirmed_at",
                    "finished_at",
                ]
            },
        ),
    ]
    readonly_fields = [f for fs in fieldsets for f in fs[1]["fields"]]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
