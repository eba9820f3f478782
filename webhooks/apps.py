from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "webhooks"
    verbose_name = _("Webhooks")

    def ready(self):
        # The apps below announce their changes as signals (they do not import webhooks, which
        # sits above them); here every announcement becomes an event. Imported once the models
        # are loaded, which is why it is not at the top.
        from webhooks import events

        events.listen()
