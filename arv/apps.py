from django.apps import AppConfig
from django.conf import settings
from django.contrib.admin import apps as admin_apps
from django.core.checks import Warning, register


class ArvConfig(AppConfig):
    default = True
    name = "arv"
    verbose_name = "ARV"

    def ready(self):
        from django.contrib import admin

        # It imports django-q's models, which are not loaded yet when this module is.
        from arv import admin_third_party

        register(vendor_static_check)
        # The admin (first in INSTALLED_APPS) has loaded every app's admin module by now.
        admin_third_party.register(admin.site)


def vendor_static_check(app_configs, **kwargs):
    missing = [str(path) for path in settings.VENDOR_STATIC.values() if not path.is_dir()]
    if missing:
        return [
            Warning(
                "The viewer's JavaScript packages are not installed, so the AR page cannot load.",
                hint="Run `npm ci --ignore-scripts` (or `make install`). Missing: " + ", ".join(missing),
                id="arv.W001",
            )
        ]
    return []


class ArvAdminConfig(admin_apps.AdminConfig):
    default = False
    default_site = "arv.admin.ArvAdminSite"
