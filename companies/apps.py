from django.apps import AppConfig


def _token_name(token) -> str:
    from django.utils.translation import gettext

    return gettext("API token of %(user)s") % {"user": token.user}


class CompaniesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "companies"

    def ready(self):
        from rest_framework.authtoken.models import Token

        # DRF names a token by its key, so the back office printed API keys in page titles,
        # breadcrumbs, histories and deletion summaries; it is named by its owner instead.
        Token.__str__ = _token_name
