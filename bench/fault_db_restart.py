"""PostgreSQL restarted under traffic: do the web and the workers recover by themselves?

Starts a throwaway PostgreSQL (and Redis, the production broker, unless --broker orm), gunicorn
with 2 sync workers, a `qcluster` with the periodic jobs registered (`setup_schedules`), and a
ready portrait. Then sends steady open-loop traffic to the viewer page, the beacon and /readyz,
restarts PostgreSQL with `pg_ctl restart -m fast` in the middle, and measures:

- the failed requests per endpoint and the window in which they happened;
- the time from the restart until every endpoint answers again and keeps answering;
- that nothing was restarted by hand: the gunicorn and qcluster PIDs are the same at the end;
- that the workers recovered: a photo + video uploaded after the restart becomes "ready"
  through the same qcluster (MindAR, NFT, preview and video jobs);
- that page loads are still counted: the views written by the web processes' background
  counter while they keep running, against the page loads that got a 200.

    .venv/bin/python bench/fault_db_restart.py [--before 15] [--after 40] [--rate 20] [--broker redis]

Needs root (initdb runs as the postgres user) and the Debian packages postgresql, redis-server
and ffmpeg.
"""

from __future__ import annotations

import argparse
import glob
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.fault_harness import (  # noqa: E402
    OpenLoop,
    Target,
    beacon_request,
    bench_env,
    get_request,
    page_request,
    percentile,
    start_gunicorn,
    wait_http,
    worker_pids,
)
from bench.upload_to_ready import variant  # noqa: E402
from bench.viewer_load import prepare  # noqa: E402


def postgres_control(database_url: str) -> tuple[Path, Path, Path]:
    """(bin dir, data dir, log file) of the throwaway cluster behind *database_url*.

    `postgres_server()` yields only a URL; the cluster itself says where its data lives.
    """
    bin_dir = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))[-1]).parent
    url = urlparse(database_url)
    data = subprocess.run(
        [
            str(bin_dir / "psql"),
            "-h",
            url.hostname,
            "-p",
            str(url.port),
            "-U",
            "postgres",
            "-Atc",
            "SHOW data_directory",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return bin_dir, Path(data), Path(data).parent / "log"


def restart_postgres(bin_dir: Path, data: Path, log: Path, *, down: float = 0) -> float:
    """`pg_ctl restart -m fast`; with *down* > 0, stop, stay down that long, then start."""
    pg_ctl = ["runuser", "-u", "postgres", "--", str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l", str(log)]
    started = time.monotonic()
    if down <= 0:
        subprocess.run([*pg_ctl, "-m", "fast", "restart"], check=True, stdout=subprocess.DEVNULL)
    else:
        # `pg_ctl start` needs the server's options again; the running server wrote them here.
        options = shlex.split((data / "postmaster.opts").read_text())[1:]
        options = [o for i, o in enumerate(options) if o != "-D" and (i == 0 or options[i - 1] != "-D")]
        subprocess.run([*pg_ctl, "-m", "fast", "stop"], check=True, stdout=subprocess.DEVNULL)
        time.sleep(down)
        start = [*pg_ctl, "-o", " ".join(shlex.quote(o) for o in options), "start"]
        subprocess.run(start, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def upload_and_wait(work: Path, *, timeout: float) -> tuple[str, float, dict]:
    """Upload a photo + video through the service the portal uses; wait for the qcluster."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import close_old_connections

    from companies.models import Project
    from content import services
    from content.models import Portrait
    from content.validators import validate_image, validate_video
    from markers.models import Job

    # This process's own connection died with the server too; a long-lived process checks it
    # before use, as Django does at the start of every request.
    close_old_connections()
    clip = work / "clip.mp4"
    if not clip.exists():
        subprocess.run(
            [
                "ffmpeg",
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
                "testsrc=s=640x360:r=25:d=3",
                "-pix_fmt",
                "yuv420p",
                str(clip),
            ],
            check=True,
        )
    project = Project.objects.get(company__slug="bench", slug="bench")
    image = validate_image(SimpleUploadedFile("photo.jpg", variant(int(time.time()) % 200)))
    video = validate_video(SimpleUploadedFile("clip.mp4", clip.read_bytes()))
    started = time.monotonic()
    portrait = services.create_portrait(project=project, uploaded_by=None, title="after", image=image, video=video)
    status = ""
    while time.monotonic() - started < timeout:
        status = Portrait.objects.values_list("status", flat=True).get(pk=portrait.pk)
        if status in ("ready", "failed"):
            break
        time.sleep(0.1)
    jobs = dict(Job.objects.filter(portrait=portrait).values_list("kind", "status"))
    return status, time.monotonic() - started, jobs


def recovery(results, restart_at: float) -> dict:
    """Per endpoint: failures, their window, and when the endpoint was back for good."""
    report = {}
    by_target = defaultdict(list)
    for r in results:
        by_target[r.target].append(r)
    for name, rows in by_target.items():
        failed = [r for r in rows if not r.ok]
        last_failure = max((r.started for r in failed), default=None)
        report[name] = {
            "total": len(rows),
            "failed": len(failed),
            "kinds": Counter(r.status or r.error.split(":")[0] for r in failed),
            "first_failure": min((r.started for r in failed), default=restart_at) - restart_at,
            "last_failure": (last_failure - restart_at) if failed else None,
            # The first request after the last failure was sent here; every later one succeeded.
            "back_at": min((r.started for r in rows if r.started > last_failure), default=None) - restart_at
            if failed
            else 0.0,
            "p99_before": percentile([r.latency_ms for r in rows if r.started < restart_at], 99),
            # Once things settle: from 5 s after the last failure (or the fault) on.
            "p99_after": percentile([r.latency_ms for r in rows if r.started > (last_failure or restart_at) + 5], 99),
        }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=float, default=15, help="seconds of traffic before the restart")
    parser.add_argument("--after", type=float, default=40, help="seconds of traffic after the restart")
    parser.add_argument("--rate", type=float, default=20, help="requests/s to the page and to the beacon each")
    parser.add_argument("--readyz-rate", type=float, default=5)
    parser.add_argument("--broker", choices=["redis", "orm"], default="redis")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--down", type=float, default=0, help="instead of a restart: stop, stay down this many seconds, start"
    )
    parser.add_argument("--verbose", action="store_true", help="print the tails of the gunicorn and qcluster logs")
    args = parser.parse_args()
    if os.environ.get("DATABASE_URL"):
        sys.exit("This benchmark restarts its own throwaway PostgreSQL; unset DATABASE_URL.")

    from arv.testing.processes import free_port, postgres_server, redis_server, start_qcluster, stop

    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="arv-fault-")))
        database_url = stack.enter_context(postgres_server())
        redis_url = stack.enter_context(redis_server()) if args.broker == "redis" else ""
        bin_dir, data_dir, pg_log = postgres_control(database_url)
        port = free_port()
        env = bench_env(
            work,
            database_url=database_url,
            redis_url=redis_url,
            port=port,
            # One client IP sends every beacon here; the limiter still runs, it just never says no.
            BEACON_RATE_PER_MINUTE="100000000",
            TASK_WORKERS="2",
        )
        page_path = prepare(env)
        os.environ.update(env)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("setup_schedules", verbosity=0)

        gunicorn = start_gunicorn(env, port, workers=args.workers, log_path=work / "gunicorn.log")
        stack.callback(stop, gunicorn)
        cluster = start_qcluster(env=env, log_path=work / "qcluster.log")
        stack.callback(stop, cluster)
        wait_http(f"http://127.0.0.1:{port}/readyz")
        time.sleep(3)
        pids_before = (gunicorn.pid, worker_pids(gunicorn.pid), cluster.pid)
        status, seconds, _jobs = upload_and_wait(work, timeout=120)
        print(f"before the fault: an upload became {status} in {seconds:.1f} s", flush=True)

        from content.models import Portrait

        portrait_uuid = page_path.strip("/").split("/")[-1]
        views_at_start = Portrait.objects.get(unique_id=portrait_uuid).views_count
        load = OpenLoop(
            "127.0.0.1",
            port,
            [
                Target("page", args.rate, page_request(page_path)),
                Target("beacon", args.rate, beacon_request(f"{page_path}beacon")),
                Target("readyz", args.readyz_rate, get_request("/readyz")),
            ],
        )
        load.start()
        time.sleep(args.before)
        restart_at = time.monotonic()
        restart_seconds = restart_postgres(bin_dir, data_dir, pg_log, down=args.down)
        what = f"stopped for {args.down:g} s and started" if args.down else "pg_ctl restart -m fast"
        print(f"{what}: {restart_seconds:.2f} s", flush=True)
        time.sleep(1)
        status, job_seconds, jobs = upload_and_wait(work, timeout=max(args.after - 2, 30))
        print(f"after the restart: an upload became {status} in {job_seconds:.1f} s ({jobs})", flush=True)
        remaining = restart_at + restart_seconds + args.after - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)
        results = load.stop()

        # The web processes count page loads in memory and write them every second from a
        # background thread; give it a few seconds, then compare while they are still running.
        time.sleep(3)
        from django.db import close_old_connections

        close_old_connections()
        page_ok = sum(1 for r in results if r.target == "page" and r.ok)
        views_running = Portrait.objects.get(unique_id=portrait_uuid).views_count - views_at_start
        pids_after = (gunicorn.pid, worker_pids(gunicorn.pid), cluster.pid)
        alive = gunicorn.poll() is None and cluster.poll() is None
        stop(gunicorn)
        views_stopped = Portrait.objects.get(unique_id=portrait_uuid).views_count - views_at_start
        stop(cluster)
        qlog = (work / "qcluster.log").read_text(errors="replace")
        glog = (work / "gunicorn.log").read_text(errors="replace")

    report = recovery(results, restart_at)
    print()
    print(
        f"traffic: page {args.rate:g}/s, beacon {args.rate:g}/s, /readyz {args.readyz_rate:g}/s (open loop); "
        f"restart after {args.before:g} s, then {args.after:g} s more; broker {args.broker}; "
        f"gunicorn {args.workers} sync workers"
    )
    print()
    print(
        "| endpoint | requests | failed | failures | first failure s | last failure s | back for good at s "
        "| p99 before ms | p99 after ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, row in report.items():
        kinds = ", ".join(f"{k}×{v}" for k, v in row["kinds"].most_common()) or "—"
        last = f"{row['last_failure']:.2f}" if row["last_failure"] is not None else "—"
        first = f"{row['first_failure']:.2f}" if row["failed"] else "—"
        print(
            f"| {name} | {row['total']} | {row['failed']} | {kinds} | {first} | {last} | {row['back_at']:.2f} "
            f"| {row['p99_before']:.0f} | {row['p99_after']:.0f} |"
        )
    print()
    print("(when each request was sent, in seconds from the start of the fault)")
    print(f"{what}: {restart_seconds:.2f} s")
    overall = max(row["back_at"] for row in report.values())
    print(f"every endpoint answering again for good: {overall:.2f} s after the restart began")
    print(f"upload after the restart: {status} in {job_seconds:.1f} s, jobs {jobs}")
    print(
        f"same processes before and after (gunicorn master+workers, qcluster): {pids_before == pids_after}, "
        f"alive: {alive}"
    )
    print(
        f"page loads answered 200: {page_ok}; views written while running: {views_running}; "
        f"after a graceful stop: {views_stopped}"
    )
    print(f"qcluster log: {qlog.count('ERROR')} ERROR lines; gunicorn log: {glog.count('ERROR')} ERROR lines")
    timeline(results, restart_at, until=restart_seconds + 6)
    if args.verbose or status != "ready":
        print(qlog[-4000:])
        print(glog[-4000:])


def timeline(results, restart_at: float, *, until: float) -> None:
    """Per second around the restart: successes/requests per endpoint."""
    print()
    print("second | " + " | ".join(sorted({r.target for r in results})))
    buckets = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for r in results:
        second = int((r.started - restart_at) // 1)
        cell = buckets[second][r.target]
        cell[0] += r.ok
        cell[1] += 1
    for second in range(-2, int(until) + 1):
        row = buckets.get(second, {})
        cells = [f"{row[t][0]}/{row[t][1]}" if t in row else "-" for t in sorted({r.target for r in results})]
        print(f"{second:+d} | " + " | ".join(cells))


if __name__ == "__main__":
    main()
