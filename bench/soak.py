"""Soak: a fixed request rate on the viewer page and the beacon for ten minutes.

Starts a throwaway PostgreSQL and Redis (production's database, cache and broker), prepares a ready
portrait through the real pipeline, starts gunicorn with production settings (DEBUG off, 2 sync
workers), and sends an open-loop load (bench/fault_harness.py: requests go out on schedule
whatever the server does, latency counted from the scheduled moment) to the viewer page and to
its beacon. Every 10 s it samples the RSS and CPU time of each gunicorn worker. Prints, per
minute and endpoint, requests, errors and p50/p95/p99 latency; then the workers' RSS per minute
with the least-squares slope, and checks that every page load and every beacon was recorded.

    .venv/bin/python bench/soak.py [--minutes 10] [--page-rate 50] [--beacon-rate 50]

Needs root (initdb runs as postgres) and the Debian packages postgresql and redis-server.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from contextlib import ExitStack, suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.fault_harness import (  # noqa: E402
    OpenLoop,
    Target,
    beacon_request,
    bench_env,
    page_request,
    percentile,
    rss_kib,
    start_gunicorn,
    wait_http,
    worker_pids,
)
from bench.viewer_load import prepare  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def runqueue_wait_seconds(pid: int) -> float:
    """Time the process was ready to run but waited for a CPU (/proc/<pid>/schedstat, field 2).

    On this shared 2-core box other people's jobs take the CPUs for seconds at a time; this says
    whether a slow minute was the server's own doing or the machine's.
    """
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


class Sampler(threading.Thread):
    """RSS (KiB) and CPU seconds of each gunicorn worker, every *interval* seconds."""

    def __init__(self, master_pid: int, interval: float, started_at: float):
        super().__init__(name="sampler", daemon=True)
        self.master_pid, self.interval, self.started_at = master_pid, interval, started_at
        self.samples: list[tuple[float, int, int, float, float]] = []  # (t, pid, rss KiB, cpu s, run-queue wait s)
        # (t, 1-minute load average, CPU seconds of this process: the load generator)
        self.context: list[tuple[float, float, float]] = []
        self.stop_event = threading.Event()

    def sample(self) -> None:
        now = time.monotonic() - self.started_at
        own = os.times()
        self.context.append((now, os.getloadavg()[0], own.user + own.system))
        for pid in worker_pids(self.master_pid):
            # A worker that just exited is skipped; its successor shows up as a new PID.
            with suppress(FileNotFoundError, ProcessLookupError):
                self.samples.append((now, pid, rss_kib(pid), cpu_seconds(pid), runqueue_wait_seconds(pid)))

    def run(self) -> None:
        self.sample()
        while not self.stop_event.wait(self.interval - (time.monotonic() - self.started_at) % self.interval):
            self.sample()


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value), per minute."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return 60 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=30, help="seconds at the same rate before measuring")
    parser.add_argument("--page-rate", type=float, default=50)
    parser.add_argument("--beacon-rate", type=float, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sample", type=float, default=10, help="seconds between RSS samples")
    parser.add_argument("--raw", metavar="CSV", help="also write every request's timings here")
    args = parser.parse_args()
    if os.environ.get("DATABASE_URL") or os.environ.get("REDIS_URL"):
        sys.exit("This benchmark starts its own PostgreSQL and Redis; unset DATABASE_URL and REDIS_URL.")

    from arv.testing.processes import free_port, postgres_server, redis_server, stop

    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="arv-soak-")))
        database_url = stack.enter_context(postgres_server())
        redis_url = stack.enter_context(redis_server())
        port = free_port()
        env = bench_env(
            work,
            database_url=database_url,
            redis_url=redis_url,
            port=port,
            # Every beacon comes from one IP here; the limiter still runs, it just never says no.
            BEACON_RATE_PER_MINUTE="100000000",
        )
        page_path = prepare(env)
        os.environ.update(env)
        import django

        django.setup()
        from content.models import Portrait
        from viewer.models import ViewSession

        uuid = page_path.strip("/").split("/")[-1]
        gunicorn = start_gunicorn(env, port, workers=args.workers, log_path=work / "gunicorn.log")
        stack.callback(stop, gunicorn)
        wait_http(f"http://127.0.0.1:{port}/healthz")
        load_at_start = os.getloadavg()

        targets = [
            Target("page", args.page_rate, page_request(page_path)),
            Target("beacon", args.beacon_rate, beacon_request(f"{page_path}beacon")),
        ]
        warmup = OpenLoop("127.0.0.1", port, targets)
        warmup.start()
        time.sleep(args.warmup)
        warm = warmup.stop()
        time.sleep(2)  # the warm-up's page loads are written within a second
        views_before = Portrait.objects.get(unique_id=uuid).views_count
        sessions_before = ViewSession.objects.count()

        pids_at_start = worker_pids(gunicorn.pid)
        targets = [
            Target("page", args.page_rate, page_request(page_path)),
            Target("beacon", args.beacon_rate, beacon_request(f"{page_path}beacon")),
        ]
        duration = args.minutes * 60
        load = OpenLoop("127.0.0.1", port, targets, duration=duration)
        load.start()
        sampler = Sampler(gunicorn.pid, args.sample, load.started_at)
        sampler.start()
        while time.monotonic() - load.started_at < duration:
            time.sleep(min(5.0, duration - (time.monotonic() - load.started_at) + 0.01))
            done = len(load.snapshot())
            print(f"\r{time.monotonic() - load.started_at:5.0f} s, {done} responses", end="", flush=True)
        results = load.stop()
        sampler.sample()
        sampler.stop_event.set()
        print()
        load_at_end = os.getloadavg()
        pids_at_end = worker_pids(gunicorn.pid)

        time.sleep(3)  # the workers write page-load counts every second
        views = Portrait.objects.get(unique_id=uuid).views_count - views_before
        sessions = ViewSession.objects.count() - sessions_before
        stop(gunicorn)
        errors_logged = (work / "gunicorn.log").read_text(errors="replace").count("ERROR")

    if args.raw:
        with open(args.raw, "w", newline="") as fh:
            out = csv.writer(fh)
            out.writerow(["target", "scheduled_s", "started_s", "finished_s", "status", "error"])
            t0 = min(r.scheduled for r in results)
            for r in results:
                out.writerow(
                    [
                        r.target,
                        f"{r.scheduled - t0:.4f}",
                        f"{r.started - t0:.4f}",
                        f"{r.finished - t0:.4f}",
                        r.status,
                        r.error,
                    ]
                )
    report(args, results, sampler, warm)
    page_ok = sum(1 for r in results if r.target == "page" and r.ok)
    # A visit's first post creates the row; the later ones update it.
    posts = [r for r in results if r.target == "beacon"]
    visits = -(-len(posts) // 3)
    print()
    print(f"load average at start {load_at_start[0]:.2f}, at end {load_at_end[0]:.2f} (shared machine)")
    same = "same" if pids_at_start == pids_at_end else "CHANGED"
    print(f"gunicorn workers at start {pids_at_start}, at end {pids_at_end}: {same}")
    print(f"page loads answered 200: {page_ok}; views counted: {views}")
    print(f"beacon visits sent: {visits}; view sessions recorded: {sessions}")
    print(f"ERROR lines in the gunicorn log: {errors_logged}")


def report(args, results, sampler, warm) -> None:
    samples = sampler.samples
    start = min(r.scheduled for r in results)
    per_minute = defaultdict(list)
    for r in results:
        per_minute[(int((r.scheduled - start) // 60), r.target)].append(r)
    total = len(results)
    failed = [r for r in results if not r.ok]
    print()
    print(
        f"offered: page {args.page_rate:g}/s + beacon {args.beacon_rate:g}/s for {args.minutes:g} min (open loop), "
        f"after {args.warmup:g} s of warm-up ({len(warm)} requests, {sum(not r.ok for r in warm)} failed); "
        f"gunicorn {args.workers} sync workers; PostgreSQL + Redis"
    )
    print(f"requests: {total}, failed: {len(failed)} ({100 * len(failed) / total:.3f} %)")
    if failed:
        kinds = defaultdict(int)
        for r in failed:
            kinds[(r.target, r.status, r.error[:60])] += 1
        print("failures:", dict(kinds))
    lag = [1000 * (r.started - r.scheduled) for r in results]
    print(
        f"load generator: send lag p50 {percentile(lag, 50):.1f} ms, p99 {percentile(lag, 99):.1f} ms, "
        f"max {max(lag):.0f} ms (from a request's slot to it leaving)"
    )
    for target in ("page", "beacon"):
        service = [1000 * (r.finished - r.started) for r in results if r.target == target]
        print(
            f"{target}: from sending to the full response p50 {percentile(service, 50):.1f} ms, "
            f"p99 {percentile(service, 99):.1f} ms, max {max(service):.0f} ms"
        )
    print()
    print(
        "| minute | page req | page err | page p50 ms | page p95 ms | page p99 ms "
        "| beacon req | beacon err | beacon p50 ms | beacon p95 ms | beacon p99 ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    minutes = sorted({m for m, _ in per_minute})
    for minute in minutes:
        cells = [str(minute + 1)]
        for target in ("page", "beacon"):
            rows = per_minute.get((minute, target), [])
            lat = [r.latency_ms for r in rows]
            cells += [
                str(len(rows)),
                str(sum(not r.ok for r in rows)),
                f"{percentile(lat, 50):.1f}",
                f"{percentile(lat, 95):.1f}",
                f"{percentile(lat, 99):.1f}",
            ]
        print("| " + " | ".join(cells) + " |")
    cells = ["all"]
    for target in ("page", "beacon"):
        rows = [r for r in results if r.target == target]
        lat = [r.latency_ms for r in rows]
        cells += [
            str(len(rows)),
            str(sum(not r.ok for r in rows)),
            f"{percentile(lat, 50):.1f}",
            f"{percentile(lat, 95):.1f}",
            f"{percentile(lat, 99):.1f}",
        ]
    print("| " + " | ".join(f"**{c}**" for c in cells) + " |")

    print()
    print("What else was happening, per minute (the machine is shared):")
    print()
    print(
        "| minute | send lag p99 ms | page server time p99 ms | beacon server time p99 ms "
        "| machine load average (highest sample) | gunicorn workers CPU % | gunicorn workers waiting for a CPU % "
        "| load generator CPU % |"
    )
    print("|---|---|---|---|---|---|---|---|")
    cpu_by_pid = defaultdict(list)
    wait_by_pid = defaultdict(list)
    for t, pid, _rss, cpu, wait in samples:
        cpu_by_pid[pid].append((t, cpu))
        wait_by_pid[pid].append((t, wait))

    def cpu_percent(series, lo, hi):
        inside = [(t, c) for t, c in series if lo - 1e-6 <= t <= hi + 1e-6]
        if len(inside) < 2:
            return float("nan")
        return 100 * (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])

    for minute in minutes:
        lo, hi = 60 * minute, 60 * (minute + 1)
        rows = [r for target in ("page", "beacon") for r in per_minute.get((minute, target), [])]
        lag_p99 = percentile([1000 * (r.started - r.scheduled) for r in rows], 99)
        server = {
            t: percentile([1000 * (r.finished - r.started) for r in per_minute.get((minute, t), [])], 99)
            for t in ("page", "beacon")
        }
        loads = [load for t, load, _ in sampler.context if lo <= t <= hi + 1e-6]
        workers = sum(cpu_percent(series, lo, hi) for series in cpu_by_pid.values())
        waiting = sum(cpu_percent(series, lo, hi) for series in wait_by_pid.values())
        own = cpu_percent([(t, c) for t, _, c in sampler.context], lo, hi)
        print(
            f"| {minute + 1} | {lag_p99:.0f} | {server['page']:.1f} | {server['beacon']:.1f} "
            f"| {max(loads) if loads else float('nan'):.2f} | {workers:.0f} | {waiting:.0f} | {own:.0f} |"
        )

    by_pid = defaultdict(list)
    for t, pid, rss, cpu, _wait in samples:
        by_pid[pid].append((t, rss, cpu))
    print()
    print(
        "| worker PID | samples | RSS minute 1 MiB | RSS last minute MiB | change MiB | slope KiB/min (all) "
        "| slope KiB/min (after minute 1) | CPU % of one core |"
    )
    print("|---|---|---|---|---|---|---|---|")
    end = max(t for t, *_ in samples)
    for pid, rows in sorted(by_pid.items()):
        first = [rss for t, rss, _ in rows if t < 60]
        last = [rss for t, rss, _ in rows if t >= end - 60]
        first_mib = statistics.fmean(first) / 1024 if first else float("nan")
        last_mib = statistics.fmean(last) / 1024 if last else float("nan")
        slope_all = slope_per_minute([(t, rss) for t, rss, _ in rows])
        slope_late = slope_per_minute([(t, rss) for t, rss, _ in rows if t >= 60])
        cpu = 100 * (rows[-1][2] - rows[0][2]) / (rows[-1][0] - rows[0][0]) if len(rows) > 1 else float("nan")
        print(
            f"| {pid} | {len(rows)} | {first_mib:.1f} | {last_mib:.1f} | {last_mib - first_mib:+.1f} "
            f"| {slope_all:+.0f} | {slope_late:+.0f} | {cpu:.0f} |"
        )
    print()
    print("RSS samples (MiB) per worker, every sample:")
    for pid, rows in sorted(by_pid.items()):
        print(f"  {pid}: " + " ".join(f"{rss / 1024:.1f}" for _, rss, _ in rows))


if __name__ == "__main__":
    main()
