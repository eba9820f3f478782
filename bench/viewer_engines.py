"""The viewer in Blink, Gecko and WebKit on the catalogue's clips: found or not, how fast, how close
the reported corners are to the truth, how often they are written, and frames processed per second.

Starts gunicorn with production settings on one ready photo (like bench/viewer_bytes.py), then for
each engine and each clip (arv/testing/clips.py CATALOGUE; ``--other`` adds the same poses filmed
from another photo, which must never be found) opens the page through the fake-camera proxy and
records, on the page's clock: time to ``scanning`` and to ``found``; the median and worst corner
error against the clip's truth (each reading compared with the frames shown in the 1.5 s before
it, as the engine reports the frame it processed last); ``data-ar-corners`` writes per second;
``data-ar-fps``.

    .venv/bin/python bench/viewer_engines.py --clips frontal,drift --engines chromium,firefox,webkit

This is the harness the tracker benchmark builds on: an engine only has to honour the page's
contract (docs/viewer-testing.md).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arv.testing.clips import CATALOGUE, corner_error, render_clip  # noqa: E402
from arv.testing.drivers import ENGINES, camera_proxy, launch, unavailable  # noqa: E402
from arv.testing.processes import stop  # noqa: E402
from bench.viewer_bytes import WATCH_SCANNING, serve  # noqa: E402

PHOTO = ROOT / "markers/tests/fixtures/mindar/coffee_1000.jpg"
OTHER = ROOT / "markers/tests/fixtures/mindar/chelsea_1000.jpg"
WATCH_FOUND = WATCH_SCANNING.replace("scanning", "found").replace("__arvScanningAt", "__arvFoundAt")
COUNT_WRITES = """new Promise((resolve) => {
  let writes = 0;
  const observer = new MutationObserver((records) => { writes += records.length; });
  observer.observe(document.body, {attributes: true, attributeFilter: ['data-ar-corners']});
  setTimeout(() => { observer.disconnect(); resolve(writes / 3); }, 3000);
})"""
READ = (
    "[document.body.dataset.arCorners ? JSON.parse(document.body.dataset.arCorners) : null, "
    "window.__arvFakeCamera.frame, document.body.dataset.arFps]"
)


def measure(browser, clip, *, found_timeout: float) -> dict:
    browser.wait_for("window.__arvScanningAt !== undefined", timeout=120)
    result = {"scanning_s": browser.evaluate("window.__arvScanningAt") / 1000}
    deadline = time.monotonic() + found_timeout
    while time.monotonic() < deadline and browser.evaluate("window.__arvFoundAt") is None:
        time.sleep(0.2)
    found_at = browser.evaluate("window.__arvFoundAt")
    result["found_s"] = found_at / 1000 if found_at is not None else None
    result["fps"] = float(browser.attr("arFps") or 0)
    if found_at is None:
        return result
    time.sleep(1.5)
    errors, lag = [], int(1.5 * clip.spec.fps)
    for _ in range(10):
        corners, frame, _fps = browser.evaluate(READ)
        if corners is None:
            continue  # lost for a moment (the clip's fast pan or exit)
        count = len(clip.truth)
        window = range(frame, frame - lag - 1, -1) if count > 1 else [0]
        candidates = [clip.truth[i % count] for i in window if clip.truth[i % count]]
        if candidates:
            errors.append(min(corner_error(corners, truth) for truth in candidates))
        time.sleep(0.3)
    result["error_median_px"] = statistics.median(errors) if errors else None
    result["error_max_px"] = max(errors) if errors else None
    result["writes_per_s"] = browser.evaluate(COUNT_WRITES)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", default="frontal,drift", help="catalogue names, comma-separated")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--other", action="store_true", help="also film another photo (must not be found)")
    parser.add_argument("--found-timeout", type=float, default=30)
    args = parser.parse_args()
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="arv-engines-")))
        process, base, page = serve(ROOT, work / "server", brotli=True)
        stack.callback(stop, process)
        runs = [(name, PHOTO) for name in args.clips.split(",")]
        if args.other:
            runs += [(name, OTHER) for name in args.clips.split(",")]
        print("| engine | clip | photo | scanning | found | corner error median / max | corner writes/s | fps |")
        print("|---|---|---|---|---|---|---|---|")
        for engine in args.engines.split(","):
            reason = unavailable(engine)
            if reason:
                print(f"| {engine} | skipped: {reason} |")
                continue
            for name, photo in runs:
                clip = render_clip(photo, CATALOGUE[name], work / f"clip-{photo.stem}-{name}")
                scripts = (WATCH_SCANNING, WATCH_FOUND)
                with (
                    camera_proxy(base, clip=clip.folder, init_scripts=scripts) as proxy,
                    launch(engine, work / f"{engine}-{name}-{photo.stem}") as browser,
                ):
                    browser.goto(proxy.url + page)
                    r = measure(browser, clip, found_timeout=args.found_timeout)
                found = f"{r['found_s']:.1f} s" if r["found_s"] is not None else "not found"
                error = (
                    f"{r['error_median_px']:.1f} / {r['error_max_px']:.1f} px"
                    if r.get("error_median_px") is not None
                    else "—"
                )
                writes = f"{r['writes_per_s']:.1f}" if r.get("writes_per_s") is not None else "—"
                print(
                    f"| {engine} | {name} | {photo.stem} | {r['scanning_s']:.1f} s | {found} | {error} | {writes} "
                    f"| {r['fps']:.1f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
