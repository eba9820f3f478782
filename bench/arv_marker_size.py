"""Size of the compact ARV marker against the .mind, for the issue's reference photo size.

Each fixture photo is cropped to 512 x 600 (the size the issue quotes: "340 KB for a 512x600
photo, 200 KB gzipped"), compiled, and written both ways; sizes raw and gzipped (level 9, what a
web server sends), with where the compact marker's bytes go.

    .venv/bin/python bench/arv_marker_size.py
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from markers.mindar import compact_from_mind, compile_mind, to_grey  # noqa: E402
from markers.mindar.compact import descriptor_ranks, read_compact  # noqa: E402
from markers.mindar.reader import parse_targets  # noqa: E402

PHOTOS = REPO_ROOT / "markers" / "tests" / "fixtures" / "mindar"
NAMES = ("pictarize.jpg", "astronaut_1000.jpg", "coffee_1000.jpg", "chelsea_1000.jpg", "card.png")


def photo_512x600(name: str) -> np.ndarray:
    image = Image.open(PHOTOS / name).convert("RGB")
    scale = max(512 / image.width, 600 / image.height)
    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    left, top = (image.width - 512) // 2, (image.height - 600) // 2
    return to_grey(np.asarray(image.crop((left, top, left + 512, top + 600))))


def main() -> int:
    print(
        "| photo (512×600) | points | .mind B | .mind gzip B | compact B | compact gzip B | gzip ratio"
        " | descriptors as rank codes |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name in NAMES:
        mind = compile_mind([photo_512x600(name)]).data
        compact = compact_from_mind(mind)
        marker = read_compact(compact)
        points = sum(k.maxima.x.size + k.minima.x.size for t in marker.targets for k in t.keyframes)
        ranked = _ranked_share(mind)
        mind_gz = len(gzip.compress(mind, 9))
        compact_gz = len(gzip.compress(compact, 9))
        print(
            f"| {name} | {points} | {len(mind):,} | {mind_gz:,} | {len(compact):,} | {compact_gz:,} "
            f"| {compact_gz / mind_gz:.2f} | {100 * ranked:.1f}% |"
        )
    return 0


def _ranked_share(mind: bytes) -> float:
    """Share of descriptors stored as 20-byte rank codes (the rest keep their 84 raw bytes)."""
    total = ranked = 0
    for target in parse_targets(mind):
        for keyframe in target["matchingData"]:
            for point in keyframe["maximaPoints"] + keyframe["minimaPoints"]:
                total += 1
                ranked += descriptor_ranks(np.array(point["descriptors"], dtype=np.uint32)) is not None
    return ranked / total


if __name__ == "__main__":
    sys.exit(main())
