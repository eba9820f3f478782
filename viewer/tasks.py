"""django-q2 entry points of the viewer: thin wrappers around services."""

from django.conf import settings

from viewer import retention


def rollup_view_sessions() -> str:
    """The hourly retention job (registered by ``setup_schedules``); a no-op while retention is off."""
    days = settings.ANALYTICS_RAW_RETENTION_DAYS
    if not days:
        return "retention off (ANALYTICS_RAW_RETENTION_DAYS=0): raw sessions are kept"
    return str(retention.rollup_view_sessions(older_than_days=days))
