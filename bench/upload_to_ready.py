"""Upload-to-ready latency with a real worker cluster on Redis (and PostgreSQL).

Starts a throwaway Redis and PostgreSQL (or uses $REDIS_URL / $DATABASE_URL) and a
`manage.py qcluster` with 2 workers, then uploads a 1 MP photo with a 3-second video through the
portal's upload view N times and measures, for each, the wall time from the start of the upload
request until the portrait's status is "ready" (MindAR marker, preview and video all done).
Each upload's photo differs by a few pixels, so no marker is reused by content hash.

    .venv/bin/python bench/upload_to_ready.py [--runs 10] [--workers 2]

Needs the Debian packages redis-server, postgresql and ffmpeg.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PHOTO = ROOT / "markers" / "tests" / "fixtures" / "mindar" / "astronaut_1000.jpg"


def variant(n: int) -> bytes:
    """The photo with a small mark in a corner: another image for the reuse-by-hash check."""
    from PIL import Image, ImageDraw

    img = Image.open(PHOTO).convert("RGB")
    # Rows of marks, so thousands of variants all differ (the batch benchmark needs 400).
    x, y = 5 + n % 900, 5 + n // 900 * 10
    ImageDraw.Draw(img).rectangle((x, y, x + 4, y + 4), fill=(n * 37 % 256, 0, 0))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=92)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()

    from arv.testing.processes import postgres_server, redis_server, start_qcluster, stop
    from bench.fault_harness import bench_env

    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="arv-bench-")))
        database_url = os.environ.get("DATABASE_URL") or stack.enter_context(postgres_server())
        redis_url = os.environ.get("REDIS_URL") or stack.enter_context(redis_server())
        env = bench_env(work, database_url=database_url, redis_url=redis_url, TASK_WORKERS=str(args.workers))
        os.environ.update(env)
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        from django.test import Client
        from django.test.utils import setup_test_environment

        setup_test_environment()  # lets the test client log in through the real session middleware
        settings.ALLOWED_HOSTS = ["testserver", *settings.ALLOWED_HOSTS]
        call_command("migrate", verbosity=0)

        from django.contrib.auth import get_user_model

        from companies.models import Company, Membership, Project
        from content.models import Portrait

        user = get_user_model().objects.create_user("bench")  # logged in with force_login
        company = Company.objects.create(name="Bench", slug="bench", storage_quota_bytes=50 * 1024**3)
        Membership.objects.create(user=user, company=company, role="owner")
        project = Project.objects.create(company=company, name="Bench", slug="bench")
        clip = work / "clip.mp4"
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
        worker = start_qcluster(env=env, log_path=work / "qcluster.log")
        stack.callback(stop, worker)
        time.sleep(3)  # the cluster's processes start before the first upload is timed

        client = Client()
        client.force_login(user)
        url = f"/portal/projects/{project.slug}/upload/"
        timings = []
        for n in range(args.runs):
            from django.core.files.uploadedfile import SimpleUploadedFile

            photo = SimpleUploadedFile("photo.jpg", variant(n))
            video = SimpleUploadedFile("clip.mp4", clip.read_bytes())
            started = time.perf_counter()
            response = client.post(url, {"title": f"run {n}", "image": photo, "video": video})
            assert response.status_code == 302, response.content[:500]
            portrait = Portrait.objects.order_by("-id").first()
            while True:
                status = Portrait.objects.values_list("status", flat=True).get(pk=portrait.pk)
                if status in ("ready", "failed"):
                    break
                if time.perf_counter() - started > args.timeout:
                    sys.exit(f"run {n}: not ready after {args.timeout} s; see {work / 'qcluster.log'}")
                time.sleep(0.02)
            elapsed = time.perf_counter() - started
            if status != "ready":
                sys.exit(f"run {n} failed: {(work / 'qcluster.log').read_text()[-2000:]}")
            timings.append(elapsed)
            print(f"run {n}: {elapsed:.2f} s", flush=True)

    print()
    print(
        f"photo: {PHOTO.name} (1000×1000, 1 MP) + a 3 s 640×360 video; "
        f"qcluster with {args.workers} workers on Redis, PostgreSQL, local disk"
    )
    print()
    print("| runs | median s | min s | max s |")
    print("|---|---|---|---|")
    print(f"| {len(timings)} | {statistics.median(timings):.2f} | {min(timings):.2f} | {max(timings):.2f} |")


if __name__ == "__main__":
    main()
