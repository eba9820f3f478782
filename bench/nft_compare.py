"""AR.js NFT generator: ours vs the reference (PyPI nft-marker-creator 0.1.0), side by side.

For each fixture photo, runs the reference CLI (`--threads 1`, default options) and our
generator, each as a fresh child process doing the whole job (start Python, decode the JPEG,
write .iset/.fset/.fset3), and measures user+sys CPU seconds from RUSAGE_CHILDREN deltas and
each child's peak RSS. Then compares the two outputs and prints a markdown table.

    .venv/bin/python bench/nft_compare.py

The machines are shared: compare the ratio from one run, not absolute seconds.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "markers" / "tests" / "fixtures" / "nft"
NAMES = ("coffee", "astronaut", "chelsea")
EXTS = ("iset", "fset", "fset3")


@dataclass
class Run:
    cpu: float  # user + sys seconds
    rss_mb: float
    files: dict[str, bytes]


def measure(command: list[str], outdir: Path, base: str) -> Run:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{command[:4]} failed: {child.stderr.read().decode()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    files = {ext: (outdir / f"{base}.{ext}").read_bytes() for ext in EXTS}
    return Run(cpu=cpu, rss_mb=usage.ru_maxrss / 1024, files=files)


def run_ours(image: Path, outdir: Path) -> None:
    """Child-process side of our measurement: the work a marker job does."""
    sys.path.insert(0, str(ROOT))
    import numpy as np
    from PIL import Image

    from markers.nft import dpi_from_image_info, generate_nft

    with Image.open(image) as photo:
        dpi = dpi_from_image_info(photo.info)
        pixels = np.asarray(photo.convert("RGB"))
    marker = generate_nft(pixels, dpi=dpi)
    for ext in EXTS:
        (outdir / f"{image.stem}.{ext}").write_bytes(getattr(marker, ext))


def parity(ours: dict[str, bytes], ref: dict[str, bytes]) -> str:
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from markers.nft.fset3 import parse_fset3

    a, b = parse_fset3(ours["fset3"]).points, parse_fset3(ref["fset3"]).points
    if len(a) != len(b):
        fset3 = f"{len(a)} vs {len(b)} points"
    else:
        same = all(np.array_equal(a[f], b[f]) for f in ("image", "x", "y", "mx", "my", "maxima"))
        desc = np.all(a["desc"] == b["desc"], axis=1).mean()
        angle = np.mean(a["angle"] == b["angle"])
        where = "same points, same order" if same else "points differ"
        fset3 = f"{where}; descriptors {desc:.1%} identical; angles {angle:.1%} bit-identical"
    iset = "identical" if ours["iset"] == ref["iset"] else "differs"
    fset = "identical" if ours["fset"] == ref["fset"] else "differs"
    return f".iset {iset}, .fset {fset}; .fset3: {fset3}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", nargs=2, metavar=("IMAGE", "OUTDIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_ours(Path(args.worker[0]), Path(args.worker[1]))
        return

    rows = []
    for name in NAMES:
        image = FIXTURES / f"{name}.jpg"
        with tempfile.TemporaryDirectory() as ref_dir, tempfile.TemporaryDirectory() as our_dir:
            ref = measure(
                [sys.executable, "-m", "nft_marker_creator", "-i", str(image), "-o", ref_dir,
                 "--threads", "1"],
                Path(ref_dir),
                name,
            )
            ours = measure(
                [sys.executable, str(Path(__file__).resolve()), "--worker", str(image), our_dir],
                Path(our_dir),
                name,
            )
        rows.append((name, ref, ours, parity(ours.files, ref.files)))
        print(f"{name}: reference {ref.cpu:.2f} s, ours {ours.cpu:.2f} s", file=sys.stderr)

    print("| photo | reference CPU s | ours CPU s | ours / reference | reference peak RSS MB "
          "| ours peak RSS MB | reference bytes (.iset/.fset/.fset3) | ours bytes | parity |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, ref, ours, result in rows:
        sizes_ref = " / ".join(f"{len(ref.files[e]):,}" for e in EXTS)
        sizes_ours = " / ".join(f"{len(ours.files[e]):,}" for e in EXTS)
        print(
            f"| {name} | {ref.cpu:.2f} | {ours.cpu:.2f} | 1/{ref.cpu / ours.cpu:.0f} "
            f"| {ref.rss_mb:.0f} | {ours.rss_mb:.0f} | {sizes_ref} | {sizes_ours} | {result} |"
        )
    total_ref = sum(r[1].cpu for r in rows)
    total_ours = sum(r[2].cpu for r in rows)
    print(f"| all three | {total_ref:.2f} | {total_ours:.2f} | 1/{total_ref / total_ours:.0f} "
          "| | | | | |")


if __name__ == "__main__":
    main()
