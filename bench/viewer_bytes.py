"""Bytes a phone downloads, and time, until the viewer is scanning: this tree against another, in a
real browser, on a cold visit and a repeat visit.

For each tree (this one, and ``--before REF`` checked out with ``git archive`` into a temporary
folder), the script collects the static files as production does, makes one ready photo through the
real pipeline on SQLite, and starts gunicorn with production settings (DEBUG off). Then, in rounds
that alternate the trees, headless Chromium (Debian's, driven by Playwright) opens the photo's page
through the test proxy whose fake camera films the printed photo (arv/testing/drivers.py, clips.py):

- cold: a fresh browser profile (empty HTTP cache);
- repeat: the same profile opening the page again.

Measured on the page's own clock: the time from navigation start until ``data-ar-state`` first
turns ``scanning`` (an init script watches it), and the bytes of every response that ended by
then, as the browser's Resource Timing reports them (``transferSize``: headers and compressed
body; 0 for what came from the cache). The fake camera's own files are not counted.

    .venv/bin/python bench/viewer_bytes.py --before 6bbeb3d --rounds 3

The "before" tree is collected without the Brotli package (which it did not have), so its static
files are gzip only, as they were served.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arv.testing.clips import CATALOGUE, render_clip  # noqa: E402
from arv.testing.drivers import camera_proxy, launch  # noqa: E402
from arv.testing.processes import free_port, stop  # noqa: E402
from bench.fault_harness import bench_env, wait_http  # noqa: E402
from bench.viewer_load import PHONE, prepare  # noqa: E402

WATCH_SCANNING = """(() => {
  const start = () => {
    const seen = () => {
      if (document.body.dataset.arState === "scanning" && window.__arvScanningAt === undefined) {
        window.__arvScanningAt = performance.now();
      }
    };
    new MutationObserver(seen).observe(document.body, {attributes: true, attributeFilter: ["data-ar-state"]});
    seen();
  };
  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
})();"""

MEASURE = """(() => {
  const until = window.__arvScanningAt;
  if (until === undefined) return null;
  const entries = [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")]
    .filter((e) => !new URL(e.name).pathname.startsWith("/__arv_test__/") && e.responseEnd <= until);
  const files = entries.map((e) => [new URL(e.name).pathname, e.transferSize]);
  return {ms: until, bytes: entries.reduce((sum, e) => sum + e.transferSize, 0), requests: entries.length, files};
})()"""


def checkout(ref: str, into: Path) -> Path:
    """*ref* of this repository as plain files (no git metadata), with this tree's node_modules."""
    archive = subprocess.run(["git", "archive", "--format=tar", ref], cwd=ROOT, check=True, capture_output=True)
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    (into / "node_modules").symlink_to(ROOT / "node_modules")
    return into


def serve(tree: Path, work: Path, *, brotli: bool) -> tuple[subprocess.Popen, str, str]:
    """Collect, prepare one ready photo and start gunicorn for *tree*; (process, base URL, page path)."""
    port = free_port()
    work.mkdir(parents=True, exist_ok=True)
    env = bench_env(work, database_url=f"sqlite:///{work / 'db.sqlite3'}", port=port)
    if not brotli:
        # That tree had no Brotli package, so whitenoise wrote (and served) gzip only: hide it.
        shadow = work / "no-brotli"
        shadow.mkdir(exist_ok=True)
        (shadow / "brotli.py").write_text("raise ImportError('not installed in this tree')\n")
        env["PYTHONPATH"] = str(shadow)
    page = prepare_in(tree, env)
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "arv.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--log-level",
            "warning",
        ],
        cwd=tree,
        env=env,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/healthz", timeout=60)
    urllib.request.urlopen(urllib.request.Request(base + page, headers={"User-Agent": PHONE})).read()
    return process, base, page


def prepare_in(tree: Path, env: dict) -> str:
    """bench/viewer_load.py's prepare(), run against *tree* (migrate, collectstatic, one photo)."""
    import bench.viewer_load as viewer_load

    original = viewer_load.ROOT
    viewer_load.ROOT = tree
    try:
        return prepare(env)
    finally:
        viewer_load.ROOT = original


def visit(browser, proxy_url: str, page: str) -> dict:
    browser.goto(proxy_url + page)
    browser.wait_for("window.__arvScanningAt !== undefined", timeout=120)
    time.sleep(0.5)  # let Resource Timing entries that ended before scanning be recorded
    return browser.evaluate(MEASURE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="6bbeb3d", help="git ref of the tree to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--verbose", action="store_true", help="print each response counted")
    args = parser.parse_args()

    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="arv-bytes-")))
        before_tree = checkout(args.before, work / "before-tree")
        clip = render_clip(ROOT / "markers/tests/fixtures/mindar/coffee_1000.jpg", CATALOGUE["frontal"], work / "clip")
        servers = {}
        for label, tree, brotli in (("before", before_tree, False), ("after", ROOT, True)):
            process, base, page = serve(tree, work / label, brotli=brotli)
            stack.callback(stop, process)
            servers[label] = (base, page)
        results = {(label, kind): [] for label in servers for kind in ("cold", "repeat")}
        for round_no in range(args.rounds):
            for label, (base, page) in servers.items():
                with (
                    camera_proxy(base, clip=clip.folder, init_scripts=(WATCH_SCANNING,)) as proxy,
                    launch("chromium", work / f"profiles-{label}-{round_no}") as browser,
                ):
                    for kind in ("cold", "repeat"):
                        measured = visit(browser, proxy.url, page)
                        results[(label, kind)].append(measured)
                        print(
                            f"round {round_no + 1} {label:6} {kind:6} {measured['bytes']:>9,} B "
                            f"{measured['requests']:>3} responses {measured['ms'] / 1000:5.2f} s",
                            flush=True,
                        )
                        if args.verbose:
                            for path, size in measured["files"]:
                                print(f"    {size:>9,}  {path}")
        print()
        print("| visit | tree | bytes before scanning (median) | responses | time to scanning (median) |")
        print("|---|---|---|---|---|")
        for kind in ("cold", "repeat"):
            for label in servers:
                runs = results[(label, kind)]
                print(
                    f"| {kind} | {label} | {statistics.median(r['bytes'] for r in runs):,.0f} B | "
                    f"{statistics.median(r['requests'] for r in runs):.0f} | "
                    f"{statistics.median(r['ms'] for r in runs) / 1000:.2f} s |"
                )
        for kind in ("cold", "repeat"):
            before = statistics.median(r["bytes"] for r in results[("before", kind)])
            after = statistics.median(r["bytes"] for r in results[("after", kind)])
            print(f"{kind}: after/before bytes = {after / before:.2f}")


if __name__ == "__main__":
    os.environ.setdefault("ARV_IGNORE_DOTENV", "1")
    main()
