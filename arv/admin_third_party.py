"""Admin classes of third-party apps, tightened to the house rule: every action declares the
permission it needs (django-q2's "Resubmit" ran for staff who may only view tasks)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _


def register(site: admin.AdminSite) -> None:
    """Replace django-q2's task admins; called once every app's admin module is loaded."""
    from django_q import admin as q_admin
    from django_q.models import Failure, Success

    class SuccessAdmin(q_admin.TaskAdmin):
        actions = ["resubmit"]

        @admin.action(description=_("Resubmit selected tasks to queue"), permissions=["change"])
        def resubmit(self, request, queryset):
            q_admin.resubmit_task(self, request, queryset)

    class FailureAdmin(q_admin.FailAdmin):
        actions = ["resubmit"]

        @admin.action(description=_("Resubmit selected tasks to queue"), permissions=["resubmit"])
        def resubmit(self, request, queryset):
            q_admin.resubmit_task(self, request, queryset)

        def has_resubmit_permission(self, request) -> bool:
            # Resubmitting runs the task again and deletes the failure.
            return self.has_change_permission(request) and self.has_delete_permission(request)

    for model, model_admin in ((Success, SuccessAdmin), (Failure, FailureAdmin)):
        if site.is_registered(model):
            site.unregister(model)
        site.register(model, model_admin)
