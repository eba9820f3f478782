from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from content import batch_admin, services  # noqa: F401 - batch_admin registers the batches' admin
from content.models import Portrait, Rotation, Video, VideoEvent


class VideoInline(admin.TabularInline):
    model = Video
    extra = 0
    fields = [
        "title",
        "status",
        "status_message",
        "is_active",
        "schedule_start",
        "schedule_end",
        "rotation_order",
        "duration",
        "size_bytes",
    ]
    readonly_fields = ["status", "status_message", "duration", "size_bytes", "is_active"]
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class RotationInline(admin.StackedInline):
    model = Rotation
    extra = 0
    readonly_fields = ["anchor", "base_index"]


class VideoEventInline(admin.TabularInline):
    model = VideoEvent
    extra = 0
    fields = ["at", "video_label", "action", "by", "changes"]
    readonly_fields = fields
    can_delete = False
    ordering = ["-at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(VideoEvent)
class VideoEventAdmin(admin.ModelAdmin):
    list_display = ["at", "portrait", "video_label", "action", "by"]
    list_filter = ["action"]
    search_fields = ["portrait__title", "video_label", "by__username"]
    list_select_related = ["portrait", "by"]
    readonly_fields = [f.name for f in VideoEvent._meta.fields]
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Portrait)
class PortraitAdmin(admin.ModelAdmin):
    list_display = ["thumbnail", "title", "company", "project", "status", "is_active", "views_count", "created_at"]
    list_display_links = ["thumbnail", "title"]
    list_filter = ["status", "is_active", ("company", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["title", "unique_id", "customer_name", "customer_email", "order_reference"]
    list_select_related = ["company", "project"]
    raw_id_fields = ["company", "project", "uploaded_by"]
    readonly_fields = [
        "unique_id",
        "image",
        "preview",
        "image_width",
        "image_height",
        "image_format",
        "image_bytes",
        "image_sha256",
        "stored_bytes",
        "views_count",
        "last_viewed_at",
        "created_at",
        "updated_at",
        "status",
    ]
    inlines = [VideoInline, RotationInline, VideoEventInline]
    date_hierarchy = "created_at"

    @admin.display(description="")
    def thumbnail(self, obj):
        if not obj.preview:
            return "—"
        return format_html('<img src="{}" width="48" height="48" style="object-fit:contain" alt="">', obj.preview.url)

    def delete_model(self, request, obj):
        services.delete_portrait(portrait=obj)

    def delete_queryset(self, request, queryset):
        # Through the service, so files go and the quota comes back.
        for portrait in queryset.select_related("company"):
            services.delete_portrait(portrait=portrait)


@admin.register(Video)
class VideoAdmin(admin.ModelAdmin):
    list_display = ["__str__", "portrait", "status", "playback", "is_active", "duration", "size_bytes", "created_at"]
    list_filter = ["status", "is_active", "mime_type"]
    search_fields = ["title", "original_filename", "portrait__title", "portrait__unique_id"]
    list_select_related = ["portrait"]
    raw_id_fields = ["portrait"]
    readonly_fields = [
        "file",
        "web_file",
        "poster",
        "duration",
        "width",
        "height",
        "fps",
        "size_bytes",
        "mime_type",
        "stored_bytes",
        "status",
        "status_message",
        "created_at",
        "updated_at",
    ]

    @admin.display(description=_("served to phones"))
    def playback(self, obj):
        if obj.web_file:
            return _("H.264 rendition")
        return format_html('<span title="{}">{}</span>', obj.status_message, _("original file (no rendition)"))

    def delete_model(self, request, obj):
        services.delete_video(video=obj, by=request.user)

    def delete_queryset(self, request, queryset):
        for video in queryset.select_related("portrait__company"):
            services.delete_video(video=video, by=request.user)
