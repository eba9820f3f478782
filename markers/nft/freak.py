"""DoG keypoints with FREAK-84 descriptors, as WebARKitLib's KPM computes them.

AR.js matches the `.fset3` descriptors against descriptors its wasm build of the same C++ code
(`vision::VisualDatabase` with `DoGScaleInvariantDetector` and `FREAKExtractor`) computes from
camera frames, so this is a faithful port rather than "a FREAK": same binomial pyramid, DoG
extrema, sub-pixel refinement, bucket pruning, orientation histogram, receptor layout, `locate()`
level choice, bilinear receptor sampling and bit order. Arithmetic follows the C++ float32
operation order so that the discrete decisions (which extrema exist, which survive pruning,
which histogram peaks count) come out the same; transcendental functions are evaluated in
float64 and rounded, which can differ from libm by an ulp.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

f32 = np.float32

MIN_COARSE_SIZE = 8  # kMinCoarseSize: octaves continue while both sides are >= 8
SCALES_PER_OCTAVE = 3
LAPLACIAN_THRESHOLD = f32(3)
EDGE_THRESHOLD = f32(4)
MAX_FEATURES = 500
BUCKETS = 10
MAX_SUBPIXEL_SHIFT_SQ = f32(9)
# Orientation assignment: 36 bins, Gaussian window 3 sigma, support 1.5, 5 smoothing passes.
ORIENTATION_BINS = 36
GAUSSIAN_EXPANSION = f32(3)
SUPPORT_EXPANSION = f32(1.5)
SMOOTHING_PASSES = 5
PEAK_THRESHOLD = f32(0.8)
_SMOOTH = (f32(0.274068619061197), f32(0.451862761877606), f32(0.274068619061197))
FREAK_EXPANSION = f32(7)
DESCRIPTOR_BYTES = 96  # 666 bits in the first 84 bytes, the rest zero
_PI = 3.1415926535897932384626433832795
_ONE_OVER_2PI = 0.159154943091895

_K = f32(2.0 ** float(f32(1) / f32(SCALES_PER_OCTAVE - 1)))  # std::pow(2.f, 1.f/2)
_ONE_OVER_LOG_K = f32(1) / f32(np.log(np.float64(_K)))
_LOG2 = f32(np.log(2.0))

# freak84-inline.h: sigma of each ring (and the centre), and the six unit-circle points per ring.
_SIGMA_CENTER = f32(0.100000)
_SIGMA_RINGS = tuple(f32(s) for s in (0.175000, 0.250000, 0.325000, 0.400000, 0.475000, 0.550000))
_RINGS = np.array(
    [
        [0.000000, 0.362783, -0.314179, 0.181391, -0.314179, -0.181391,
         -0.000000, -0.362783, 0.314179, -0.181391, 0.314179, 0.181391],
        [-0.595502, 0.000000, -0.297751, -0.515720, 0.297751, -0.515720,
         0.595502, -0.000000, 0.297751, 0.515720, -0.297751, 0.515720],
        [-0.000000, -0.741094, 0.641806, -0.370547, 0.641806, 0.370547,
         0.000000, 0.741094, -0.641806, 0.370547, -0.641806, -0.370547],
        [0.847306, -0.000000, 0.423653, 0.733789, -0.423653, 0.733789,
         -0.847306, 0.000000, -0.423653, -0.733789, 0.423653, -0.733789],
        [0.000000, 0.930969, -0.806243, 0.465485, -0.806243, -0.465485,
         -0.000000, -0.930969, 0.806243, -0.465485, 0.806243, 0.465485],
        [-1.000000, 0.000000, -0.500000, -0.866025, 0.500000, -0.866025,
         1.000000, -0.000000, 0.500000, 0.866025, -0.500000, 0.866025],
    ],
    dtype=f32,
).reshape(6, 6, 2)
# Pairs (i, j), i < j, of the 37 samples in the order the descriptor bits are set.
_PAIR_I, _PAIR_J = np.triu_indices(37, k=1)


@dataclass(frozen=True)
class Keypoints:
    """Detected, oriented keypoints of one image, in the order the reference stores them."""

    x: np.ndarray  # float32, pixels of the input image
    y: np.ndarray
    angle: np.ndarray  # float32 radians in [0, 2pi)
    sigma: np.ndarray  # float32 scale, pixels
    maxima: np.ndarray  # bool: DoG maximum (refined score > 0)
    descriptors: np.ndarray  # (n, 96) uint8


def _cos(a: np.ndarray) -> np.ndarray:
    return np.cos(a.astype(np.float64)).astype(f32)


def _sin(a: np.ndarray) -> np.ndarray:
    return np.sin(a.astype(np.float64)).astype(f32)


def _log(a: np.ndarray) -> np.ndarray:
    return np.log(a.astype(np.float64)).astype(f32)


def _pow_k(exponent: np.ndarray) -> np.ndarray:
    return np.power(np.float64(_K), exponent.astype(np.float64)).astype(f32)


# --------------------------------------------------------------------------------------------
# Pyramid


def octave_count(width: int, height: int) -> int:
    count = 0
    while width >= MIN_COARSE_SIZE and height >= MIN_COARSE_SIZE:
        width >>= 1
        height >>= 1
        count += 1
    return count


def _binomial(src: np.ndarray) -> np.ndarray:
    """5-tap [1 4 6 4 1] filter per axis with replicated borders (`binomial_4th_order`)."""
    if src.dtype == np.uint8:
        # The byte version sums in integers and scales once, exactly.
        s = np.pad(src.astype(np.int32), ((0, 0), (2, 2)), mode="edge")
        t = 6 * s[:, 2:-2] + 4 * (s[:, 1:-3] + s[:, 3:-1]) + s[:, :-4] + s[:, 4:]
        t = np.pad(t, ((2, 2), (0, 0)), mode="edge")
        v = 6 * t[2:-2] + 4 * (t[1:-3] + t[3:-1]) + t[:-4] + t[4:]
        return v.astype(f32) * f32(1.0 / 256.0)
    s = np.pad(src, ((0, 0), (2, 2)), mode="edge")
    t = f32(6) * s[:, 2:-2] + f32(4) * (s[:, 1:-3] + s[:, 3:-1]) + s[:, :-4] + s[:, 4:]
    t = np.pad(t, ((2, 2), (0, 0)), mode="edge")
    v = f32(6) * t[2:-2] + f32(4) * (t[1:-3] + t[3:-1]) + t[:-4] + t[4:]
    return v * f32(1.0 / 256.0)


def build_pyramid(img: np.ndarray) -> list[list[np.ndarray]]:
    """`BinomialPyramid32f`: three float32 images per octave."""
    levels = []
    for octave in range(octave_count(img.shape[1], img.shape[0])):
        if octave == 0:
            first = _binomial(img)
        else:
            prev = levels[-1][2]
            h, w = prev.shape[0] >> 1, prev.shape[1] >> 1
            p = prev[: 2 * h, : 2 * w]
            first = (p[0::2, 0::2] + p[0::2, 1::2] + p[1::2, 0::2] + p[1::2, 1::2]) * f32(0.25)
        second = _binomial(first)
        levels.append([first, second, _binomial(_binomial(second))])
    return levels


def _bilinear(im: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """`bilinear_interpolation<float>` at non-negative float32 coordinates."""
    xi = x.astype(np.int64)
    yi = y.astype(np.int64)
    ax = (xi + 1).astype(f32) - x
    bx = x - xi.astype(f32)
    ay = (yi + 1).astype(f32) - y
    by = y - yi.astype(f32)
    return (
        (ax * ay) * im[yi, xi] + (bx * ay) * im[yi, xi + 1] + (ax * by) * im[yi + 1, xi]
    ) + (bx * by) * im[yi + 1, xi + 1]


def _upsample(v: np.ndarray, octave: np.ndarray) -> np.ndarray:
    """`bilinear_upsample_point`: octave pixels to image pixels."""
    a = (np.exp2(octave.astype(np.float64) - 1) - 0.5).astype(f32)
    b = np.left_shift(1, octave).astype(f32)
    return v * b + a


def _downsample(v: np.ndarray, octave: np.ndarray) -> np.ndarray:
    """`bilinear_downsample_point`: image pixels to octave pixels."""
    a = f32(1) / np.left_shift(1, octave).astype(f32)
    return v * a + (f32(0.5) * a - f32(0.5))


# --------------------------------------------------------------------------------------------
# Detection


_RING8 = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 1]], np.uint8)


@dataclass
class _Points:
    octave: np.ndarray
    scale: np.ndarray  # detection scale index within the octave (0 or 1)
    x: np.ndarray
    y: np.ndarray
    score: np.ndarray
    sigma: np.ndarray

    def subset(self, rows: np.ndarray) -> _Points:
        return _Points(*(getattr(self, f)[rows] for f in self.__dataclass_fields__))


def _extrema(dogs: list[np.ndarray]) -> _Points:
    """Strict 26-neighbour extrema of the DoG stack with |value| >= 3 (`extractFeatures`).

    With two DoG images per octave, image i's neighbours are either (same size, half size) or
    (double size, same size); the other-size neighbours are read by bilinear interpolation.
    """
    empty = np.zeros(0, f32)
    found = [_Points(np.zeros(0, int), np.zeros(0, int), empty, empty, empty, empty)]
    for i in range(1, len(dogs) - 1):
        octave, scale = divmod(i, 2)
        im0, im1, im2 = dogs[i - 1], dogs[i], dogs[i + 1]
        h, w = im1.shape
        if scale == 1:  # next image is half size
            r0, r1 = 2, 2 * im2.shape[0] - 3
            c0, c1 = 2, 2 * im2.shape[1] - 3
        else:  # previous image is double size
            r0, r1 = 1, h - 1
            c0, c1 = 1, w - 1
        v = im1[r0:r1, c0:c1]
        hi8 = cv2.dilate(im1, _RING8)[r0:r1, c0:c1]
        lo8 = cv2.erode(im1, _RING8)[r0:r1, c0:c1]
        strong = ~(v * v < LAPLACIAN_THRESHOLD * LAPLACIAN_THRESHOLD)
        rows, cols = np.nonzero(strong & ((v > hi8) | (v < lo8)))
        rows, cols = rows + r0, cols + c0
        value = im1[rows, cols]
        others = []
        same = im0 if scale == 1 else im2
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                others.append(same[rows + dy, cols + dx])
        if scale == 1:
            ds_x = cols.astype(f32) * f32(0.5) - f32(0.25)
            ds_y = rows.astype(f32) * f32(0.5) - f32(0.25)
            step = f32(0.5)
            coarse = im2
        else:
            ds_x = (cols << 1).astype(f32) + f32(0.5)
            ds_y = (rows << 1).astype(f32) + f32(0.5)
            step = f32(2)
            coarse = im0
        for oy in (-step, f32(0), step):
            for ox in (-step, f32(0), step):
                others.append(_bilinear(coarse, ds_x + ox, ds_y + oy))
        others = np.array(others)
        bigger = (value > hi8[rows - r0, cols - c0]) & np.all(value > others, axis=0)
        smaller = (value < lo8[rows - r0, cols - c0]) & np.all(value < others, axis=0)
        keep = bigger | smaller
        rows, cols, value = rows[keep], cols[keep], value[keep]
        o = np.full(len(rows), octave)
        found.append(
            _Points(
                octave=o,
                scale=np.full(len(rows), scale),
                x=_upsample(cols.astype(f32), o),
                y=_upsample(rows.astype(f32), o),
                score=value,
                sigma=(_pow_k(np.full(len(rows), f32(scale))) * f32(1 << octave)).astype(f32),
            )
        )
    fields = _Points.__dataclass_fields__
    return _Points(*(np.concatenate([getattr(p, f) for p in found]) for f in fields))


def _derivatives(im: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple:
    p = im[y, x]
    left, right = im[y, x - 1], im[y, x + 1]
    up, down = im[y - 1, x], im[y + 1, x]
    dx = f32(0.5) * (right - left)
    dy = f32(0.5) * (down - up)
    dxx = left + f32(-2) * p + right
    dyy = up + f32(-2) * p + down
    diagonal = im[y - 1, x - 1] + im[y + 1, x + 1]
    antidiagonal = im[y - 1, x + 1] + im[y + 1, x - 1]
    dxy = f32(0.25) * (diagonal - antidiagonal)
    return dx, dy, dxx, dyy, dxy


def _refine(dogs: list[np.ndarray], pts: _Points, width: int, height: int) -> _Points:
    """Sub-pixel/sub-scale refinement and the edge/contrast tests (`findSubpixelLocations`)."""
    n = len(pts.x)
    xp = _downsample(pts.x, pts.octave)
    yp = _downsample(pts.y, pts.octave)
    xi = (xp + f32(0.5)).astype(np.int64)
    yi = (yp + f32(0.5)).astype(np.int64)
    hmat = np.zeros((n, 9), f32)
    b = np.zeros((n, 3), f32)
    center = np.zeros(n, f32)
    lap_index = pts.octave * 2 + pts.scale
    for index in np.unique(lap_index):
        rows = np.nonzero(lap_index == index)[0]
        lap0, lap1, lap2 = dogs[index - 1], dogs[index], dogs[index + 1]
        x, y = xi[rows], yi[rows]
        dx, dy, dxx, dyy, dxy = _derivatives(lap1, x, y)
        p1 = lap1[y, x]
        if index % 2 == 1:  # lap2 is half size (`ComputeSubpixelHessianFineOctavePair`)
            xh = x.astype(f32) * f32(0.5) + f32(-0.25)
            yh = y.astype(f32) * f32(0.5) + f32(-0.25)
            val = _bilinear(lap2, xh, yh)
            p0 = lap0[y, x]
            ds = f32(0.5) * (val - p0)
            dss = p0 + f32(-2) * p1 + val
            dxs = f32(0.25) * (
                (lap0[y, x - 1] + _bilinear(lap2, xh + f32(0.5), yh))
                - (lap0[y, x + 1] + _bilinear(lap2, xh - f32(0.5), yh))
            )
            dys = f32(0.25) * (
                (lap0[y - 1, x] + _bilinear(lap2, xh, yh + f32(0.5)))
                - (lap0[y + 1, x] + _bilinear(lap2, xh, yh - f32(0.5)))
            )
        else:  # lap0 is double size (`ComputeSubpixelHessianCoarseOctavePair`)
            xd = x.astype(f32) * f32(2) + f32(0.5)
            yd = y.astype(f32) * f32(2) + f32(0.5)
            val = _bilinear(lap0, xd, yd)
            p2 = lap2[y, x]
            ds = f32(0.5) * (p2 - val)
            dss = val + f32(-2) * p1 + p2
            dxs = f32(0.25) * (
                (_bilinear(lap0, xd - f32(2), yd) + lap2[y, x + 1])
                - (_bilinear(lap0, xd + f32(2), yd) + lap2[y, x - 1])
            )
            dys = f32(0.25) * (
                (_bilinear(lap0, xd, yd - f32(2)) + lap2[y + 1, x])
                - (_bilinear(lap0, xd, yd + f32(2)) + lap2[y - 1, x])
            )
        hmat[rows] = np.stack([dxx, dxy, dxs, dxy, dyy, dys, dxs, dys, dss], axis=1)
        b[rows] = np.stack([-dx, -dy, -ds], axis=1)
        center[rows] = p1
    a = hmat.T
    # MatrixInverseSymmetric3x3 + Multiply_3x3_3x1, in the C++ operation order.
    det = (
        (-a[8]) * (a[1] * a[1]) + f32(2) * a[1] * a[2] * a[5] - a[4] * (a[2] * a[2])
        - a[0] * (a[5] * a[5]) + a[0] * a[4] * a[8]
    )
    solvable = ~(np.abs(det) <= np.finfo(f32).eps)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        inv = (1.0 / det.astype(np.float64)).astype(f32)
        c0 = (a[4] * a[8] - a[5] * a[5]) * inv
        c1 = (a[2] * a[7] - a[1] * a[8]) * inv
        c2 = (a[1] * a[5] - a[2] * a[4]) * inv
        c4 = (a[0] * a[8] - a[2] * a[2]) * inv
        c5 = (a[2] * a[3] - a[0] * a[5]) * inv
        c8 = (a[0] * a[4] - a[1] * a[1]) * inv
        bt = b.T
        u0 = c0 * bt[0] + c1 * bt[1] + c2 * bt[2]
        u1 = c1 * bt[0] + c4 * bt[1] + c5 * bt[2]
        u2 = c2 * bt[0] + c5 * bt[1] + c8 * bt[2]
        close = ~(u0 * u0 + u1 * u1 > MAX_SUBPIXEL_SHIFT_SQ)
        det2 = a[0] * a[4] - a[1] * a[1]
        edge = (a[0] + a[4]) * (a[0] + a[4]) / det2
        score = center - (bt[0] * u0 + bt[1] * u1 + bt[2] * u2)
    x = _upsample(xp + u0, pts.octave)
    y = _upsample(yp + u1, pts.octave)
    sp_scale = np.clip(pts.scale.astype(f32) + u2, f32(0), f32(2))
    hessian_threshold = (EDGE_THRESHOLD + f32(1)) * (EDGE_THRESHOLD + f32(1)) / EDGE_THRESHOLD
    keep = (
        solvable
        & close
        & (det2 != 0)
        & (np.abs(edge) < hessian_threshold)
        & ~(score * score < LAPLACIAN_THRESHOLD * LAPLACIAN_THRESHOLD)
        & (x >= 0)
        & (x < width)
        & (y >= 0)
        & (y < height)
    )
    sigma = _pow_k(sp_scale) * np.left_shift(1, pts.octave).astype(f32)
    refined = _Points(pts.octave, pts.scale, x, y, score, sigma)
    return refined.subset(np.nonzero(keep)[0])


def _nth_element_greater(items: list, nth: int) -> None:
    """libstdc++ `std::nth_element(first, first+nth, last, std::greater<>())`, in place.

    The reference keeps the first `nth` entries of each bucket in whatever order introselect
    leaves them; replaying libstdc++'s algorithm reproduces that order.
    """

    def comp(p, q) -> bool:
        return p > q

    n = len(items)
    if n == 0 or nth == n:
        return
    first, last = 0, n
    depth = 2 * (n.bit_length() - 1)
    while last - first > 3:
        if depth == 0:
            _heap_select(items, first, nth + 1, last, comp)
            items[first], items[nth] = items[nth], items[first]
            return
        depth -= 1
        cut = _partition_pivot(items, first, last, comp)
        if cut <= nth:
            first = cut
        else:
            last = cut
    _insertion_sort(items, first, last, comp)


def _partition_pivot(items: list, first: int, last: int, comp) -> int:
    mid = first + (last - first) // 2
    a, b, c = first + 1, mid, last - 1
    if comp(items[a], items[b]):
        if comp(items[b], items[c]):
            pick = b
        elif comp(items[a], items[c]):
            pick = c
        else:
            pick = a
    elif comp(items[a], items[c]):
        pick = a
    elif comp(items[b], items[c]):
        pick = c
    else:
        pick = b
    items[first], items[pick] = items[pick], items[first]
    lo, hi = first + 1, last
    pivot = items[first]
    while True:
        while comp(items[lo], pivot):
            lo += 1
        hi -= 1
        while comp(pivot, items[hi]):
            hi -= 1
        if not lo < hi:
            return lo
        items[lo], items[hi] = items[hi], items[lo]
        lo += 1


def _insertion_sort(items: list, first: int, last: int, comp) -> None:
    for i in range(first + 1, last):
        value = items[i]
        if comp(value, items[first]):
            items[first + 1 : i + 1] = items[first:i]
            items[first] = value
        else:
            j = i
            while comp(value, items[j - 1]):
                items[j] = items[j - 1]
                j -= 1
            items[j] = value


def _heap_select(items: list, first: int, middle: int, last: int, comp) -> None:
    length = middle - first
    if length >= 2:
        for parent in range((length - 2) // 2, -1, -1):
            _adjust_heap(items, first, parent, length, items[first + parent], comp)
    for i in range(middle, last):
        if comp(items[i], items[first]):
            value = items[i]
            items[i] = items[first]
            _adjust_heap(items, first, 0, length, value, comp)


def _adjust_heap(items: list, first: int, hole: int, length: int, value, comp) -> None:
    top = hole
    child = hole
    while child < (length - 1) // 2:
        child = 2 * (child + 1)
        if comp(items[first + child], items[first + child - 1]):
            child -= 1
        items[first + hole] = items[first + child]
        hole = child
    if (length & 1) == 0 and child == (length - 2) // 2:
        child = 2 * (child + 1)
        items[first + hole] = items[first + child - 1]
        hole = child - 1
    parent = (hole - 1) // 2
    while hole > top and comp(items[first + parent], value):
        items[first + hole] = items[first + parent]
        hole = parent
        parent = (hole - 1) // 2
    items[first + hole] = value


def _prune(pts: _Points, width: int, height: int) -> _Points:
    """Keep the 5 strongest |score| per cell of a 10x10 grid when there are over 500 points."""
    if len(pts.x) <= MAX_FEATURES:
        return pts
    per_bucket = MAX_FEATURES // (BUCKETS * BUCKETS)
    dx = int(np.ceil(f32(width) / f32(BUCKETS)))
    dy = int(np.ceil(f32(height) / f32(BUCKETS)))
    bx = np.minimum((pts.x / f32(dx)).astype(np.int64), BUCKETS - 1)
    by = np.minimum((pts.y / f32(dy)).astype(np.int64), BUCKETS - 1)
    strength = np.abs(pts.score)
    buckets: list[list[list]] = [[[] for _ in range(BUCKETS)] for _ in range(BUCKETS)]
    for i in range(len(pts.x)):
        buckets[bx[i]][by[i]].append((float(strength[i]), i))
    keep = []
    for column in buckets:
        for bucket in column:
            n = min(len(bucket), per_bucket)
            _nth_element_greater(bucket, n)
            keep.extend(i for _, i in bucket[:n])
    return pts.subset(np.array(keep, dtype=np.int64))


# --------------------------------------------------------------------------------------------
# Orientation


def _gradients(im: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`ComputePolarGradients` (angle + pi, magnitude) at the given pixels only."""
    h, w = im.shape
    xl = np.where(x == 0, x, x - 1)
    xr = np.where(x == w - 1, x, x + 1)
    yu = np.where(y == 0, y, y - 1)
    yd = np.where(y == h - 1, y, y + 1)
    dx = im[y, xr] - im[y, xl]
    dy = im[yd, x] - im[yu, x]
    # atan2f rounds to float, then `+ PI` happens in double (PI is a double literal).
    atan = np.arctan2(dy.astype(np.float64), dx.astype(np.float64)).astype(f32)
    angle = (atan.astype(np.float64) + _PI).astype(f32)
    return angle, np.sqrt(dx * dx + dy * dy)


def _fastexp6(x: np.ndarray) -> np.ndarray:
    inner = f32(120) + x * (f32(30) + x * (f32(6) + x))
    poly = f32(720) + x * (f32(720) + x * (f32(360) + x * inner))
    return (poly.astype(np.float64) * 0.0013888888).astype(f32)


def _orientations(pyramid: list[list[np.ndarray]], pts: _Points) -> tuple[np.ndarray, np.ndarray]:
    """Dominant orientations (`OrientationAssignment::compute`); returns (point index, angle)."""
    n = len(pts.x)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, f32)
    octave = pts.octave
    xs = _downsample(pts.x, octave)
    ys = _downsample(pts.y, octave)
    sigma = pts.sigma * (f32(1) / np.left_shift(1, octave).astype(f32))
    widths = np.array([pyramid[o][0].shape[1] for o in octave])
    heights = np.array([pyramid[o][0].shape[0] for o in octave])
    xs = np.clip(xs, f32(0), (widths - 1).astype(f32))
    ys = np.clip(ys, f32(0), (heights - 1).astype(f32))
    xi = (xs + f32(0.5)).astype(np.int64)
    yi = (ys + f32(0.5)).astype(np.int64)
    gw_sigma = np.maximum(f32(1), GAUSSIAN_EXPANSION * sigma)
    gw_scale = f32(-1) / (f32(2) * (gw_sigma * gw_sigma))
    radius = SUPPORT_EXPANSION * gw_sigma
    radius2 = np.ceil(radius * radius)
    reach = (radius + f32(0.5)).astype(np.int64)
    span = int(reach.max())
    grid = np.arange(-span, span + 1)
    oy = np.repeat(grid, len(grid))
    ox = np.tile(grid, len(grid))
    # Every point's window in raster order; the histogram sums must follow that order.
    px = xi[:, None] + ox[None, :]
    py = yi[:, None] + oy[None, :]
    inside = (
        (px >= np.maximum(0, xi - reach)[:, None])
        & (px <= np.minimum(xi + reach, widths - 1)[:, None])
        & (py >= np.maximum(0, yi - reach)[:, None])
        & (py <= np.minimum(yi + reach, heights - 1)[:, None])
    )
    ddx = px.astype(f32) - xs[:, None]
    ddy = py.astype(f32) - ys[:, None]
    r2 = ddx * ddx + ddy * ddy
    use = inside & ~(r2 > radius2[:, None])
    k, cell = np.nonzero(use)
    level = octave[k] * SCALES_PER_OCTAVE + pts.scale[k]
    angle = np.zeros(len(k), f32)
    mag = np.zeros(len(k), f32)
    qx, qy = px[k, cell], py[k, cell]
    for lv in np.unique(level):
        sel = np.nonzero(level == lv)[0]
        im = pyramid[lv // SCALES_PER_OCTAVE][lv % SCALES_PER_OCTAVE]
        angle[sel], mag[sel] = _gradients(im, qx[sel], qy[sel])
    weight = _fastexp6(r2[k, cell] * gw_scale[k])
    fbin = (
        (f32(ORIENTATION_BINS) * angle).astype(np.float64) * _ONE_OVER_2PI
    ).astype(f32)
    vote = weight * mag
    low = np.floor(fbin - f32(0.5)).astype(np.int64)
    w2 = fbin - low.astype(f32) - f32(0.5)
    w1 = f32(1) - w2
    b1 = (low + ORIENTATION_BINS) % ORIENTATION_BINS
    b2 = (low + 1) % ORIENTATION_BINS
    hist = np.zeros(n * ORIENTATION_BINS, f32)
    target = np.stack([k * ORIENTATION_BINS + b1, k * ORIENTATION_BINS + b2], axis=1).ravel()
    amount = np.stack([w1 * vote, w2 * vote], axis=1).ravel()
    np.add.at(hist, target, amount)
    hist = hist.reshape(n, ORIENTATION_BINS)
    k0, k1, k2 = _SMOOTH
    for _ in range(SMOOTHING_PASSES):
        hist = k0 * np.roll(hist, 1, axis=1) + k1 * hist + k2 * np.roll(hist, -1, axis=1)
    peak = hist.max(axis=1)
    prev = np.roll(hist, 1, axis=1)
    nxt = np.roll(hist, -1, axis=1)
    is_peak = (hist > (PEAK_THRESHOLD * peak)[:, None]) & (hist > prev) & (hist > nxt)
    is_peak &= (peak > 0)[:, None]
    point, bin_ = np.nonzero(is_peak)
    h0, hm, hp = hist[point, bin_], prev[point, bin_], nxt[point, bin_]
    binf = bin_.astype(f32)
    lo2 = (binf - f32(1)) * (binf - f32(1))
    mid2 = binf * binf
    a = (hp - h0) / f32(2) - (hm - h0) / f32(-2)
    bq = ((hm - h0) + a * (mid2 - lo2)) / f32(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        vertex = -bq / (f32(2) * a)
    fbin_peak = np.where(a != 0, vertex, binf)
    turns = ((fbin_peak + f32(0.5)) + f32(ORIENTATION_BINS)) / f32(ORIENTATION_BINS)
    angles = np.fmod(2 * _PI * turns.astype(np.float64), 2 * _PI).astype(f32)
    return point, angles


# --------------------------------------------------------------------------------------------
# FREAK-84


def _locate(pyramid: list[list[np.ndarray]], sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`GaussianScaleSpacePyramid::locate`: pyramid level whose blur matches a receptor sigma."""
    octaves = len(pyramid)
    with np.errstate(divide="ignore", invalid="ignore"):
        octave = np.floor(_log(sigma) / _LOG2).astype(np.int64)
        base = np.left_shift(1, np.maximum(octave, 0)).astype(f32)
        fscale = _log(sigma / base) * _ONE_OVER_LOG_K
        scale = np.floor(fscale + f32(0.5)).astype(np.int64)
    top = scale == SCALES_PER_OCTAVE - 1
    octave = np.where(top, octave + 1, octave)
    scale = np.where(top, 0, scale)
    # A negative octave (the C++ shifts by a negative count there) clips to the finest level.
    scale = np.where(octave < 0, 0, np.where(octave >= octaves, SCALES_PER_OCTAVE - 1, scale))
    octave = np.clip(octave, 0, octaves - 1)
    return octave, scale


def _describe(
    pyramid: list[list[np.ndarray]],
    x: np.ndarray,
    y: np.ndarray,
    angle: np.ndarray,
    sigma: np.ndarray,
) -> np.ndarray:
    n = len(x)
    out = np.zeros((n, DESCRIPTOR_BYTES), np.uint8)
    scale = np.maximum(sigma * FREAK_EXPANSION, f32(1))
    c = scale * _cos(angle)
    s = scale * _sin(angle)
    # Samples: ring 5 .. ring 0 (6 each), then the centre.
    sx = np.empty((n, 37), f32)
    sy = np.empty((n, 37), f32)
    ssig = np.empty((n, 37), f32)
    for ring in range(6):
        cols = slice((5 - ring) * 6, (5 - ring) * 6 + 6)
        rx = _RINGS[ring, :, 0][None, :]
        ry = _RINGS[ring, :, 1][None, :]
        sx[:, cols] = (c[:, None] * rx + (-s)[:, None] * ry) + x[:, None]
        sy[:, cols] = (s[:, None] * rx + c[:, None] * ry) + y[:, None]
        ssig[:, cols] = (_SIGMA_RINGS[ring] * scale)[:, None]
    sx[:, 36], sy[:, 36] = x, y
    ssig[:, 36] = _SIGMA_CENTER * scale
    octave, level = _locate(pyramid, ssig.ravel())
    fx, fy = sx.ravel(), sy.ravel()
    samples = np.empty(n * 37, f32)
    for o in np.unique(octave):
        for lv in np.unique(level[octave == o]):
            sel = np.nonzero((octave == o) & (level == lv))[0]
            im = pyramid[o][lv]
            oo = np.full(len(sel), o)
            px = np.clip(_downsample(fx[sel], oo), f32(0), f32(im.shape[1] - 2))
            py = np.clip(_downsample(fy[sel], oo), f32(0), f32(im.shape[0] - 2))
            samples[sel] = _bilinear(im, px, py)
    samples = samples.reshape(n, 37)
    bits = samples[:, _PAIR_I] < samples[:, _PAIR_J]
    out[:, :84] = np.packbits(bits, axis=1, bitorder="little")
    return out


def extract(img: np.ndarray) -> Keypoints:
    """Keypoints and descriptors of one grey image, as `computeFreakFeaturesAndDescriptors`."""
    h, w = img.shape
    pyramid = build_pyramid(img)
    dogs = [level[j] - level[j + 1] for level in pyramid for j in range(SCALES_PER_OCTAVE - 1)]
    pts = _extrema(dogs)
    pts = _refine(dogs, pts, w, h)
    pts = _prune(pts, w, h)
    point, angle = _orientations(pyramid, pts)
    x, y, sigma = pts.x[point], pts.y[point], pts.sigma[point]
    return Keypoints(
        x=x,
        y=y,
        angle=angle,
        sigma=sigma,
        maxima=pts.score[point] > 0,
        descriptors=_describe(pyramid, x, y, angle, sigma),
    )
