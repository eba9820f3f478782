"""View sessions: one row per visit of a viewer page, filled in by the page's beacon."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from companies.models import Company, Project
from content.models import Portrait


class ViewSession(models.Model):
    class Device(models.TextChoices):
        MOBILE = "mobile", _("Phone")
        TABLET = "tablet", _("Tablet")
        DESKTOP = "desktop", _("Computer")
        OTHER = "other", _("Other")

    class Engine(models.TextChoices):
        MINDAR = "mindar", "MindAR"
        NFT = "nft", "AR.js NFT"
        FALLBACK = "fallback", _("Video only")

    # Made by the browser for this page load; the beacon's later posts update the same row.
    session_id = models.UUIDField(unique=True)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="view_sessions")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="view_sessions")
    portrait = models.ForeignKey(Portrait, on_delete=models.CASCADE, related_name="view_sessions")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    user_agent = models.CharField(max_length=400, blank=True)
    device_type = models.CharField(max_length=10, choices=Device.choices, default=Device.OTHER)
    browser = models.CharField(max_length=50, blank=True)
    os = models.CharField(max_length=50, blank=True)
    # Anonymised (last octet / last 80 bits zeroed) or empty, per VIEWER_IP_STORAGE.
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    engine = models.CharField(max_length=10, choices=Engine.choices, default=Engine.MINDAR)
    duration_seconds = models.PositiveIntegerField(default=0)
    found = models.BooleanField(default=False)
    time_to_found_ms = models.PositiveIntegerField(null=True, blank=True)
    video_played = models.BooleanField(default=False)
    watch_seconds = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=40, blank=True)

    class Meta:
        verbose_name = _("view session")
        verbose_name_plural = _("view sessions")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["company", "created_at"], name="viewsession_company_time_idx"),
            models.Index(fields=["project", "created_at"], name="viewsession_project_time_idx"),
            models.Index(fields=["portrait", "created_at"], name="viewsession_portrait_time_idx"),
            models.Index(fields=["created_at"], name="viewsession_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.portrait_id} @ {self.created_at:%Y-%m-%d %H:%M}"
