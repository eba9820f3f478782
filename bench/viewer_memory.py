"""Memory of the viewer over a long visit: the arv engine (or MindAR) on a fake camera whose photo
keeps leaving the picture and coming back, in headless Chromium, for ``--minutes``.

Starts gunicorn with production settings on one photo made by the real pipeline (like
bench/viewer_tracking.py, whose arv photo it reuses), opens its page once through the fake-camera
proxy with the ``leaves-and-reenters`` clip looping, and every ``--every`` seconds records:

- the page's JavaScript heap (CDP ``Runtime.getHeapUsage`` after ``HeapProfiler.collectGarbage``:
  what stays alive, not what awaits collection);
- the resident memory of the browser's whole process tree (``/proc/<pid>/smaps_rollup`` Pss: the
  renderer with the page and the tracker's worker, the GPU and network processes), which also
  covers the worker's heap, decoded frames and the camera;
- how often the photo was found (state changes), and ``data-ar-fps``: the engine kept working.

Reports the first reading after ``--warmup`` minutes, the last one, and the least-squares slope
per minute from the warm-up on.

    .venv/bin/python bench/viewer_memory.py --minutes 15 --engine arv
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arv.testing.clips import CATALOGUE, render_clip  # noqa: E402
from arv.testing.drivers import camera_proxy, launch  # noqa: E402
from arv.testing.processes import stop  # noqa: E402
from bench.fault_harness import bench_env  # noqa: E402
from bench.viewer_bytes import WATCH_SCANNING, serve  # noqa: E402
from bench.viewer_tracking import PHOTO, add_arv_photo, process_tree  # noqa: E402

COUNT_FOUND = """(() => {
  window.__arvFoundCount = 0;
  const start = () => new MutationObserver(() => {
    if (document.body.dataset.arState === "found") window.__arvFoundCount += 1;
  }).observe(document.body, {attributes: true, attributeFilter: ["data-ar-state"]});
  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
})();"""


def tree_pss_kb(marker: str) -> int | None:
    """Proportional resident memory (kB) of the browser's process tree."""
    members = process_tree(marker)
    if not members:
        return None
    total = 0
    for pid in members:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def slope(points: list[tuple[float, float]]) -> float:
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=15)
    parser.add_argument("--every", type=float, default=30, help="seconds between readings")
    parser.add_argument("--warmup", type=float, default=1, help="minutes before the first counted reading")
    parser.add_argument("--engine", choices=("arv", "mindar"), default="arv")
    parser.add_argument("--clip", default="leaves-and-reenters")
    args = parser.parse_args()
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="arv-memory-")))
        process, base, page = serve(ROOT, work / "server", brotli=True)
        stack.callback(stop, process)
        if args.engine == "arv":
            env = bench_env(work / "server", database_url=f"sqlite:///{work / 'server' / 'db.sqlite3'}")
            page = add_arv_photo(env, page)
        clip = render_clip(PHOTO, CATALOGUE[args.clip], work / "clip")
        profile = work / "profile"
        proxy = stack.enter_context(camera_proxy(base, clip=clip.folder, init_scripts=(WATCH_SCANNING, COUNT_FOUND)))
        browser = stack.enter_context(launch("chromium", profile))
        browser.goto(proxy.url + page)
        browser.wait_for("window.__arvScanningAt !== undefined", timeout=180)
        cdp = browser.context.new_cdp_session(browser.page)
        cdp.send("HeapProfiler.enable")
        print(f"engine served: {browser.attr('arEngine')}, clip {args.clip} looping", flush=True)
        print("| minute | page JS heap used (KB) | browser tree PSS (KB) | found so far | fps |")
        print("|---|---|---|---|---|")
        started = time.monotonic()
        heap_points, pss_points = [], []
        while True:
            minute = (time.monotonic() - started) / 60
            cdp.send("HeapProfiler.collectGarbage")
            heap = cdp.send("Runtime.getHeapUsage")["usedSize"] / 1024
            pss = tree_pss_kb(str(profile))
            found, fps = browser.evaluate("[window.__arvFoundCount, document.body.dataset.arFps]")
            print(f"| {minute:.1f} | {heap:,.0f} | {pss or 0:,} | {found} | {fps} |", flush=True)
            if minute >= args.warmup:
                heap_points.append((minute, heap))
                if pss:
                    pss_points.append((minute, pss))
            if minute >= args.minutes:
                break
            time.sleep(args.every)
        assert browser.attr("arEngine") == args.engine, browser.attr("arEngine")
        print()
        for label, points in (("page JS heap", heap_points), ("browser tree PSS", pss_points)):
            if len(points) >= 2:
                first, last = points[0][1], points[-1][1]
                print(
                    f"{label}: {first:,.0f} KB at {points[0][0]:.1f} min → {last:,.0f} KB at {points[-1][0]:.1f} min "
                    f"({last - first:+,.0f} KB), slope {slope(points):+,.1f} KB/min"
                )


if __name__ == "__main__":
    os.environ.setdefault("ARV_IGNORE_DOTENV", "1")
    main()
