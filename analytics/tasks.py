"""django-q2 entry points of the analytics: call a service, nothing else.

Registered by ``setup_schedules`` under their dotted names; the schedule rows are matched by
name there, so an install that stored an older name (``companies.tasks.send_monthly_reports``)
is pointed here on its next deploy.
"""

from analytics import reports


def send_monthly_reports() -> dict:
    return reports.send_monthly_reports()
