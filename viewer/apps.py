from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ViewerConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "viewer"
    # The back office's heading for the app's models, in the visitor's language.
    verbose_name = _("Views and analytics")
