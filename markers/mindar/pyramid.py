"""Image scales and the Gaussian pyramid, bit-exact with mind-ar 1.2.5's CPU kernels.

The official compiler runs its image kernels in JavaScript doubles and stores every kernel output
as float32 (``Math.fround``). Each function here performs the *same* double-precision operations
in the *same* order and rounds to float32 at the same points, so the results are identical bit for
bit. That is why the filters are written as explicit slice arithmetic instead of ``cv2`` calls:
OpenCV is free to reorder sums or fuse multiply-adds, which changes the last bits.
"""

from __future__ import annotations

import numpy as np

MIN_IMAGE_PIXEL_SIZE = 100
TRACKING_SHORT_SIDES = (256.0, 128.0)
PYRAMID_MIN_SIZE = 8
PYRAMID_MAX_OCTAVE = 5

_F32 = np.float32
_F64 = np.float64


def js_round(x):
    """JavaScript ``Math.round``: the nearest integer, halves rounded towards +infinity.

    ``floor(x + 0.5)`` is wrong for 0.49999999999999994, so take the fractional part exactly.
    """
    floor = np.floor(x)
    return floor + ((x - floor) >= 0.5)


def matching_scales(width: int, height: int) -> list[float]:
    """Keyframe scales of ``image-list.js buildImageList``: 1, then steps of 2^(-1/3) to 100 px."""
    step = 2.0 ** (1.0 / 3.0)
    scale = MIN_IMAGE_PIXEL_SIZE / min(width, height)
    scales = []
    while True:
        scales.append(scale)
        scale *= step
        if scale >= 0.95:
            break
    scales.append(1.0)
    scales.reverse()
    return scales


def tracking_scales(width: int, height: int) -> list[float]:
    short = min(width, height)
    return [side / short for side in TRACKING_SHORT_SIDES]


class BoxResizer:
    """``utils/images.js resize``: a box filter whose windows come from JS-rounded bounds.

    The summed-area table of the source is built once and shared by every scale of a target.
    ``floor(sum / count)`` in doubles equals integer floor division here because both operands
    are exact integers far below 2^53 and the quotient is never within 2^-40 of an integer
    unless it is one.
    """

    def __init__(self, grey: np.ndarray) -> None:
        self.height, self.width = grey.shape
        table = np.zeros((self.height + 1, self.width + 1), dtype=np.int64)
        np.cumsum(np.cumsum(grey, axis=0, dtype=np.int64), axis=1, out=table[1:, 1:])
        self._table = table

    def resize(self, ratio: float) -> np.ndarray:
        out_w = int(js_round(self.width * ratio))
        out_h = int(js_round(self.height * ratio))
        x_lo, x_hi = _box_bounds(out_w, ratio, self.width)
        y_lo, y_hi = _box_bounds(out_h, ratio, self.height)
        t = self._table
        sums = (
            t[np.ix_(y_hi + 1, x_hi + 1)]
            - t[np.ix_(y_lo, x_hi + 1)]
            - t[np.ix_(y_hi + 1, x_lo)]
            + t[np.ix_(y_lo, x_lo)]
        )
        counts = np.outer(np.maximum(y_hi - y_lo + 1, 0), np.maximum(x_hi - x_lo + 1, 0))
        # An upscale leaves some windows empty; JS stores NaN into a Uint8Array, which gives 0.
        out = np.zeros((out_h, out_w), dtype=np.uint8)
        filled = counts > 0
        out[filled] = sums[filled] // counts[filled]
        return out


def _box_bounds(size: int, ratio: float, limit: int) -> tuple[np.ndarray, np.ndarray]:
    index = np.arange(size, dtype=_F64)
    lo = js_round(index / ratio).astype(np.int64)
    hi = np.minimum(js_round((index + 1) / ratio).astype(np.int64) - 1, limit - 1)
    # Empty windows (hi < lo) are zeroed by the caller; clip so that the table lookups stay valid.
    lo = np.clip(lo, 0, limit)
    hi = np.clip(hi, -1, limit - 1)
    return lo, hi


def octave_count(width: int, height: int) -> int:
    w, h, count = float(width), float(height), 0
    while w >= PYRAMID_MIN_SIZE and h >= PYRAMID_MIN_SIZE:
        w /= 2
        h /= 2
        count += 1
        if count == PYRAMID_MAX_OCTAVE:
            break
    return count


def binomial(image: np.ndarray) -> np.ndarray:
    """``[1,4,6,4,1]`` horizontally (rounded to float32), then vertically and ``/256``."""
    height, width = image.shape
    padded = np.pad(image.astype(_F64), ((0, 0), (2, 2)), mode="edge")
    acc = padded[:, 0:width] + padded[:, 1 : width + 1] * 4.0
    acc += padded[:, 2 : width + 2] * 6.0
    acc += padded[:, 3 : width + 3] * 4.0
    acc += padded[:, 4 : width + 4]
    padded = np.pad(acc.astype(_F32).astype(_F64), ((2, 2), (0, 0)), mode="edge")
    acc = padded[0:height] + padded[1 : height + 1] * 4.0
    acc += padded[2 : height + 2] * 6.0
    acc += padded[3 : height + 3] * 4.0
    acc += padded[4 : height + 4]
    acc /= 256.0
    return acc.astype(_F32)


def downsample(image: np.ndarray) -> np.ndarray:
    """Mean of each 2x2 block, accumulated in float32 as ``downsampleBilinear.js`` does."""
    h, w = image.shape[0] // 2, image.shape[1] // 2
    quarter = image * _F32(0.25)
    acc = quarter[0 : 2 * h : 2, 0 : 2 * w : 2].astype(_F64)
    for dy, dx in ((1, 0), (0, 1), (1, 1)):
        acc += quarter[dy : 2 * h : 2, dx : 2 * w : 2]
        acc = acc.astype(_F32).astype(_F64)
    return acc.astype(_F32)


def upsample(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``upsampleBilinear.js``: bilinear 2x upsampling onto ``shape``, reads clamped."""
    rows = _upsample_axis(shape[0], image.shape[0])
    cols = _upsample_axis(shape[1], image.shape[1])
    (r0, r1, wr0, wr1), (c0, c1, wc0, wc1) = rows, cols
    src = image.astype(_F64)
    acc = 0.0 + src[np.ix_(r0, c0)] * np.outer(wr0, wc0).astype(_F32)
    acc += src[np.ix_(r1, c0)] * np.outer(wr1, wc0).astype(_F32)
    acc += src[np.ix_(r0, c1)] * np.outer(wr0, wc1).astype(_F32)
    acc += src[np.ix_(r1, c1)] * np.outer(wr1, wc1).astype(_F32)
    return acc.astype(_F32)


def _upsample_axis(size: int, source: int):
    pos = (0.5 * np.arange(size, dtype=_F64)).astype(_F32).astype(_F64) - 0.25
    lo, hi = np.floor(pos), np.ceil(pos)
    lo_index = np.clip(lo, 0, source - 1).astype(np.intp)
    hi_index = np.clip(hi, 0, source - 1).astype(np.intp)
    return lo_index, hi_index, hi - pos, pos - lo


def gaussian_pyramid(image: np.ndarray, octaves: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Two images per octave: ``(G_a, G_b = binomial(G_a))``; ``G_a`` of octave k>0 is the
    downsampled ``G_b`` of octave k-1, and octave 0 starts from ``binomial(image)``."""
    levels = []
    first = binomial(image.astype(_F32))
    for octave in range(octaves):
        if octave:
            first = downsample(levels[-1][1])
        levels.append((first, binomial(first)))
    return levels


def difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """tfjs ``sub`` on the CPU backend: a double subtraction stored into a Float32Array."""
    return (a.astype(_F64) - b.astype(_F64)).astype(_F32)
