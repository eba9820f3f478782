from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MarkersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "markers"
    # The back office's heading for the app's models, in the visitor's language.
    verbose_name = _("Markers")

    def ready(self):
        # Uploads and changes in the apps below become jobs here (they announce, markers acts).
        # Imported once the models are loaded, which is why it is not at the top.
        from markers import receivers

        receivers.listen()
