"""Liveness (/healthz) and readiness (/readyz) probes for load balancers and orchestrators.

Liveness only says the process answers. Readiness checks what a request needs: the database, a
writable media storage and a reachable task broker; any failure turns the answer into a 503 so a
load balancer stops sending traffic here.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_storage() -> None:
    name = default_storage.save(f"healthcheck/{uuid.uuid4().hex}.probe", ContentFile(b"ok"))
    try:
        with default_storage.open(name) as fh:
            if fh.read() != b"ok":
                raise OSError("the probe file read back different bytes")
    finally:
        default_storage.delete(name)


def check_broker() -> None:
    from django_q.brokers import get_broker
    from django_q.conf import Conf

    broker = get_broker()
    if Conf.ORM:
        # The ORM broker's ping() is a constant True: ask its table instead.
        from django_q.models import OrmQ

        OrmQ.objects.using(Conf.ORM).exists()
    elif not broker.ping():
        raise ConnectionError("the broker did not answer the ping")


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "storage": check_storage,
    "broker": check_broker,
}


@never_cache
@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    results = {}
    ok = True
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            check()
        except Exception as exc:
            ok = False
            # Details go to the log only: the probe is public and errors can name hosts.
            logger.warning("readiness check %s failed: %s", name, exc)
            results[name] = {"ok": False, "error": type(exc).__name__}
        else:
            results[name] = {"ok": True}
        results[name]["ms"] = round((time.monotonic() - started) * 1000, 1)
    return JsonResponse({"status": "ok" if ok else "fail", "checks": results}, status=200 if ok else 503)
