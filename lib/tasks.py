"""Handing work to the task queue (django-q2): after the transaction commits, and never failing the
caller when the broker is down — the periodic sweepers find what was not queued."""

from __future__ import annotations

import logging
import uuid

from django.db import transaction

logger = logging.getLogger(__name__)


def send_task(func: str, arg, *, label: str, otherwise: str) -> bool:
    """Queue ``func(arg)`` now; False (and logged, with *otherwise*: what will pick it up) if the
    broker refused. The task's name carries *label*, the argument and a random suffix."""
    # Looked up on every call, so the broker client (and a test's stand-in) is the current one.
    from django_q.tasks import async_task

    try:
        async_task(func, arg, task_name=f"{label}-{arg}-{uuid.uuid4().hex[:8]}")
    except Exception:
        logger.exception("could not queue %s %s; %s", label, arg, otherwise)
        return False
    return True


def send_task_on_commit(func: str, arg, *, label: str, otherwise: str) -> None:
    """:func:`send_task` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: send_task(func, arg, label=label, otherwise=otherwise))
