"""What issue 16's checks cost on the hot paths, each against the code it replaced, in one run.

1. ``/media/<id>/…``: which row references a file (``viewer.media.owner_of``: one query on the
   portrait's unique index, joined to its videos and jobs) against the check it replaced (the
   company of the path's first segment, deactivated or expired: ``company_is_dark`` below, kept
   here as the reference), over a PostgreSQL database of --portraits photos, each with 2 videos
   and 4 jobs, plus one album marker per project. Prints the median time per lookup and the plan.
2. The viewer page served from the micro-cache (what a QR burst hits), in-process through the
   whole middleware stack, counts batched per second (VIEWS_FLUSH_SECONDS=1, the default): views
   counted on every load (VIEW_COUNT_WINDOW_SECONDS=0, the old behaviour) against one view per
   visitor and photo per minute, for new visitors and for one visitor reloading.

Starts a throwaway PostgreSQL cluster unless $DATABASE_URL points at an empty database; uses
Redis for the cache when $REDIS_URL is set (as in production), else the file cache.

    .venv/bin/python bench/media_and_views.py [--portraits 100000] [--lookups 2000] [--loads 3000]

``--portraits 0`` measures the viewer page only.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"


def generate(portraits: int) -> list[str]:
    """Rows only (no files): 20 companies, 10 projects each, *portraits* photos with 2 videos and 4
    jobs each, one album marker per project. Returns every referenced name."""
    from companies.models import Company, Project
    from content.models import Portrait, Video
    from markers.models import Job, ProjectMarker

    companies = Company.objects.bulk_create(Company(name=f"C{i}", slug=f"c{i}") for i in range(20))
    projects = Project.objects.bulk_create(
        Project(company=c, name=f"P{j}", slug=f"p{j}") for c in companies for j in range(10)
    )
    names = []
    batch = 5000
    for start in range(0, portraits, batch):
        rows = []
        for i in range(start, min(start + batch, portraits)):
            project = projects[i % len(projects)]
            unique_id = uuid.uuid4()
            folder = f"{project.company.slug}/{project.slug}/{unique_id}"
            rows.append(
                Portrait(
                    company_id=project.company_id,
                    project=project,
                    unique_id=unique_id,
                    title=f"Photo {i}",
                    image=f"{folder}/photo-{i}.jpg",
                    preview=f"{folder}/preview-{i}.webp",
                )
            )
        Portrait.objects.bulk_create(rows)
        videos, jobs = [], []
        for p in rows:
            folder = p.image.name.rsplit("/", 1)[0]
            for v in range(2):
                videos.append(
                    Video(
                        portrait=p,
                        file=f"{folder}/video-{v}.mp4",
                        web_file=f"{folder}/web-{v}.mp4",
                        poster=f"{folder}/poster-{v}.webp",
                        title="v",
                    )
                )
            for kind, ext in (("mindar", "mind"), ("nft", "iset"), ("preview", "webp")):
                jobs.append(Job(portrait=p, kind=kind, status="ready", output=f"{folder}/{kind}-x.{ext}"))
        Video.objects.bulk_create(videos)  # PostgreSQL returns their ids
        jobs += [Job(portrait=v.portrait, video=v, kind="video", status="ready") for v in videos]
        Job.objects.bulk_create(jobs)
        names += [p.image.name for p in rows] + [v.poster.name for v in videos]
        names += [j.output.name.replace(".iset", ".fset3") for j in jobs if j.kind == "nft"]
    ProjectMarker.objects.bulk_create(
        ProjectMarker(project=p, output=f"{p.company.slug}/{p.slug}/album-x.mind") for p in projects
    )
    names += [f"{p.company.slug}/{p.slug}/album-x.mind" for p in projects[:20]]
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return names


def company_is_dark(path: str) -> bool:
    """The reference: what arv/media.py checked before issue 16 (the path's first segment)."""
    from django.db.models import Q
    from django.utils import timezone

    from companies.models import Company

    prefix = path.split("/", 1)[0]
    owner = Q(storage_prefix=prefix) | Q(storage_prefix="", slug=prefix)
    dark = Q(is_active=False) | Q(subscription_expires_at__lte=timezone.now())
    return Company.objects.filter(owner & dark).exists()


def per_call_us(function, names: list[str], rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for name in names:
            function(name)
        times.append((time.perf_counter() - started) / len(names) * 1e6)
    return statistics.median(times)


def media_lookups(names: list[str], lookups: int, rng: random.Random) -> None:
    from django.db import connection

    from viewer.media import owner_of

    sample = rng.sample(names, min(lookups, len(names)))
    assert all(owner_of(name) is not None for name in sample[:200]), "a referenced name was not found"
    missing = [name.rsplit("/", 1)[0] + "/stray.mp4" for name in sample]
    reference = per_call_us(company_is_dark, sample)
    found = per_call_us(owner_of, sample)
    not_found = per_call_us(owner_of, missing)
    print(f"| lookup | µs per call (median of 5 × {len(sample)}) | vs reference |")
    print("|---|---|---|")
    print(f"| reference: company of the first segment dark? | {reference:.0f} | 1.00 |")
    print(f"| owner_of, referenced file | {found:.0f} | {found / reference:.2f} |")
    print(f"| owner_of, file no row references | {not_found:.0f} | {not_found / reference:.2f} |")
    portrait_name = next(n for n in sample if n.count("/") == 3 and n.endswith(".webp"))
    with connection.cursor() as cursor:
        from django.test.utils import CaptureQueriesContext

        import viewer.media as media_module

        with CaptureQueriesContext(connection) as queries:
            media_module.owner_of(portrait_name)
        cursor.execute("EXPLAIN ANALYZE " + queries[-1]["sql"])
        print()
        print("```")
        print("\n".join(row[0] for row in cursor.fetchall()))
        print("```")


def page_loads(loads: int) -> None:
    from django.conf import settings
    from django.core.cache import cache
    from django.test import Client

    from companies.models import Company, Project
    from content.models import Portrait
    from viewer import counter, pagecache

    project = Project.objects.create(company=Company.objects.create(name="V", slug="v"), name="V", slug="v")
    portrait = make_ready_portrait(project)
    url = portrait.get_public_url()
    client = Client()
    settings.VIEWER_PAGE_CACHE_SECONDS = 300
    settings.VIEWS_FLUSH_SECONDS = 1
    cache.clear()
    pagecache.clear()
    assert client.get(url, HTTP_USER_AGENT=PHONE).status_code == 200

    def run(window: int, addresses) -> float:
        settings.VIEW_COUNT_WINDOW_SECONDS = window
        rounds = []
        for _ in range(3):
            started = time.perf_counter()
            for i in range(loads):
                client.get(url, HTTP_USER_AGENT=PHONE, REMOTE_ADDR=addresses(i))
            rounds.append(loads / (time.perf_counter() - started))
        return statistics.median(rounds)

    counter_ = iter(range(10**9))

    def fresh(_i):  # a new visitor every load
        n = next(counter_)
        return f"198.{18 + (n >> 16 & 1)}.{n >> 8 & 255}.{n & 255}"  # the benchmarking range, 198.18.0.0/15

    every = run(0, fresh)
    new_visitors = run(60, fresh)
    reloads = run(60, lambda _i: "192.0.2.1")
    counter.shutdown()
    cache_kind = "Redis" if settings.REDIS_URL else "file cache"
    print(f"| viewer page from the micro-cache ({cache_kind}), in-process | loads/s (median of 3 × {loads}) | ratio |")
    print("|---|---|---|")
    print(f"| every load counted (reference, window 0) | {every:.0f} | 1.00 |")
    print(f"| one view per visitor and minute, new visitors | {new_visitors:.0f} | {new_visitors / every:.2f} |")
    print(f"| one view per visitor and minute, one visitor reloading | {reloads:.0f} | {reloads / every:.2f} |")
    Portrait.objects.filter(pk=portrait.pk).delete()


def make_ready_portrait(project):
    """A portrait the page plays: rows pointing at names (the page never opens the files)."""
    from content.models import Portrait, Video
    from markers.models import Job

    portrait = Portrait.objects.create(
        company=project.company, project=project, title="Bench", image="v/v/x/photo.jpg", image_width=800
    )
    Video.objects.create(portrait=portrait, file="v/v/x/video.mp4", title="v", status="ready", mime_type="video/mp4")
    Job.objects.create(portrait=portrait, kind="mindar", status="ready", output="v/v/x/m.mind")
    return portrait


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--portraits", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--loads", type=int, default=3000)
    args = parser.parse_args()
    rng = random.Random(16)
    from arv.testing.processes import postgres_server
    from bench.analytics_dashboard import setup_django

    with ExitStack() as stack:
        database_url = os.environ.get("DATABASE_URL") or stack.enter_context(postgres_server())
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="arv-bench-")))
        setup_django(database_url, work)  # REDIS_URL, when set, comes along from the environment
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        if args.portraits:
            started = time.monotonic()
            names = generate(args.portraits)
            print(
                f"{args.portraits} portraits, {2 * args.portraits} videos, {6 * args.portraits} jobs, 200 album "
                f"markers generated in {time.monotonic() - started:.0f} s"
            )
            print()
            media_lookups(names, args.lookups, rng)
            print()
        page_loads(args.loads)


if __name__ == "__main__":
    main()
