"""What webhooks cost: on a photo's status change, and per delivery.

1. Status change: ``refresh_portrait_status`` moving a photo processing → ready and back, N times,
   (a) as it was before webhooks (derive, then save the status: the reference), (b) now, with
   nobody listening (the row lock and one endpoint query), (c) now, with an endpoint listening
   (the API representation built, the event and its delivery written).
2. Delivery: N events attempted one after another by ``attempt_delivery`` against a local
   receiver on 127.0.0.1 (claim, SSRF checks with a DNS lookup, signing, the POST, the attempt
   row and the bookkeeping), against the reference of the same POST with ``http.client`` alone.

    .venv/bin/python bench/webhooks.py [--runs 200]

Runs on a throwaway SQLite database in a temporary directory, or on $DATABASE_URL.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def timed(fn, runs: int) -> list[float]:
    times = []
    for i in range(runs):
        started = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - started) * 1000)
    return times


def summary(times: list[float]) -> str:
    return f"median {statistics.median(times):.2f} ms, p90 {statistics.quantiles(times, n=10)[-1]:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="arv-bench-webhooks-"))
    from bench.fault_harness import bench_env

    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{work / 'db.sqlite3'}"
    os.environ.update(bench_env(work, database_url=database_url, WEBHOOK_ALLOW_PRIVATE_TARGETS="1"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.db import connection

    from companies.models import Company, Project
    from content.models import Portrait, Video
    from markers.models import Job
    from markers.status import derive_status, refresh_portrait_status
    from webhooks import services
    from webhooks.models import Delivery, Event

    company = Company.objects.create(name="Bench", slug="bench-webhooks")
    project = Project.objects.create(company=company, name="Bench", slug="bench")
    portrait = Portrait.objects.create(company=company, project=project, title="Bench", image="x.jpg")
    video = Video.objects.create(portrait=portrait, file="v.mp4", status="ready")
    for kind in ("mindar", "preview"):
        Job.objects.create(portrait=portrait, kind=kind, status="ready")

    def flip(i: int) -> None:
        # Alternate between processing and ready, so every refresh is a real change.
        Video.objects.filter(pk=video.pk).update(status="ready" if i % 2 == 0 else "processing")

    def reference(i: int) -> None:
        flip(i)
        fresh = Portrait.objects.select_related("company").get(pk=portrait.pk)
        fresh.set_status(derive_status(fresh))

    def current(i: int) -> None:
        flip(i)
        refresh_portrait_status(portrait=Portrait.objects.select_related("company").get(pk=portrait.pk))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/hook"

    results = {}
    results["status change, before webhooks (reference)"] = timed(reference, args.runs)
    results["status change, nobody listening"] = timed(current, args.runs)
    services.create_endpoint(company=company, url=url, event_types=["portrait.ready"])
    results["status change, one endpoint listening"] = timed(current, args.runs)
    events = Event.objects.filter(type="portrait.ready").count()
    assert events == args.runs // 2, events

    body = Event.objects.first().body.encode()

    def bare_post(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
        conn.request("POST", "/hook", body=body, headers={"Content-Type": "application/json"})
        conn.getresponse().read()
        conn.close()

    pending = list(Delivery.objects.filter(status="pending").values_list("pk", flat=True))
    results["POST with http.client alone (reference)"] = timed(bare_post, len(pending))
    results["attempt_delivery (claim, checks, sign, POST, record)"] = timed(
        lambda i: services.attempt_delivery(delivery_id=pending[i]), len(pending)
    )
    assert Delivery.objects.filter(status="succeeded").count() == len(pending)
    server.shutdown()

    print(f"{connection.vendor}, {args.runs} status changes, {len(pending)} deliveries")
    for name, times in results.items():
        print(f"{name}: {summary(times)}")
    ref = statistics.median(results["status change, before webhooks (reference)"])
    for name in ("status change, nobody listening", "status change, one endpoint listening"):
        print(f"{name} / reference: {statistics.median(results[name]) / ref:.2f}")
    post = statistics.median(results["POST with http.client alone (reference)"])
    attempt = statistics.median(results["attempt_delivery (claim, checks, sign, POST, record)"])
    print(f"attempt_delivery / bare POST: {attempt / post:.2f}; one worker: {1000 / attempt:.0f} deliveries/s")


if __name__ == "__main__":
    main()
