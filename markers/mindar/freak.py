"""FREAK sampling pattern and binary descriptors (``freak.js``, ``computeExtremaFreak.js``,
``computeFreakDescriptors.js``).

Each feature samples its octave's second Gaussian image at 37 points (6 rings of 6 plus the
centre) spread 7 octave-pixels around it and rotated by its angle, then compares every pair of
samples: 666 bits, packed MSB-first into 84 bytes and then into 21 big-endian 32-bit words.
"""

from __future__ import annotations

import numpy as np

from .fdlibm import cos as js_cos
from .fdlibm import sin as js_sin

FREAK_EXPANSION_FACTOR = 7.0
DESCRIPTOR_WORDS = 21

# (x, y) of each sampling point, ring by ring as freak.js lists them. The per-ring sigmas of the
# original FREAK are not used by mind-ar (no per-ring smoothing), so they are not kept here.
_RINGS = (
    ((-1.0, 0.0), (-0.5, -0.866025), (0.5, -0.866025), (1.0, -0.0), (0.5, 0.866025),
     (-0.5, 0.866025)),
    ((0.0, 0.930969), (-0.806243, 0.465485), (-0.806243, -0.465485), (-0.0, -0.930969),
     (0.806243, -0.465485), (0.806243, 0.465485)),
    ((0.847306, -0.0), (0.423653, 0.733789), (-0.423653, 0.733789), (-0.847306, 0.0),
     (-0.423653, -0.733789), (0.423653, -0.733789)),
    ((-0.0, -0.741094), (0.641806, -0.370547), (0.641806, 0.370547), (0.0, 0.741094),
     (-0.641806, 0.370547), (-0.641806, -0.370547)),
    ((-0.595502, 0.0), (-0.297751, -0.51572), (0.297751, -0.51572), (0.595502, -0.0),
     (0.297751, 0.51572), (-0.297751, 0.51572)),
    ((0.0, 0.362783), (-0.314179, 0.181391), (-0.314179, -0.181391), (-0.0, -0.362783),
     (0.314179, -0.181391), (0.314179, 0.181391)),
    ((0.0, 0.0),),
)
# The kernels read the pattern from a float32 tensor, so the coordinates are float32 values.
_POINTS = np.array([p for ring in _RINGS for p in ring], dtype=np.float32).astype(np.float64)
POINT_COUNT = len(_POINTS)
_PAIR_A, _PAIR_B = np.triu_indices(POINT_COUNT, k=1)  # (a, b), a < b, a outer: 666 pairs


def sample_points(
    image: np.ndarray, x: np.ndarray, y: np.ndarray, angle: np.ndarray
) -> np.ndarray:
    """Bilinear samples (float32, N x 37) of ``image`` around float32 positions and angles."""
    c = FREAK_EXPANSION_FACTOR * js_cos(angle.astype(np.float64))
    s = FREAK_EXPANSION_FACTOR * js_sin(angle.astype(np.float64))
    px, py = _POINTS[:, 0], _POINTS[:, 1]
    yp = y.astype(np.float64)[:, None] + px * s[:, None] + py * c[:, None]
    xp = x.astype(np.float64)[:, None] + px * c[:, None] + py * -s[:, None]
    x0, y0 = np.floor(xp), np.floor(yp)
    x1, y1 = x0 + 1.0, y0 + 1.0
    height, width = image.shape
    flat = image.astype(np.float64).ravel()

    def tap(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
        # Clip in float first: a wild sub-pixel step can put xp far outside the int range.
        row = np.clip(yy, 0, height - 1).astype(np.intp)
        col = np.clip(xx, 0, width - 1).astype(np.intp)
        return flat[row * width + col]

    value = (x1 - xp) * (y1 - yp) * tap(y0, x0)
    value += (xp - x0) * (y1 - yp) * tap(y0, x1)
    value += (x1 - xp) * (yp - y0) * tap(y1, x0)
    value += (xp - x0) * (yp - y0) * tap(y1, x1)
    return value.astype(np.float32)


def descriptors(samples: np.ndarray) -> np.ndarray:
    """Pack the 666 comparisons ``v[a] < v[b] + 0.01`` into N x 21 uint32 words."""
    values = samples.astype(np.float64)
    bits = values[:, _PAIR_A] < values[:, _PAIR_B] + 0.01
    # MSB first; the last of the 84 bytes is zero-padded after its 2 bits.
    packed = np.ascontiguousarray(np.packbits(bits, axis=1))
    return packed.view(">u4").astype(np.uint32)
