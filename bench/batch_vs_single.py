"""A batch of N orders against the same N uploaded one by one, on PostgreSQL + Redis.

Starts a throwaway PostgreSQL and Redis (or uses $DATABASE_URL / $REDIS_URL), gunicorn with 2 sync
workers and a `manage.py qcluster` with 2 workers, all with production settings. Then:

1. **Batch**: one ZIP of N pairs (a 1 MP photo and a 3-second 640×360 video each, every photo a
   different image so no marker is reused) is streamed to `POST /api/v1/batches/`; the check runs;
   the batch is confirmed. Timed: from the confirmation's answer until the batch is ready (every
   portrait ready).
2. **One by one**: N other pairs go to `POST /api/v1/portraits/` one request after another, into
   another company (so no marker is reused from phase 1). Timed: from the first request until the
   last portrait is ready.

Peak resident memory is sampled every 0.1 s from /proc for every gunicorn worker and every
qcluster process; the largest single process of each is reported.

    .venv/bin/python bench/batch_vs_single.py [--pairs 200] [--workers 2]

Needs the Debian packages redis-server, postgresql and ffmpeg.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
import zipfile
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.upload_to_ready import variant  # noqa: E402  (the same 1 MP photo and its variants)


def descendants(pid: int) -> list[int]:
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class PeakRss:
    """Largest resident size of any one process of each group, sampled in a thread."""

    def __init__(self, groups: dict[str, callable]):
        self.groups = groups
        self.peaks = dict.fromkeys(groups, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            for name, pids in self.groups.items():
                for pid in pids():
                    self.peaks[name] = max(self.peaks[name], rss_kib(pid))
            time.sleep(0.1)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def api(base: str, token: str, method: str, path: str, *, body: bytes | None = None, headers=None) -> dict:
    request = urllib.request.Request(base + path, data=body, method=method)
    request.add_header("Authorization", f"Token {token}")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read() or b"{}")


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, data) in files.items():
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
        )
        out.write(data)
        out.write(b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def stream_zip(base: str, token: str, path: Path, project: str) -> dict:
    """POST the ZIP as a multipart body streamed from disk (never whole in this process)."""
    import http.client
    from urllib.parse import urlsplit

    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="project"\r\n\r\n{project}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="archive"; filename="{path.name}"\r\n'
        "Content-Type: application/zip\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)
    connection.putrequest("POST", "/api/v1/batches/")
    connection.putheader("Authorization", f"Token {token}")
    connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    connection.putheader("Content-Length", str(len(head) + path.stat().st_size + len(tail)))
    connection.endheaders()
    connection.send(head)
    with open(path, "rb") as fh:
        while chunk := fh.read(1024 * 1024):
            connection.send(chunk)
    connection.send(tail)
    response = connection.getresponse()
    body = json.loads(response.read())
    if response.status != 202:
        sys.exit(f"batch upload answered {response.status}: {body}")
    return body


def wait(predicate, timeout: float, what: str, log: Path):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            sys.exit(f"{what}: not done after {timeout} s; see {log}")
        time.sleep(0.25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()

    from arv.testing.processes import free_port, postgres_server, redis_server, start_qcluster, stop
    from bench.fault_harness import bench_env, start_gunicorn, wait_http, worker_pids

    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="arv-bench-batch-")))
        database_url = os.environ.get("DATABASE_URL") or stack.enter_context(postgres_server())
        redis_url = os.environ.get("REDIS_URL") or stack.enter_context(redis_server())
        port = free_port()
        env = bench_env(work, database_url=database_url, redis_url=redis_url, port=port, TASK_WORKERS=str(args.workers))
        env["ALLOWED_HOSTS"] = "127.0.0.1,localhost"
        env["API_RATE_USER"] = "100000/minute"
        os.environ.update(env)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from django.contrib.auth import get_user_model
        from rest_framework.authtoken.models import Token

        from companies.models import Company, Membership, Project
        from content.models import Batch, Portrait

        user = get_user_model().objects.create_user("bench")
        token = Token.objects.create(user=user).key
        for slug in ("batch", "single"):
            company = Company.objects.create(name=slug, slug=slug, storage_quota_bytes=50 * 1024**3)
            Membership.objects.create(user=user, company=company, role="owner")
            Project.objects.create(company=company, name=slug, slug=slug)

        print(f"making {args.pairs} photos and a 3-second clip…", flush=True)
        clip = work / "clip.mp4"
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=s=640x360:r=25:d=3",
             "-pix_fmt", "yuv420p", str(clip)],
            check=True,
        )  # fmt: skip
        video = clip.read_bytes()
        archive = work / "order.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
            for n in range(args.pairs):
                zf.writestr(f"order-{n:03d}.jpg", variant(n))
                zf.writestr(f"order-{n:03d}.mp4", video)
        archive_mb = archive.stat().st_size / 1024**2

        gunicorn = start_gunicorn(env, port, workers=2, log_path=work / "gunicorn.log")
        stack.callback(stop, gunicorn)
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/healthz")
        worker = start_qcluster(env=env, log_path=work / "qcluster.log")
        stack.callback(stop, worker)
        time.sleep(3)
        log = work / "qcluster.log"
        groups = {"web": lambda: worker_pids(gunicorn.pid), "worker": lambda: descendants(worker.pid)}

        # --- 1. The batch --------------------------------------------------------------------------
        with PeakRss(groups) as batch_rss:
            started = time.perf_counter()
            body = stream_zip(base, token, archive, "batch")
            uploaded = time.perf_counter()
            batch_id = body["id"]
            headers = {"X-Company": "batch"}
            wait(
                lambda: (
                    api(base, token, "GET", f"/api/v1/batches/{batch_id}/", headers=headers)["status"] != "queued"
                    and Batch.objects.get(uuid=batch_id).status not in ("queued", "checking")
                ),
                args.timeout,
                "check",
                log,
            )
            checked = time.perf_counter()
            state = api(base, token, "GET", f"/api/v1/batches/{batch_id}/", headers=headers)
            if state["status"] != "review" or state["counts"]["valid"] != args.pairs:
                sys.exit(f"the check did not pass: {state}")
            api(base, token, "POST", f"/api/v1/batches/{batch_id}/confirm/", body=b"{}",
                headers={**headers, "Content-Type": "application/json"})  # fmt: skip
            confirmed = time.perf_counter()
            wait(lambda: Batch.objects.get(uuid=batch_id).status in ("ready", "failed"), args.timeout, "batch", log)
            batch_ready = time.perf_counter()
        batch = Batch.objects.get(uuid=batch_id)
        if (
            batch.status != "ready"
            or Portrait.objects.filter(project__slug="batch", status="ready").count() != args.pairs
        ):
            sys.exit(f"the batch did not make every portrait ready: {batch.status} {batch.error}")

        # --- 2. One by one -------------------------------------------------------------------------
        with PeakRss(groups) as single_rss:
            single_start = time.perf_counter()
            for n in range(args.pairs):
                body, content_type = multipart(
                    {"project": "single", "title": f"order {n}"},
                    {"image": (f"order-{n}.jpg", variant(10_000 + n)), "video": ("clip.mp4", video)},
                )
                api(base, token, "POST", "/api/v1/portraits/", body=body,
                    headers={"Content-Type": content_type, "X-Company": "single"})  # fmt: skip
            single_uploaded = time.perf_counter()
            single = Portrait.objects.filter(project__slug="single")
            wait(lambda: not single.exclude(status__in=("ready", "failed")).exists(), args.timeout, "single", log)
            single_ready = time.perf_counter()
        if single.filter(status="ready").count() != args.pairs:
            sys.exit("not every one-by-one upload became ready")

    mb = 1024
    batch_time, single_time = batch_ready - confirmed, single_ready - single_start
    print()
    print(
        f"{args.pairs} pairs (1 MP photo + 3 s 640×360 video); gunicorn 2 workers, qcluster {args.workers} "
        f"workers, PostgreSQL, Redis, local disk; archive {archive_mb:.0f} MB"
    )
    print()
    print("| path | upload s | check s | confirmation (or first upload) → last portrait ready s | "
          "peak RSS web MB | peak RSS worker MB |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    print(
        f"| batch | {uploaded - started:.1f} | {checked - uploaded:.1f} | **{batch_time:.1f}** | "
        f"{batch_rss.peaks['web'] / mb:.0f} | {batch_rss.peaks['worker'] / mb:.0f} |"
    )
    print(
        f"| one by one | {single_uploaded - single_start:.1f} | — | **{single_time:.1f}** | "
        f"{single_rss.peaks['web'] / mb:.0f} | {single_rss.peaks['worker'] / mb:.0f} |"
    )
    print()
    print(f"batch / one by one: {batch_time / single_time:.2f} (goal: at most 1.00)")


if __name__ == "__main__":
    main()
