"""Analytics dashboard server time over 1,000,000 view sessions on PostgreSQL.

Starts a throwaway PostgreSQL cluster (initdb as the ``postgres`` user, on 127.0.0.1, a free
port, a data directory under /tmp; stopped and deleted on exit) unless $DATABASE_URL points at one
(an empty database: the script migrates it and fills it). Generates the sessions with COPY, spread
over 365 days, 20 companies (the first, "big", holds ~40 %), their projects and 4,000 portraits,
with a weekly rhythm, growth over the year, and a realistic mix of devices, systems, browsers,
finds and plays. Then renders the pages in-process with Django's test client (real middleware,
session and templates; no network) and prints the median of N warm runs as a markdown table.

    .venv/bin/python bench/analytics_dashboard.py [--sessions 1000000] [--runs 7] [--rollup-days 90]

``--rollup-days N`` (default 0: off) afterwards rolls up everything older than N days into the
daily table, as the retention job would, times that, and measures the pages again.
Needs PostgreSQL (Debian package) and root (for runuser) unless DATABASE_URL is set.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COMPANIES = 20
PROJECTS_PER_COMPANY = 5
PORTRAITS = 4000
BIG_SHARE = 0.4
DAYS = 365

USER_AGENTS = {  # (device, os, browser): (weight, user agent)
    ("mobile", "iOS", "Mobile Safari"): (
        38,
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Mobile/15E148 Safari/604.1",
    ),
    ("mobile", "Android", "Chrome Mobile"): (
        24,
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Mobile Safari/537.36",
    ),
    ("mobile", "Android", "Samsung Internet"): (
        8,
        "Mozilla/5.0 (Linux; Android 14; SM-A546B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
    ),
    ("mobile", "iOS", "Chrome Mobile iOS"): (
        6,
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
    ),
    ("tablet", "iOS", "Mobile Safari"): (
        9,
        "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Mobile/15E148 Safari/604.1",
    ),
    ("tablet", "Android", "Chrome"): (
        4,
        "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    ),
    ("desktop", "Windows", "Chrome"): (
        6,
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
    ),
    ("desktop", "Mac OS X", "Safari"): (
        3,
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Safari/605.1.15",
    ),
    ("other", "Other", "Other"): (2, "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36"),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_cluster(stack: ExitStack) -> str:
    """A throwaway cluster; returns its DATABASE_URL. Stopped and removed when *stack* closes."""
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not bins:
        sys.exit("PostgreSQL is not installed (apt-get install postgresql) and DATABASE_URL is not set.")
    pg_bin = bins[-1].parent
    work = Path(tempfile.mkdtemp(prefix="arv-bench-pg-"))
    stack.callback(shutil.rmtree, work, ignore_errors=True)
    data, port = work / "data", free_port()
    shutil.chown(work, "postgres")
    as_pg = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*as_pg, pg_bin / "initdb", "-D", data, "-A", "trust", "-U", "postgres"], check=True, stdout=subprocess.DEVNULL
    )
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={work} -c fsync=off"
    subprocess.run(
        [*as_pg, pg_bin / "pg_ctl", "-D", data, "-w", "-l", work / "pg.log", "-o", options, "start"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    stack.callback(
        subprocess.run,
        [*as_pg, pg_bin / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop"],
        stdout=subprocess.DEVNULL,
    )
    psql = [pg_bin / "psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-qc"]
    subprocess.run([*psql, "CREATE ROLE arv LOGIN CREATEDB"], check=True)
    subprocess.run([*psql, "CREATE DATABASE arv OWNER arv"], check=True)
    return f"postgres://arv@127.0.0.1:{port}/arv"


def setup_django(database_url: str, var_dir: Path) -> None:
    os.environ.update(
        {
            "ARV_IGNORE_DOTENV": "1",
            "DJANGO_SETTINGS_MODULE": "arv.settings",
            "DEBUG": "0",
            "SECRET_KEY": "bench-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
            "DATABASE_URL": database_url,
            "VAR_DIR": str(var_dir),
            "LOG_LEVEL": "WARNING",
            "ALLOWED_HOSTS": "testserver",
        }
    )
    import django

    django.setup()
    from django.conf import settings

    # The manifest storage needs collectstatic; page times do not depend on static URLs.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def generate(sessions: int, rng: random.Random) -> dict:
    """Companies, projects and portraits through the ORM; sessions through COPY. Returns ids."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from companies.models import Company, Membership, Project
    from content.models import Portrait

    owner = get_user_model().objects.create_user("bench-owner", is_staff=True, is_superuser=True)
    companies = [Company.objects.create(name=f"Company {i}", slug=f"company-{i}") for i in range(COMPANIES)]
    Membership.objects.create(user=owner, company=companies[0], role=Membership.Role.OWNER)
    projects = {
        c.pk: [
            Project.objects.create(company=c, name=f"Project {j}", slug=f"project-{j}")
            for j in range(PROJECTS_PER_COMPANY)
        ]
        for c in companies
    }
    # The big company has 30 % of the portraits; the others share the rest.
    portraits = []
    for i in range(PORTRAITS):
        company = companies[0] if i < PORTRAITS * 0.3 else companies[1 + i % (COMPANIES - 1)]
        project = projects[company.pk][i % PROJECTS_PER_COMPANY]
        portraits.append(Portrait(company=company, project=project, title=f"Photo {i}", image=f"bench/{i}.jpg"))
    Portrait.objects.bulk_create(portraits, batch_size=1000)
    big = [p for p in portraits if p.company_id == companies[0].pk]
    rest = [p for p in portraits if p.company_id != companies[0].pk]
    # Some photos are far more popular than others (a long tail).
    big_weights = [1 / (i + 1) ** 0.8 for i in range(len(big))]
    rest_weights = [1 / (i % 150 + 1) ** 0.8 for i in range(len(rest))]

    keys = list(USER_AGENTS)
    client_weights = [USER_AGENTS[k][0] for k in keys]
    now = timezone.now()
    # Day weights: growth over the year and busier weekends.
    day_weights = [(0.5 + d / DAYS) * (1.4 if (now - timedelta(days=d)).weekday() >= 5 else 1) for d in range(DAYS)]
    day_weights.reverse()  # index 0 = the oldest day

    columns = (
        "session_id, company_id, project_id, portrait_id, created_at, updated_at, user_agent, device_type, browser, "
        "os, ip_address, engine, duration_seconds, found, time_to_found_ms, video_played, watch_seconds, error"
    )
    # Rows go in in time order, as the beacon writes them: a date range is then a contiguous
    # stretch of the table, which is what the indexes on (company, created_at) rely on.
    per_day = Counter(rng.choices(range(DAYS), day_weights, k=sessions))
    started, written = time.monotonic(), 0
    buffer = io.StringIO()
    with connection.cursor() as cursor:
        for day in range(DAYS):
            n = per_day[day]
            n_big = sum(1 for _ in range(n) if rng.random() < BIG_SHARE)
            chosen = rng.choices(big, big_weights, k=n_big) + rng.choices(rest, rest_weights, k=n - n_big)
            rng.shuffle(chosen)
            clients = rng.choices(keys, client_weights, k=n)
            midnight = (now - timedelta(days=DAYS - 1 - day)).replace(hour=0, minute=0, second=0, microsecond=0)
            # Today only up to now: nothing in the future.
            seconds = 86400 if day < DAYS - 1 else max(1, int((now - midnight).total_seconds()))
            times = sorted(rng.randrange(seconds) for _ in range(n))
            for portrait, client, second in zip(chosen, clients, times, strict=True):
                created = midnight + timedelta(seconds=second)
                device, os_name, browser = client
                found = rng.random() < (0.86 if device != "desktop" else 0.35)
                ttf = int(min(rng.lognormvariate(7.4, 0.7), 600_000)) if found else None
                played = found and rng.random() < 0.75
                watch = rng.randint(2, 60) if played else 0
                duration = (ttf or 0) // 1000 + watch + rng.randint(2, 30)
                ttf_text = "\\N" if ttf is None else str(ttf)  # COPY's NULL
                buffer.write(
                    f"{uuid.uuid4()}\t{portrait.company_id}\t{portrait.project_id}\t{portrait.pk}\t{created.isoformat()}\t"
                    f"{created.isoformat()}\t{USER_AGENTS[client][1]}\t{device}\t{browser}\t{os_name}\t"
                    f"203.0.{rng.randrange(256)}.0\tmindar\t{duration}\t{'t' if found else 'f'}\t"
                    f"{ttf_text}\t{'t' if played else 'f'}\t{watch}\t\n"
                )
            written += n
            if buffer.tell() > 20_000_000 or day == DAYS - 1:
                with cursor.copy(f"COPY viewer_viewsession ({columns}) FROM STDIN") as copy:
                    copy.write(buffer.getvalue())
                buffer = io.StringIO()
                print(f"  {written:>9,} sessions ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE viewer_viewsession")
    return {"owner": owner, "big": companies[0], "project": projects[companies[0].pk][0], "portrait": big[0]}


def existing() -> dict:
    """The ids generate() returned, found again in a database it filled earlier."""
    from django.contrib.auth import get_user_model

    from companies.models import Company, Project
    from content.models import Portrait

    big = Company.objects.get(slug="company-0")
    return {
        "owner": get_user_model().objects.get(username="bench-owner"),
        "big": big,
        "project": Project.objects.get(company=big, slug="project-0"),
        "portrait": Portrait.objects.filter(company=big).order_by("pk").first(),
    }


def measure(client, url: str, runs: int) -> tuple[float, int, list]:
    """(median ms over *runs* warm runs, queries, the slowest queries of the last run)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(2):  # warm: caches, connection, template loading
        assert client.get(url).status_code == 200, url
    times = []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url)
            if response.streaming:
                b"".join(response.streaming_content)
            times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, url
    slowest = sorted(queries.captured_queries, key=lambda q: -float(q["time"]))[:3]
    return statistics.median(times), len(queries.captured_queries), slowest


def pages(ids: dict) -> list[tuple[str, str]]:
    from django.urls import reverse

    from analytics.selectors import DateRange

    def q(days, bucket):
        d = DateRange.last(days)
        return f"?start={d.start}&end={d.end}&bucket={bucket}"

    company = reverse("portal:analytics")
    return [
        ("portal's first page (visits of 7 days, prints rarely found in 30)", reverse("portal:dashboard")),
        ("company dashboard, last 30 days by day", company + q(30, "day")),
        ("company dashboard, last 365 days by day", company + q(365, "day")),
        ("company dashboard, last 365 days by month", company + q(365, "month")),
        (
            "project page, last 365 days",
            reverse("portal:project_analytics", args=[ids["project"].slug]) + q(365, "week"),
        ),
        (
            "photo page, last 365 days",
            reverse("portal:portrait_analytics", args=[ids["portrait"].unique_id]) + q(365, "week"),
        ),
        ("staff admin, all companies, last 30 days", reverse("admin:analytics") + q(30, "day")),
        ("staff admin, all companies, last 365 days", reverse("admin:analytics") + q(365, "week")),
        ("company CSV export, last 30 days", reverse("portal:analytics_csv") + q(30, "day")),
    ]


def run_pages(client, ids: dict, runs: int, rows: list, phase: str, verbose: bool) -> None:
    for label, url in pages(ids):
        median, count, slowest = measure(client, url, runs)
        rows.append((phase, label, median, count))
        print(f"  {phase}: {label}: {median:.0f} ms, {count} queries", file=sys.stderr)
        if verbose:
            for query in slowest:
                print(f"      {float(query['time']) * 1000:7.1f} ms  {query['sql'][:160]}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7, help="timed warm runs per page (the median is reported)")
    parser.add_argument("--rollup-days", type=int, default=0, help="then roll up days older than this and re-measure")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--verbose", action="store_true", help="show the three slowest queries of each page")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure the sessions an earlier run left in $DATABASE_URL (migrated first)",
    )
    args = parser.parse_args()

    with ExitStack() as stack:
        database_url = os.environ.get("DATABASE_URL") or postgres_cluster(stack)
        var_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="arv-bench-var-")))
        setup_django(database_url, var_dir)
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client

        if connection.vendor != "postgresql":
            sys.exit("This benchmark is about PostgreSQL: set DATABASE_URL=postgres://… or unset it.")
        call_command("migrate", "--noinput", verbosity=0)
        from viewer.models import ViewSession

        started = time.monotonic()
        if args.reuse:
            ids = existing()
            args.sessions = ViewSession.objects.count()
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE viewer_viewsession")
        else:
            print(f"Generating {args.sessions:,} sessions…", file=sys.stderr)
            ids = generate(args.sessions, random.Random(args.seed))
        load_s = time.monotonic() - started

        big_rows = ViewSession.objects.filter(company=ids["big"]).count()
        with connection.cursor() as cursor:
            cursor.execute("SELECT version(), pg_size_pretty(pg_total_relation_size('viewer_viewsession'))")
            version, size = cursor.fetchone()
        client = Client()
        client.force_login(ids["owner"])
        rows: list = []
        run_pages(client, ids, args.runs, rows, "raw", args.verbose)
        rollup_s = None
        if args.rollup_days:
            from viewer.retention import rollup_view_sessions

            started = time.monotonic()
            result = rollup_view_sessions(older_than_days=args.rollup_days)
            rollup_s = time.monotonic() - started
            print(f"  rollup: {result} in {rollup_s:.0f} s", file=sys.stderr)
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE viewer_viewsession")
                cursor.execute("VACUUM ANALYZE viewer_viewsessiondaily")
                cursor.execute(
                    "SELECT pg_size_pretty(pg_total_relation_size('viewer_viewsession')), "
                    "pg_size_pretty(pg_total_relation_size('viewer_viewsessiondaily'))"
                )
                sizes_after = cursor.fetchone()
            run_pages(client, ids, args.runs, rows, f"raw ≤{args.rollup_days} d + rollup", args.verbose)

    print(
        f"\n{args.sessions:,} sessions over {DAYS} days ({load_s:.0f} s to generate and load, or reuse), "
        f"table + indexes {size}; "
        f"the measured company has {big_rows:,} ({big_rows / args.sessions:.0%}). {version.split(',')[0]}. "
        f"Median of {args.runs} warm runs, Django test client in-process."
    )
    if rollup_s is not None:
        print(
            f"Rolling up every day older than {args.rollup_days} days took {rollup_s:.0f} s ({result}); "
            f"then raw sessions take {sizes_after[0]} and daily totals {sizes_after[1]} (tables + indexes)."
        )
    print()
    print("| data | page | server time (median) | queries |")
    print("|---|---|---|---|")
    for phase, label, median, count in rows:
        print(f"| {phase} | {label} | {median:.0f} ms | {count} |")


if __name__ == "__main__":
    main()
