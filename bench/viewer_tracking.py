"""The arv engine side by side with MindAR on the viewer page, on fake-camera clips whose true
corners are known (issue 18, "Prove it" §2).

Starts gunicorn with production settings (DEBUG off, collected static files, brotli) on one photo
made by the real pipeline, and a second photo of the same image whose engine is ``arv`` (it reuses
the first one's marker). Then, in rounds, for each browser, each clip and each engine, a fresh
browser profile (a cold visit) opens the page through the fake-camera proxy. An init script samples
the page's contract (``data-ar-state``, ``data-ar-corners``, ``data-ar-fps``) and the fake camera's
frame number every 100 ms from ``scanning`` on, for ``--window`` seconds (a whole loop of a moving
clip at least). Per engine and clip:

- scanning: time from navigation to ``data-ar-state=scanning``; bytes: every response that ended
  before it (Resource Timing ``transferSize``: headers and compressed body), the fake camera's own
  files excluded;
- found: time from ``scanning`` to the first ``found``; found rate: the share of samples in which
  the photo is in view (the clip's truth) and reported found, counted from the first ``found`` (so
  it measures holding on to the photo; time to found measures finding it);
- corner error: per sample, the distance of the worst corner to the truth of the frame on screen or
  one of the frames shown in the 0.4 s before it (the engine reports the last frame it processed);
  median and 95th percentile over the samples;
- jitter (still clips only: one print, only the camera's noise changes): the standard deviation of
  each of the 8 corner coordinates over the samples from 1 s after ``found`` on, root mean square;
- fps: the median of ``data-ar-fps``; CPU per frame: the CPU time (user + system) of the browser's
  whole process tree over the window, divided by the frames processed meanwhile (fps × window).
  The fake camera's drawing is in it for both engines alike;
- another photo (``--other``): the same clips filmed from another photo; found at all = a false
  positive.

``--sweep`` instead measures the arv engine's One Euro filter: for each (minCutoff, beta) of a grid,
set on the running engine (``window.__arvEngine.setFilter``), jitter on a still clip (``small``: the
print 40 % of the frame's width, where the corners tremble most) and the corner error on the
hand-held ``drift`` clip (where the filter's lag shows); ``--sweep-clips`` picks others.

    .venv/bin/python bench/viewer_tracking.py --browsers chromium --rounds 2 --other
    .venv/bin/python bench/viewer_tracking.py --browsers firefox,webkit --clips frontal,tilted-50,drift --other
    .venv/bin/python bench/viewer_tracking.py --sweep

The viewer's own code (the arv engine's modules, viewer.js, contract.js) is measured gzipped from
static/ (``-9``, as collectstatic writes it).
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
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

from arv.testing.clips import CATALOGUE, corner_error, render_clip  # noqa: E402
from arv.testing.drivers import camera_proxy, launch, unavailable  # noqa: E402
from arv.testing.processes import stop  # noqa: E402
from bench.fault_harness import bench_env  # noqa: E402
from bench.viewer_bytes import MEASURE, WATCH_SCANNING, serve  # noqa: E402

PHOTO = ROOT / "markers/tests/fixtures/mindar/coffee_1000.jpg"
OTHER = ROOT / "markers/tests/fixtures/mindar/chelsea_1000.jpg"
STATIC_CLIPS = ["frontal", "steady", "tilted-30", "tilted-50", "small", "rotated-90", "dim", "blurred"]
MOVING_CLIPS = ["drift", "fast-pan", "leaves-and-reenters"]
OTHER_CLIPS = ["frontal", "drift"]
ENGINES = ("mindar", "arv")
LAG_SECONDS = 0.4
SETTLE_SECONDS = 1.0

# Samples the page's contract every 100 ms from "scanning" on (in the page: no round trips).
SAMPLER = """(() => {
  window.__arvSamples = [];
  const sample = () => {
    const b = document.body;
    if (!b || b.dataset.arState === undefined) return;
    if (window.__arvScanningAt === undefined) return;
    const cam = window.__arvFakeCamera || {};
    window.__arvSamples.push([
      performance.now(), b.dataset.arState, b.dataset.arCorners ? JSON.parse(b.dataset.arCorners) : null,
      cam.frame, cam.loops, Number(b.dataset.arFps || 0),
    ]);
    if (window.__arvSamples.length > 20000) window.__arvSamples.shift();
  };
  setInterval(sample, 100);
})();"""
WATCH_FOUND = WATCH_SCANNING.replace("scanning", "found").replace("__arvScanningAt", "__arvFoundAt")


def add_arv_photo(env: dict, page: str) -> str:
    """A second photo of the same image playing with the arv engine; returns its page path."""
    uuid = page.strip("/").split("/")[-1]
    script = f"""
from django.core.files.uploadedfile import SimpleUploadedFile
from content import services
from content.models import Portrait
from content.validators import validate_image
from markers.models import Job
from markers.jobs import run_job
first = Portrait.objects.get(unique_id="{uuid}")
with first.image.open("rb") as fh:
    image = validate_image(SimpleUploadedFile("c.jpg", fh.read()))
portrait = services.create_portrait(project=first.project, uploaded_by=None, title="Bench arv", image=image)
for video in first.videos.all():  # the same video file, as a row of the new photo
    video.pk = None
    video.portrait = portrait
    video.save()
for job in Job.objects.filter(portrait=portrait, kind__in=["mindar", "preview"]):
    run_job(job_id=job.pk)
Portrait.objects.filter(pk=portrait.pk).update(viewer_engine="arv", status="ready")
assert Job.objects.get(portrait=portrait, kind="mindar").compact_version
print(portrait.get_public_url())
"""
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


def process_tree(marker: str) -> set[int]:
    """Every process whose command line names *marker* (the browser's profile folder), and all
    their descendants."""
    parents, roots = {}, set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(stat[stat.rindex(")") + 2 :].split()[1])
        if marker in cmd:
            roots.add(pid)
    members, changed = set(roots), bool(roots)
    while changed:
        changed = False
        for pid, parent in parents.items():
            if parent in members and pid not in members:
                members.add(pid)
                changed = True
    return members


def tree_cpu_seconds(marker: str) -> float | None:
    """CPU time (user + system) of the browser's process tree (see process_tree)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, found = 0.0, False
    for pid in process_tree(marker):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += (int(fields[11]) + int(fields[12])) / tick
        found = True
    return total if found else None


def truth_near(clip, frame: int, loops: int):
    count = len(clip.truth)
    if count == 1:
        return [clip.truth[0]]
    lag = int(LAG_SECONDS * clip.spec.fps)
    return [clip.truth[i % count] for i in range(frame, frame - lag - 1, -1)]


def rms_std(corner_sets: list) -> float | None:
    if len(corner_sets) < 5:
        return None
    columns = [[c[i][j] for c in corner_sets] for i in range(4) for j in range(2)]
    return math.sqrt(sum(statistics.pstdev(col) ** 2 for col in columns) / len(columns))


def visit(engine_page: str, browser_name: str, clip, base: str, work: Path, *, window: float, extra=()) -> dict:
    scripts = (WATCH_SCANNING, WATCH_FOUND, SAMPLER, *extra)
    profile = work / f"profile-{time.monotonic_ns()}"
    with (
        camera_proxy(base, clip=clip.folder, init_scripts=scripts) as proxy,
        launch(browser_name, profile) as browser,
    ):
        browser.goto(proxy.url + engine_page)
        browser.wait_for("window.__arvScanningAt !== undefined", timeout=180)
        cpu_before = tree_cpu_seconds(str(profile))
        started = time.monotonic()
        time.sleep(window)
        cpu_after = tree_cpu_seconds(str(profile))
        elapsed = time.monotonic() - started
        measured = browser.evaluate(MEASURE)
        samples = browser.evaluate("window.__arvSamples")
        found_at = browser.evaluate("window.__arvFoundAt === undefined ? null : window.__arvFoundAt")
        scanning_at = browser.evaluate("window.__arvScanningAt")
        engine = browser.attr("arEngine")
        failed = browser.attr("arFailed")
    return summarise(
        clip, samples, found_at, scanning_at, measured, engine, failed, cpu_before, cpu_after, elapsed, window
    )


def summarise(clip, samples, found_at, scanning_at, measured, engine, failed, cpu0, cpu1, elapsed, window) -> dict:
    window_end = scanning_at + window * 1000
    samples = [s for s in samples if s[0] <= window_end]
    result = {
        "engine": engine,
        "failed": failed or "",
        "scanning_s": scanning_at / 1000,
        "bytes": measured["bytes"] if measured else None,
        "found_s": (found_at - scanning_at) / 1000 if found_at is not None else None,
    }
    in_view = found = 0
    errors, still = [], []
    for t, state, corners, frame, loops, _fps in samples:
        if found_at is None or t < found_at or frame is None:
            continue
        truths = [x for x in truth_near(clip, frame, loops) if x]
        if not truths:
            continue
        in_view += 1
        if state == "found" and corners:
            found += 1
            errors.append(min(corner_error(corners, truth) for truth in truths))
            if clip.spec.still and t >= found_at + SETTLE_SECONDS * 1000:
                still.append(corners)
    fps_values = [s[5] for s in samples if s[5] > 0]
    fps = statistics.median(fps_values) if fps_values else 0.0
    result["found_rate"] = found / in_view if in_view else None
    result["error_median"] = statistics.median(errors) if errors else None
    result["error_p95"] = sorted(errors)[min(len(errors) - 1, int(0.95 * len(errors)))] if errors else None
    result["jitter"] = rms_std(still) if clip.spec.still else None
    result["fps"] = fps
    frames = fps * elapsed
    # MindAR analyses on every animation frame (more often than the camera delivers new ones), arv
    # once per new camera frame: CPU per second says what the visit costs whatever the rate.
    result["cpu_per_s"] = (cpu1 - cpu0) / elapsed if cpu0 is not None and cpu1 is not None else None
    result["cpu_ms_per_frame"] = (
        (cpu1 - cpu0) * 1000 / frames if cpu0 is not None and cpu1 is not None and frames else None
    )
    return result


def code_size() -> dict:
    files = [
        *sorted((ROOT / "static/viewer/arv").glob("*.js")),
        ROOT / "static/viewer/arv.js",
        ROOT / "static/viewer/viewer.js",
        ROOT / "static/viewer/contract.js",
    ]
    return {
        "files": len(files),
        "raw": sum(f.stat().st_size for f in files),
        "gzip": sum(len(gzip.compress(f.read_bytes(), 9, mtime=0)) for f in files),
    }


def fmt(value, spec: str, unit: str = "") -> str:
    return "—" if value is None else f"{value:{spec}}{unit}"


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def run_comparison(args, base: str, pages: dict, work: Path) -> None:
    clips = args.clips.split(",") if args.clips else STATIC_CLIPS + MOVING_CLIPS
    runs = [(name, PHOTO) for name in clips]
    if args.other:
        runs += [(name, OTHER) for name in OTHER_CLIPS if not args.clips or name in clips]
    results: dict[tuple, list[dict]] = {}
    for round_no in range(args.rounds):
        for browser_name in args.browsers.split(","):
            reason = unavailable(browser_name)
            if reason:
                print(f"{browser_name}: skipped ({reason})", flush=True)
                continue
            for name, photo in runs:
                clip = render_clip(photo, CATALOGUE[name], work / f"clip-{photo.stem}-{name}")
                window = max(args.window, clip.spec.seconds * 1.5)
                # Alternate which engine goes first, so neither always gets the warmer machine.
                order = ENGINES if round_no % 2 == 0 else ENGINES[::-1]
                for engine in order:
                    r = visit(pages[engine], browser_name, clip, base, work, window=window)
                    results.setdefault((browser_name, name, photo.stem, engine), []).append(r)
                    print(
                        f"round {round_no + 1} {browser_name} {name}/{photo.stem} {engine}: {json.dumps(r)}", flush=True
                    )
    print()
    print(
        "| browser | clip | photo | engine | scanning | bytes before scanning | found after | found rate | "
        "corner error median / p95 | jitter | fps | CPU ms/frame | CPU s/s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (browser_name, name, photo, engine), rs in results.items():
        found = [r["found_s"] for r in rs]
        found_text = (
            "not found"
            if all(f is None for f in found)
            else f"{med(found):.1f} s"
            + ("" if all(f is not None for f in found) else f" ({sum(f is not None for f in found)}/{len(rs)})")
        )
        served = {r["engine"] for r in rs}
        label = engine if served == {engine} else f"{engine} (served: {'/'.join(sorted(served))})"
        print(
            f"| {browser_name} | {name} | {photo} | {label} | {fmt(med(r['scanning_s'] for r in rs), '.2f', ' s')} | "
            f"{fmt(med(r['bytes'] for r in rs), ',.0f', ' B')} | {found_text} | "
            f"{fmt(med(r['found_rate'] for r in rs), '.0%')} | "
            f"{fmt(med(r['error_median'] for r in rs), '.1f')} / {fmt(med(r['error_p95'] for r in rs), '.1f')} px | "
            f"{fmt(med(r['jitter'] for r in rs), '.2f', ' px')} | {fmt(med(r['fps'] for r in rs), '.1f')} | "
            f"{fmt(med(r['cpu_ms_per_frame'] for r in rs), '.0f')} | {fmt(med(r['cpu_per_s'] for r in rs), '.2f')} |"
        )
    print()
    print("Ratios arv / MindAR (medians over the photo's clips; lower is better except found rate and fps):")
    for browser_name in args.browsers.split(","):
        keys = [k for k in results if k[0] == browser_name and k[2] == PHOTO.stem]
        if not keys:
            continue

        def per_engine(field, engine, keys=keys, browser_name=browser_name):
            return med(r[field] for k in keys if k[3] == engine for r in results[k])

        line = []
        for field in (
            "scanning_s",
            "bytes",
            "found_s",
            "found_rate",
            "error_median",
            "error_p95",
            "jitter",
            "fps",
            "cpu_ms_per_frame",
        ):
            a, m = per_engine(field, "arv"), per_engine(field, "mindar")
            line.append(f"{field} {fmt(a / m if a is not None and m else None, '.2f')}")
        print(f"- {browser_name}: " + ", ".join(line))
        false_positives = {
            engine: sum(
                1
                for k in results
                if k[0] == browser_name and k[2] == OTHER.stem and k[3] == engine
                for r in results[k]
                if r["found_s"] is not None
            )
            for engine in ENGINES
        }
        print(f"- {browser_name}: false positives on another photo: {false_positives}")
    size = code_size()
    print(
        f"\nViewer code (arv engine + viewer.js + contract.js, {size['files']} files): "
        f"{size['raw']:,} B, {size['gzip']:,} B gzipped"
    )


SWEEP_MIN_CUTOFF = (0.01, 0.05, 0.1, 0.3, 1.0)
SWEEP_BETA = (0.0, 0.3, 1.0, 3.0)


def run_sweep(args, base: str, pages: dict, work: Path) -> None:
    grid = [(m, b) for m in SWEEP_MIN_CUTOFF for b in SWEEP_BETA]
    dwell = args.sweep_dwell
    table: dict[tuple, dict] = {}
    for round_no in range(args.rounds):
        for name in args.sweep_clips.split(","):
            clip = render_clip(PHOTO, CATALOGUE[name], work / f"clip-{PHOTO.stem}-{name}")
            profile = work / f"sweep-{name}-{round_no}"
            with (
                camera_proxy(base, clip=clip.folder, init_scripts=(WATCH_SCANNING, WATCH_FOUND, SAMPLER)) as proxy,
                launch(args.browsers.split(",")[0], profile) as browser,
            ):
                browser.goto(proxy.url + pages["arv"])
                browser.wait_for("window.__arvFoundAt !== undefined && !!window.__arvEngine", timeout=180)
                for setting in [None, *grid]:
                    filter_js = (
                        "false" if setting is None else json.dumps({"minCutoff": setting[0], "beta": setting[1]})
                    )
                    browser.evaluate(f"(window.__arvEngine.setFilter({filter_js}), true)")
                    time.sleep(SETTLE_SECONDS)
                    start = browser.evaluate("performance.now()")
                    time.sleep(dwell)
                    samples = browser.evaluate(f"window.__arvSamples.filter((s) => s[0] >= {start})")
                    errors, corners = [], []
                    for _t, state, c, frame, loops, _fps in samples:
                        truths = [x for x in truth_near(clip, frame, loops) if x] if frame is not None else []
                        if state == "found" and c and truths:
                            errors.append(min(corner_error(c, truth) for truth in truths))
                            corners.append(c)
                    entry = table.setdefault(setting, {"jitter": [], "drift_error": [], "drift_p95": []})
                    if clip.spec.still:
                        entry["jitter"].append(rms_std(corners))
                    elif errors:
                        entry["drift_error"].append(statistics.median(errors))
                        entry["drift_p95"].append(sorted(errors)[int(0.95 * (len(errors) - 1))])
                    print(
                        f"round {round_no + 1} {name} filter={setting}: n={len(errors)} "
                        f"median={med(errors)} jitter={rms_std(corners) if clip.spec.still else '-'}",
                        flush=True,
                    )
    print()
    print("| minCutoff (Hz) | beta | jitter on the still clip (px) | moving clip corner error median / p95 (px) |")
    print("|---|---|---|---|")
    for setting, entry in table.items():
        label = ("off", "—") if setting is None else setting
        print(
            f"| {label[0]} | {label[1]} | {fmt(med(entry['jitter']), '.3f')} | "
            f"{fmt(med(entry['drift_error']), '.2f')} / {fmt(med(entry['drift_p95']), '.2f')} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--browsers", default="chromium")
    parser.add_argument("--clips", default="", help="catalogue names, comma-separated (default: all)")
    parser.add_argument("--other", action="store_true", help="also film another photo (must never be found)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--window", type=float, default=8.0, help="seconds measured after scanning")
    parser.add_argument("--sweep", action="store_true", help="the arv engine's One Euro filter grid instead")
    parser.add_argument("--sweep-dwell", type=float, default=4.0)
    parser.add_argument(
        "--sweep-clips", default="small,drift", help="still clips give the jitter, moving ones the error (lag)"
    )
    args = parser.parse_args()
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="arv-tracking-")))
        process, base, page = serve(ROOT, work / "server", brotli=True)
        stack.callback(stop, process)
        # The server's own settings (serve() builds them the same way), to add the arv photo.
        env = bench_env(work / "server", database_url=f"sqlite:///{work / 'server' / 'db.sqlite3'}")
        pages = {"mindar": page, "arv": add_arv_photo(env, page)}
        print(f"pages: {pages}", flush=True)
        if args.sweep:
            run_sweep(args, base, pages, work)
        else:
            run_comparison(args, base, pages, work)


if __name__ == "__main__":
    os.environ.setdefault("ARV_IGNORE_DOTENV", "1")
    main()
