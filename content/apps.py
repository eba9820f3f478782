from django.apps import AppConfig
from django.conf import settings
from django.core.checks import Error, register
from django.utils.translation import gettext_lazy as _

from content import media


class ContentConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "content"
    # The back office's heading for the app's models, in the visitor's language.
    verbose_name = _("Photos and videos")

    def ready(self):
        register(ffmpeg_timeout_check)


def ffmpeg_timeout_check(app_configs, **kwargs):
    """ffmpeg must give up before django-q2 kills the task running it: a killed task leaves its
    job "processing" until the sweeper notices, and the client sees no reason."""
    task_timeout = settings.Q_CLUSTER["timeout"]
    if media.ffmpeg_timeout() >= task_timeout:
        return [
            Error(
                f"ffmpeg may run {media.ffmpeg_timeout()} s, but tasks are killed after {task_timeout} s.",
                hint="Keep Q_CLUSTER['timeout'] equal to TASK_TIMEOUT (content/media.py derives ffmpeg's limit).",
                id="content.E001",
            )
        ]
    return []
