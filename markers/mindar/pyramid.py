"""Image scales and the Gaussian pyramid, bit-exact with mind-ar 1.2.5's CPU kernels.

The official compiler runs its image kernels in JavaScript doubles and stores every kernel output
as float32 (``Math.fround``). Each function here performs the *same* double-precision operations
in the *same* order and rounds to float32 at the same points, so the results are identical bit for
bit. That is why the filters are written as explicit slice arithmetic instead of ``cv2`` calls:
OpenCV is free to reorder sums or fuse multiply-adds, which changes the last bits. Two shortcuts
are provably exact and documented where they are taken: a lone double operation on two float32
values rounded to float32 equals the float32 operation, and the first octave works on integers.
"""

from __future__ import annotations

import numpy as np

MIN_IMAGE_PIXEL_SIZE = 100
TRACKING_SHORT_SIDES = (256.0, 128.0)
PYRAMID_MIN_SIZE = 8
PYRAMID_MAX_OCTAVE = 5
FIRST_OCTAVE_BAND = 128  # even, so that no 2x2 block of the downsampling straddles two bands
FILTER_BAND = 64

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
    """``utils/images.js resize`` for ``ratio <= 1``: the mean (floored) of each box, the box
    bounds being JS-rounded multiples of ``1/ratio``.

    One summed-area table serves every scale of a target. It is uint32: a box sum is below
    2^32 even for 50 MP, and unsigned wrap-around cancels in the four-corner difference.
    ``floor(sum / count)`` in doubles equals integer floor division because both operands are
    exact integers far below 2^53. (An upscale would leave boxes empty, which JS turns into
    black pixels; the compiler never upscales: it refuses images under 256 px on the short
    side.)
    """

    def __init__(self, grey: np.ndarray) -> None:
        self.grey = grey
        table = np.zeros((grey.shape[0] + 1, grey.shape[1] + 1), dtype=np.uint32)
        np.cumsum(grey, axis=0, dtype=np.uint32, out=table[1:, 1:])
        np.cumsum(table[1:, 1:], axis=1, out=table[1:, 1:])
        self._table = table

    def resize(self, ratio: float) -> np.ndarray:
        if not 0 < ratio <= 1:
            raise ValueError(f"BoxResizer only downscales, got ratio {ratio}")
        if ratio == 1:
            return self.grey
        height, width = self.grey.shape
        x_lo, x_count = _box_bounds(int(js_round(width * ratio)), ratio, width)
        y_lo, y_count = _box_bounds(int(js_round(height * ratio)), ratio, height)
        x_hi = x_lo + x_count
        out = np.empty((len(y_lo), len(x_lo)), dtype=np.uint8)
        # Bands of output rows keep the gathered table rows small.
        for start in range(0, len(y_lo), FILTER_BAND):
            rows = slice(start, start + FILTER_BAND)
            top = self._table[y_lo[rows]]
            bottom = self._table[y_lo[rows] + y_count[rows]]
            sums = (bottom[:, x_hi] - bottom[:, x_lo]) - (top[:, x_hi] - top[:, x_lo])
            out[rows] = sums // np.outer(y_count[rows], x_count).astype(np.uint32)
        return out


def _box_bounds(size: int, ratio: float, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """First index and length of each box along one axis."""
    index = np.arange(size, dtype=_F64)
    lo = js_round(index / ratio).astype(np.int64)
    hi = np.minimum(js_round((index + 1) / ratio).astype(np.int64) - 1, limit - 1)
    return lo, hi - lo + 1


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
    """``[1,4,6,4,1]`` horizontally (rounded to float32), then vertically and ``/256``.

    The 5-term sums are evaluated in doubles in the official order; only the stores round.
    Rows are processed in bands so that the double-precision temporaries stay small; every
    pixel still goes through exactly the same operations.
    """
    height, width = image.shape
    across = np.empty((height, width), dtype=_F32)
    for lo in range(0, height, FILTER_BAND):
        rows = np.pad(image[lo : lo + FILTER_BAND].astype(_F64), ((0, 0), (2, 2)), mode="edge")
        across[lo : lo + FILTER_BAND] = _five_taps(rows, width, axis=1)
    out = np.empty((height, width), dtype=_F32)
    for lo in range(0, height, FILTER_BAND):
        hi = min(lo + FILTER_BAND, height)
        rows = across[np.clip(np.arange(lo - 2, hi + 2), 0, height - 1)].astype(_F64)
        acc = _five_taps(rows, hi - lo, axis=0)
        acc /= 256.0
        out[lo:hi] = acc
    return out


def _five_taps(padded: np.ndarray, size: int, axis: int) -> np.ndarray:
    """``p[-2] + 4 p[-1] + 6 p[0] + 4 p[1] + p[2]`` along ``axis``, added left to right."""

    def tap(offset: int) -> np.ndarray:
        return padded[:, offset : offset + size] if axis == 1 else padded[offset : offset + size]

    acc = tap(0) + tap(1) * 4
    acc += tap(2) * 6
    acc += tap(3) * 4
    acc += tap(4)
    return acc


def _horizontal_taps(values: np.ndarray) -> np.ndarray:
    """``[1,4,6,4,1]`` along rows, columns edge-replicated, in exact integers.

    [1,4,6,4,1] is [1,1] applied four times: four pairwise sums of the padded rows.
    """
    acc = np.pad(values, ((0, 0), (2, 2)), mode="edge")
    for _ in range(4):
        acc = acc[:, :-1] + acc[:, 1:]
    return acc


def _vertical_taps(rows: np.ndarray, first_row: int, lo: int, hi: int, height: int) -> np.ndarray:
    """``[1,4,6,4,1]`` down the columns for output rows ``[lo, hi)`` of an image of ``height``
    rows, of which ``rows`` holds those from ``first_row`` on; rows beyond the image repeat its
    edge rows, exactly as padding the whole image would."""
    acc = rows[np.clip(np.arange(lo - 2, hi + 2), 0, height - 1) - first_row]
    for _ in range(4):
        acc = acc[:-1] + acc[1:]
    return acc


def first_octave_bands(image: np.ndarray, band: int):
    """``G0a = binomial(image)`` and ``G0b = binomial(G0a)`` of a uint8 image, ``band`` rows at
    a time: yields ``(G0a rows, G0b rows)`` for rows ``[0, band)``, ``[band, 2 band)``, ...

    On grey levels every intermediate value of these two filters is a multiple of 1/256
    (G0a) or 1/65536 (G0b) whose numerator stays below 2^24 (at most 16 * 16 * 255 * 256 =
    16,711,680), so float32 and double hold all of them exactly and no rounding ever happens:
    integer arithmetic gives the official values bit for bit, at a fraction of the cost. Bands
    keep the full-size intermediates of a 50 MP photo out of memory; each band reads the rows
    it needs around it (4 of the image, 2 of G0a), clamped at the image edges.
    """
    height = image.shape[0]
    for lo in range(0, height, band):
        hi = min(lo + band, height)
        a_lo, a_hi = max(lo - 2, 0), min(hi + 2, height)  # rows of G0a the band needs
        i_lo, i_hi = max(a_lo - 2, 0), min(a_hi + 2, height)  # rows of the image they need
        across = _horizontal_taps(image[i_lo:i_hi].astype(np.int32))
        numerator_a = _vertical_taps(across, i_lo, a_lo, a_hi, height)
        numerator_b = _vertical_taps(_horizontal_taps(numerator_a), a_lo, lo, hi, height)
        yield (
            numerator_a[lo - a_lo : hi - a_lo].astype(_F32) / _F32(256),
            numerator_b.astype(_F32) / _F32(65536),
        )


def downsample(image: np.ndarray) -> np.ndarray:
    """Mean of each 2x2 block, accumulated in float32 as ``downsampleBilinear.js`` does.

    JS adds each quarter to a float32 accumulator: a double addition rounded to float32. For a
    single operation on two float32 values that equals the float32 operation itself (double
    carries more than 2 x 24 + 2 bits, so rounding twice is harmless), hence plain float32 sums.
    """
    h, w = image.shape[0] // 2, image.shape[1] // 2
    quarter = image * _F32(0.25)
    acc = quarter[0 : 2 * h : 2, 0 : 2 * w : 2] + quarter[1 : 2 * h : 2, 0 : 2 * w : 2]
    acc += quarter[0 : 2 * h : 2, 1 : 2 * w : 2]
    acc += quarter[1 : 2 * h : 2, 1 : 2 * w : 2]
    return acc


def upsample(image: np.ndarray, shape: tuple[int, int], lo: int = 0, hi: int | None = None):
    """``upsampleBilinear.js``: bilinear 2x upsampling onto ``shape`` (rows ``lo`` to ``hi``
    only, if given), reads clamped; the four weighted taps are summed in doubles in the
    official order."""
    hi = shape[0] if hi is None else hi
    r0, r1, wr0, wr1 = (part[lo:hi] for part in _upsample_axis(shape[0], image.shape[0]))
    c0, c1, wc0, wc1 = _upsample_axis(shape[1], image.shape[1])
    out = np.empty((hi - lo, shape[1]), dtype=_F32)
    for start in range(0, hi - lo, FILTER_BAND):
        rows = slice(start, start + FILTER_BAND)
        top, bottom = image[r0[rows]].astype(_F64), image[r1[rows]].astype(_F64)
        acc = 0.0 + top[:, c0] * np.outer(wr0[rows], wc0).astype(_F32)
        acc += bottom[:, c0] * np.outer(wr1[rows], wc0).astype(_F32)
        acc += top[:, c1] * np.outer(wr0[rows], wc1).astype(_F32)
        acc += bottom[:, c1] * np.outer(wr1[rows], wc1).astype(_F32)
        out[rows] = acc
    return out


def _upsample_axis(size: int, source: int):
    pos = (0.5 * np.arange(size, dtype=_F64)).astype(_F32).astype(_F64) - 0.25
    lo, hi = np.floor(pos), np.ceil(pos)
    lo_index = np.clip(lo, 0, source - 1).astype(np.intp)
    hi_index = np.clip(hi, 0, source - 1).astype(np.intp)
    return lo_index, hi_index, hi - pos, pos - lo


def detection_pyramid(image: np.ndarray, octaves: int):
    """The Gaussian and difference-of-Gaussian pyramids, as far as the detector needs them.

    Per octave two images ``G_a`` and ``G_b = binomial(G_a)`` and ``DoG = G_a - G_b``;
    octave 0 starts from ``binomial(image)``, octave k > 0 from ``downsample(G_b of k-1)``.
    Returns ``(blurred, dogs, first_dog_small)``: ``G_b`` and ``DoG`` per octave (``None`` for
    octave 0) and octave 0's DoG already downsampled: octave 0 only feeds octave 1, so its
    full-size images are never kept (see :func:`first_octave_bands`).
    """
    dog_parts, next_parts = [], []
    for first, second in first_octave_bands(image, FIRST_OCTAVE_BAND):
        dog_parts.append(downsample(difference(first, second)))
        next_parts.append(downsample(second))
    first_dog_small = np.concatenate(dog_parts)
    current = np.concatenate(next_parts)
    blurred: list[np.ndarray | None] = [None]
    dogs: list[np.ndarray | None] = [None]
    for octave in range(1, octaves):
        smoothed = binomial(current)
        blurred.append(smoothed)
        dogs.append(difference(current, smoothed))
        if octave + 1 < octaves:
            current = downsample(smoothed)
    return blurred, dogs, first_dog_small


def difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """tfjs ``sub`` on the CPU backend: a double subtraction stored into a Float32Array, which
    equals the float32 subtraction (see :func:`downsample`)."""
    return a - b
