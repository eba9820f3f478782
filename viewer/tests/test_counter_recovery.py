"""The views counter's background thread survives its database connection being cut.

bench/fault_db_restart.py found it did not: after `pg_ctl restart` the thread's connection stayed
broken, no count was written again, and loads piled up in memory until the process exited.
"""

import time

import pytest
from django.db import connection
from django.utils import timezone

from content.models import Portrait


def wait_for_views(pk: int, expected: int, timeout: float = 10) -> int:
    deadline = time.monotonic() + timeout
    while True:
        views = Portrait.objects.values_list("views_count", flat=True).get(pk=pk)
        if views >= expected or time.monotonic() > deadline:
            return views
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_the_counter_thread_reconnects_after_its_connection_is_cut(ready_portrait, settings):
    if connection.vendor != "postgresql":
        pytest.skip(
            "only PostgreSQL connections can be cut from outside (CI runs the suite on PostgreSQL too); "
            "bench/fault_db_restart.py restarts a real server"
        )
    from viewer import counter

    settings.VIEWS_FLUSH_SECONDS = 0.1
    counter.count(ready_portrait.pk, timezone.now())
    assert wait_for_views(ready_portrait.pk, 1) == 1  # the thread has written once: it holds a connection

    # What a database restart does to every connection: the server ends them.
    assert cut_other_connections() >= 1

    for _ in range(3):
        counter.count(ready_portrait.pk, timezone.now())
    # Written by the same thread, within a few intervals, with no request and no restart.
    assert wait_for_views(ready_portrait.pk, 4) == 4
    assert counter.flush() == 0
    # The thread keeps its connection; the test database can only be dropped without it.
    cut_other_connections()


def cut_other_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]
