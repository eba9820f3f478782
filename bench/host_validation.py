"""What host validation costs per request with many studio domains, and what routing adds.

Django validates the Host header by walking ALLOWED_HOSTS (several times per request). With every
verified studio domain listed that walk grows with the number of studios; ARV's AllowedHosts
yields only the requested name during a request. This measures `request.get_host()` both ways
for N verified domains (from the per-process memo, as on a warm server), and the full request
cost of the viewer page on the main site and on a studio's domain.

    DJANGO_SETTINGS_MODULE=arv.settings_test .venv/bin/python bench/host_validation.py [N]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arv.settings_test")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.test import RequestFactory  # noqa: E402

from companies import hosts  # noqa: E402


def per_call(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, (time.perf_counter() - start) / repeat)
    return best


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    domains = {f"ar.studio{i}.example": i for i in range(n)}
    settings.ALLOWED_HOSTS = hosts.AllowedHosts(["arv.example.com", "localhost"])
    hosts._memo = (time.monotonic() + 3600, domains)  # warm, as a running server's memo
    request = RequestFactory().get("/v/x/", HTTP_HOST=f"ar.studio{n - 1}.example")

    def walk_all():
        request.get_host()

    def requested_only():
        token = hosts._requested.set(f"ar.studio{n - 1}.example")
        try:
            request.get_host()
        finally:
            hosts._requested.reset(token)

    plain = RequestFactory().get("/v/x/", HTTP_HOST="arv.example.com")
    settings_list = ["arv.example.com", "localhost"]

    def static_list():
        settings.ALLOWED_HOSTS = settings_list
        plain.get_host()

    t_all = per_call(walk_all, 200)
    t_one = per_call(requested_only, 20_000)
    settings_obj = settings.ALLOWED_HOSTS
    t_static = per_call(static_list, 20_000)
    settings.ALLOWED_HOSTS = settings_obj
    print(f"verified domains: {n}")
    print(f"get_host(), every domain listed:     {t_all * 1e6:9.1f} µs")
    print(f"get_host(), requested name looked up: {t_one * 1e6:9.1f} µs  ({t_all / t_one:.0f}× less)")
    print(f"get_host(), plain static list:        {t_static * 1e6:9.1f} µs")


if __name__ == "__main__":
    main()
