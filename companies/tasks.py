"""django-q2 entry points for company messages: call a service, nothing else."""

from companies import notifications
from companies.services import check_due_viewer_domains


def send_reminders() -> dict:
    return notifications.send_reminders()


def renew_subscriptions() -> dict:
    return notifications.renew_and_expire()


def check_viewer_domains() -> dict:
    return check_due_viewer_domains()
