"""How long a web request waits on Redis when Redis is stopped, and when it is frozen.

A stopped Redis refuses connections at once. A frozen one (SIGSTOP here; in real life a hung
server or a network partition that drops packets) accepts the TCP connection and never answers,
so every call waits for the client's socket timeout. This times, in this process with the
production settings, the two Redis calls a web request can make: the beacon's rate-limiter check
(the cache) and handing a job to the queue (django-q2), for each REDIS_URL given.

    .venv/bin/python bench/fault_redis_hung.py \\
        --query "" --query "?socket_connect_timeout=1&socket_timeout=2"

Needs the Debian package redis-server.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def timed(call) -> str:
    started = time.monotonic()
    try:
        outcome = f"returned {call()!r}"
    except Exception as exc:
        outcome = f"raised {type(exc).__name__}"
    return f"{time.monotonic() - started:.2f} s ({outcome})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--query", action="append", help="query string appended to REDIS_URL (repeatable)")
    args = parser.parse_args()
    queries = args.query or ["", "?socket_connect_timeout=1&socket_timeout=2"]

    from arv.testing.processes import free_port, stop

    port = free_port()
    os.environ.update(
        {
            "ARV_IGNORE_DOTENV": "1",
            "DJANGO_SETTINGS_MODULE": "arv.settings",
            "SECRET_KEY": "bench-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
            "REDIS_URL": f"redis://127.0.0.1:{port}/0",
            "LOG_LEVEL": "CRITICAL",
        }
    )
    import django

    django.setup()
    from django.core.cache import caches
    from django.test.utils import override_settings
    from django_q.conf import Conf
    from django_q.tasks import async_task

    from lib.ratelimit import allow

    print("| REDIS_URL query | Redis | rate-limiter check (cache) | enqueue a job (django-q2) |")
    print("|---|---|---|---|")
    for query in queries:
        url = f"redis://127.0.0.1:{port}/0{query}"
        # What settings.py builds from REDIS_URL, for this URL (override_settings resets the cache handler).
        cache_settings = override_settings(
            CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
        )
        cache_settings.enable()
        Conf.REDIS = url
        server = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            time.sleep(0.5)
            for state in ("up", "frozen (SIGSTOP)", "stopped"):
                if state.startswith("frozen"):
                    os.kill(server.pid, signal.SIGSTOP)
                elif state == "stopped":
                    os.kill(server.pid, signal.SIGCONT)
                    stop(server)
                for cache in caches.all(initialized_only=True):
                    cache.close()
                limiter = timed(lambda: allow("bench", limit=10))
                enqueue = timed(lambda: async_task("math.floor", 1.5))
                print(f"| `{query or '(none)'}` | {state} | {limiter} | {enqueue} |")
        finally:
            if server.poll() is None:
                os.kill(server.pid, signal.SIGCONT)
            stop(server)
            cache_settings.disable()


if __name__ == "__main__":
    main()
