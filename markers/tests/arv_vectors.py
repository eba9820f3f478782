"""Test vectors tying the ``arv`` viewer engine's JavaScript to this compiler.

``jstests/`` (Node's test runner) reads these committed files:

* ``detector-<name>.json``: a grey image (a keyframe of a fixture photo, made by the compiler's
  own box filter) and the points and descriptors ``markers.mindar.detector.detect`` finds in it.
  The JavaScript detector must find the same points (within 0.01 px) and descriptors.
* ``pictarize.arvm`` and ``album.arvm``: compact markers (:mod:`markers.mindar.compact`) compiled
  from those grey images: pictarize alone, and coffee then pictarize as a two-photo album. The
  matching, warp and tracking tests render camera frames from the same grey images.
* ``card.arvm``: the compact form of the official compiler's ``card.mind`` fixture; the reader
  test requires it to hold exactly what the ``.mind`` holds.

``markers/tests/test_arv_vectors.py`` rebuilds everything in memory and requires it to equal the
committed files, so the vectors can never go stale. After a deliberate change to the compiler::

    .venv/bin/python -m markers.tests.arv_vectors   # rewrites jstests/fixtures/
"""

from __future__ import annotations

import base64
import json
import sys
import zlib
from pathlib import Path

import numpy as np

from markers.mindar import compile_target, decode_image, to_grey
from markers.mindar.compact import compact_from_mind, pack_compact
from markers.mindar.detector import detect
from markers.mindar.pyramid import BoxResizer, matching_scales

REPO_ROOT = Path(__file__).resolve().parents[2]
PHOTOS = Path(__file__).parent / "fixtures" / "mindar"
OUTPUT = REPO_ROOT / "jstests" / "fixtures"

# (name, photo, keyframe index): modest sizes keep the files small, and each is a keyframe the
# compiler itself would detect on. pictarize and coffee are natural photos; card has large flat
# areas (ties in the descriptors' comparisons, points near plain regions).
DETECTOR_CASES = (
    ("pictarize", "pictarize.jpg", 3),  # 400 x 400
    ("coffee", "coffee_1000.jpg", 3),  # 476 x 317
    ("card", "card.png", 4),  # 288 x 159
)


def keyframe_grey(photo: str, index: int) -> np.ndarray:
    grey = to_grey(decode_image((PHOTOS / photo).read_bytes()))
    height, width = grey.shape
    return BoxResizer(grey).resize(matching_scales(width, height)[index])


def detector_vector(name: str, photo: str, index: int) -> bytes:
    grey = keyframe_grey(photo, index)
    features = detect(grey)
    document = {
        "name": name,
        "source": f"{photo}, keyframe {index}",
        "width": int(grey.shape[1]),
        "height": int(grey.shape[0]),
        "grey": base64.b64encode(zlib.compress(grey.tobytes(), 9)).decode(),
        "points": {
            "maxima": features.maxima.astype(int).tolist(),
            "x": features.x.tolist(),
            "y": features.y.tolist(),
            "scale": features.scale.tolist(),
            "angle": features.angle.tolist(),
            "descriptors": [words.astype(">u4").tobytes().hex() for words in features.descriptors],
        },
    }
    return (json.dumps(document, sort_keys=True, separators=(",", ":")) + "\n").encode()


def build() -> dict[str, bytes]:
    """Every fixture file, by name, as bytes."""
    files = {f"detector-{name}.json": detector_vector(name, photo, index) for name, photo, index in DETECTOR_CASES}
    pictarize = compile_target(keyframe_grey("pictarize.jpg", 3))
    coffee = compile_target(keyframe_grey("coffee_1000.jpg", 3))
    files["pictarize.arvm"] = pack_compact([pictarize])
    files["album.arvm"] = pack_compact([coffee, pictarize])
    files["card.arvm"] = compact_from_mind((PHOTOS / "card.mind").read_bytes())
    return files


def main() -> int:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for name, data in build().items():
        (OUTPUT / name).write_bytes(data)
        print(f"{OUTPUT / name}: {len(data)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
