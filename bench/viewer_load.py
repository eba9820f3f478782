"""Viewer page throughput against whitenoise serving a static file of the same size, in one run.

Starts a throwaway PostgreSQL (or uses $DATABASE_URL), prepares a ready portrait through the real
pipeline, starts gunicorn on 127.0.0.1 with production settings (DEBUG off, compressed manifest
static files), then alternates wrk runs against the viewer page (/v/<uuid>/, counting a view each
time, as a phone would) and against a static file of the page's size. Prints a markdown table.

    .venv/bin/python bench/viewer_load.py [--seconds 15] [--connections 16] [--rounds 3]

Needs: wrk (Debian package), gunicorn, PostgreSQL (Debian package) unless DATABASE_URL is set.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"


def wrk(url: str, *, seconds: int, connections: int) -> dict:
    result = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-H", f"User-Agent: {PHONE}", url],
        capture_output=True,
        text=True,
        check=True,
    )
    out = result.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: .*", out)

    def latency(label):
        match = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return {
        "rps": rps,
        "total": total,
        "p50": latency("50"),
        "p99": latency("99"),
        "errors": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(0) if socket_errors else "",
    }


def prepare(env: dict) -> tuple[str, int]:
    """Migrate, collect static files and make one ready portrait; returns its page path and size."""
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([*manage, "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    script = """
from django.core.files.uploadedfile import SimpleUploadedFile
from pathlib import Path
from companies.models import Company, Project
from content import services
from content.validators import validate_image, validate_video
from markers.models import Job
from markers.jobs import run_job
import subprocess, tempfile
company, _ = Company.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
project, _ = Project.objects.get_or_create(company=company, slug="bench", defaults={"name": "Bench"})
image = validate_image(SimpleUploadedFile("c.jpg", Path("markers/tests/fixtures/mindar/coffee_1000.jpg").read_bytes()))
clip = Path(tempfile.mkdtemp()) / "clip.mp4"
ffmpeg = ["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=s=640x360:d=3", "-pix_fmt", "yuv420p"]
subprocess.run([*ffmpeg, str(clip)], check=True)
video = validate_video(SimpleUploadedFile("clip.mp4", clip.read_bytes()))
portrait = services.create_portrait(project=project, uploaded_by=None, title="Bench", image=image, video=video)
for job in Job.objects.filter(portrait=portrait):
    run_job(job_id=job.pk)
portrait.refresh_from_db()
assert portrait.status == "ready", portrait.status
print(portrait.get_public_url())
"""
    out = subprocess.run(
        [*manage, "shell", "-c", script], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return out.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")

    from arv.testing.processes import free_port, postgres_server, stop
    from bench.fault_harness import bench_env

    with ExitStack() as stack:
        database_url = os.environ.get("DATABASE_URL") or stack.enter_context(postgres_server())
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="arv-bench-")))
        port = free_port()
        env = bench_env(work, database_url=database_url, port=port, redis_url=os.environ.get("REDIS_URL", ""))
        page_path = prepare(env)
        base = f"http://127.0.0.1:{port}"
        gunicorn = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "arv.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(args.workers),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        stack.callback(stop, gunicorn)
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        request = urllib.request.Request(base + page_path, headers={"User-Agent": PHONE})
        page_size = len(urllib.request.urlopen(request).read())
        # A static file of the page's size, served by whitenoise from STATIC_ROOT. Whitenoise
        # indexes files when a worker starts, so the workers are reloaded after writing it.
        sample = work / "static" / "bench-sample.html"
        sample.write_bytes(b"x" * page_size)
        gunicorn.send_signal(1)  # HUP: reload workers so whitenoise sees the new file
        time.sleep(3)
        static_url = base + "/static/bench-sample.html"
        assert len(urllib.request.urlopen(static_url).read()) == page_size

        warm = wrk(base + page_path, seconds=3, connections=args.connections)
        wrk(static_url, seconds=3, connections=args.connections)
        viewer, static = [], []
        for _ in range(args.rounds):
            viewer.append(wrk(base + page_path, seconds=args.seconds, connections=args.connections))
            static.append(wrk(static_url, seconds=args.seconds, connections=args.connections))
        # Every load must have been counted once: stop gunicorn (its workers write what they
        # still hold) and compare with what wrk says it loaded, plus the one size probe above.
        stop(gunicorn)
        expected = 1 + warm["total"] + sum(r["total"] for r in viewer)
        counted = int(
            subprocess.run(
                [
                    sys.executable,
                    "manage.py",
                    "shell",
                    "-c",
                    "from content.models import Portrait; print(Portrait.objects.get(title='Bench').views_count)",
                ],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )

    def med(runs, key):
        return statistics.median(r[key] for r in runs)

    ratio = med(viewer, "rps") / med(static, "rps")
    print(
        f"page: {page_path} ({page_size} bytes), {args.rounds} rounds × {args.seconds} s, "
        f"{args.connections} connections, gunicorn {args.workers} workers, wrk 1 thread"
    )
    print()
    print("| target | requests/s (median) | p50 ms | p99 ms | non-2xx |")
    print("|---|---|---|---|---|")
    for label, runs in (("viewer page /v/<uuid>/", viewer), ("whitenoise static file, same size", static)):
        errors = sum(r["errors"] for r in runs)
        print(f"| {label} | {med(runs, 'rps'):.0f} | {med(runs, 'p50'):.1f} | {med(runs, 'p99'):.1f} | {errors} |")
    print()
    print(f"ratio viewer / static: {ratio:.2f} (goal ≥ 0.5)")
    # wrk counts responses it received; requests still in flight when it stops (at most one per
    # connection per run) reached the server and were counted there too.
    slack = (1 + args.rounds) * args.connections
    verdict = "every load counted once" if expected <= counted <= expected + slack else "MISMATCH"
    print(f"views counted: {counted}; wrk completed {expected} (+ up to {slack} in flight): {verdict}")
    print(
        "rounds (viewer rps, static rps):",
        [(round(v["rps"]), round(s["rps"])) for v, s in zip(viewer, static, strict=True)],
    )


if __name__ == "__main__":
    main()
