"""django-q2 entry points for webhooks: load by id, call a service, nothing else."""

from webhooks import services


def deliver(delivery_id: int) -> str | None:
    return services.attempt_delivery(delivery_id=delivery_id)


def sweep() -> dict:
    return services.sweep()
