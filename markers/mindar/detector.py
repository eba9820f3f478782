"""DoG feature detector of mind-ar 1.2.5 (``detector/detector.js`` + the CPU kernels).

Pipeline for one keyframe image:

1. Gaussian pyramid (two binomial-filtered images per octave) and its differences of Gaussians.
2. Extrema of octaves 1..n-2 over 3x3x3 neighbourhoods, with contrast, border and Hessian edge
   tests.
3. Pruning to the 5 strongest extrema in each cell of a 10x10 grid (at most 500 points).
4. One Newton step of sub-pixel localisation, a 36-bin orientation histogram, FREAK descriptors.

Every intermediate value is rounded to float32 where the official kernels store it into a
float32 tensor, and computed in doubles in the official order in between, so the output is
bit-identical. The points come out in the official order: grid cell 0..99, then strength rank.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import fdlibm, freak
from .pyramid import FILTER_BAND, detection_pyramid, downsample, octave_count, upsample

LAPLACIAN_SQR_THRESHOLD = 3.0 * 3.0
EDGE_HESSIAN_THRESHOLD = (4.0 + 1.0) ** 2 / 4.0
BORDER = 7  # FREAK_EXPANSION_FACTOR: the descriptor pattern must fit inside the octave image
NUM_BUCKETS_PER_DIMENSION = 10
MAX_FEATURES_PER_BUCKET = 5
ORIENTATION_NUM_BINS = 36
ORIENTATION_SMOOTHING_ITERATIONS = 5
_ONE_OVER_2PI = 0.159154943091895
_SMOOTH_SIDE = 0.274068619061197
_SMOOTH_CENTRE = 0.451862761877606

_F32 = np.float32
_F64 = np.float64


def _orientation_samples() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 69 (dy, dx, weight) samples within radius 4.5, weights from the official truncated
    Taylor series of ``exp(-d^2 / 18)`` (sigma 3), stored in a float32 tensor."""
    gw_scale = -1.0 / (2 * 3.0 * 3.0)
    radius = 3.0 * 1.5
    rows, cols, weights = [], [], []
    for dy in range(-5, 6):
        for dx in range(-5, 6):
            d2 = dx * dx + dy * dy
            if d2 <= radius * radius:
                t = d2 * gw_scale
                poly = 720 + t * (720 + t * (360 + t * (120 + t * (30 + t * (6 + t)))))
                w = poly * 0.0013888888
                rows.append(dy)
                cols.append(dx)
                weights.append(w)
    return (
        np.array(rows, dtype=np.int64),
        np.array(cols, dtype=np.int64),
        np.array(weights, dtype=_F32).astype(_F64),
    )


_SAMPLE_DY, _SAMPLE_DX, _SAMPLE_W = _orientation_samples()


@dataclass(frozen=True)
class Features:
    """Detector output, one row per point, in the official order."""

    maxima: np.ndarray  # bool
    x: np.ndarray  # float64, keyframe pixels
    y: np.ndarray
    scale: np.ndarray  # int64, 2**octave
    angle: np.ndarray  # float64 holding float32 values
    descriptors: np.ndarray  # uint32, N x 21


def detect(image: np.ndarray) -> Features:
    """Run the detector on one keyframe (uint8, H x W)."""
    height, width = image.shape
    octaves = octave_count(width, height)
    blurred, dogs, first_dog_small = detection_pyramid(image, octaves)

    candidates = [
        _extrema_candidates(
            octave,
            first_dog_small if octave == 1 else downsample(dogs[octave - 1]),
            dogs[octave],
            dogs[octave + 1],
        )
        for octave in range(1, octaves - 1)
    ]
    score, octave, y, x = _prune(candidates)
    score, y, x = _localize(score, octave, y, x, dogs)

    angle = _orientations(octave, y, x, blurred)
    samples = np.empty((len(x), freak.POINT_COUNT), dtype=_F32)
    for o in np.unique(octave):
        sel = octave == o
        samples[sel] = freak.sample_points(blurred[o], x[sel], y[sel], angle[sel])
    words = freak.descriptors(samples)

    factor = 2.0 ** octave.astype(_F64)
    return Features(
        maxima=score > 0,
        x=x.astype(_F64) * factor + factor / 2 - 0.5,
        y=y.astype(_F64) * factor + factor / 2 - 0.5,
        scale=(2 ** octave).astype(np.int64),
        angle=angle.astype(_F64),
        descriptors=words,
    )


def _extrema_candidates(octave: int, lower: np.ndarray, here: np.ndarray, above: np.ndarray):
    """``buildExtremas.js`` then ``extremaReduction.js`` for one octave; ``lower`` is the
    previous octave's DoG already downsampled to this octave's size.

    Returns the encoded 2x2-block values in block row-major order with the block coordinates,
    ready for pruning. Working on the sparse candidate list keeps this cheap: typically well
    under 1% of pixels pass the contrast test.
    """
    height, width = here.shape
    found_y, found_x = [], []
    for lo in range(BORDER, height - BORDER, FILTER_BAND):
        hi = min(lo + FILTER_BAND, height - BORDER)
        # The band's rows plus one above and below, for the 3x3 neighbourhoods.
        upper = upsample(above, here.shape, lo - 1, hi + 1)
        ys, xs = _band_extrema(lower[lo - 1 : hi + 1], here[lo - 1 : hi + 1], upper)
        found_y.append(ys + lo)
        found_x.append(xs + BORDER)
    ys, xs = np.concatenate(found_y), np.concatenate(found_x)

    v = here[ys, xs].astype(_F64)

    def at(dy: int, dx: int) -> np.ndarray:
        return here[ys + dy, xs + dx].astype(_F64)

    dxx = at(0, 1) + at(0, -1) - 2.0 * v
    dyy = at(1, 0) + at(-1, 0) - 2.0 * v
    dxy = 0.25 * (at(-1, -1) + at(1, 1) - at(-1, 1) - at(1, -1))
    det = dxx * dyy - dxy * dxy
    defined = np.abs(det) >= 0.0001
    edge = np.full(det.shape, np.inf)
    trace = dxx[defined] + dyy[defined]
    edge[defined] = trace * trace / det[defined]
    keep = defined & (np.abs(edge) < EDGE_HESSIAN_THRESHOLD)
    ys, xs, v = ys[keep], xs[keep], v[keep]

    # 2x2 reduction: a block reports (y+1,x) first, then (y,x+1), then (y+1,x+1), then (y,x).
    block_h, block_w = height // 2, width // 2
    inside = (ys < 2 * block_h) & (xs < 2 * block_w)
    ys, xs, v = ys[inside], xs[inside], v[inside]
    local = (ys % 2) + 2 * (xs % 2)  # official loc codes: 0 (y,x), 1 (y+1,x), 2 (y,x+1), 3
    priority = np.array([3, 0, 1, 2])[local]
    block = (ys // 2) * block_w + (xs // 2)
    order = np.lexsort((priority, block))
    block, local, v = block[order], local[order], v[order]
    first = np.ones(len(block), dtype=bool)
    first[1:] = block[1:] != block[:-1]
    block, local, v = block[first], local[first], v[first]

    offset = local.astype(_F64) * 1000.0
    encoded = np.where(v < 0.0, -offset + v, offset + v).astype(_F32)
    return octave, block_w, block_h, block // block_w, block % block_w, encoded


def _band_extrema(lower: np.ndarray, here: np.ndarray, upper: np.ndarray):
    """Rows 1..-2 of a band (the others are its halo): the pixels at least BORDER columns from
    the sides with |v| >= 3 that are a non-strict maximum or minimum of their 3x3x3
    neighbourhood (themselves included). Returns (row in the band minus 1, column - BORDER)."""
    width = here.shape[1]
    value = here[1:-1, BORDER : width - BORDER]
    # Compare with the largest and smallest of the 27 values, found with separable filters.
    highest = np.maximum(np.maximum(_spread(lower, np.maximum), _spread(here, np.maximum)),
                         _spread(upper, np.maximum))
    lowest = np.minimum(np.minimum(_spread(lower, np.minimum), _spread(here, np.minimum)),
                        _spread(upper, np.minimum))
    # v * v >= 9 in doubles (exact for a float32 v) is |v| >= 3.
    strong = np.abs(value) >= np.sqrt(LAPLACIAN_SQR_THRESHOLD)
    return np.nonzero(strong & ((value >= highest) | (value <= lowest)))


def _spread(layer: np.ndarray, pick) -> np.ndarray:
    """``pick`` (np.maximum or np.minimum) over each 3x3 neighbourhood of rows 1..-2 and of the
    columns at least BORDER pixels from the sides."""
    width = layer.shape[1]
    rows = pick(pick(layer[:-2], layer[1:-1]), layer[2:])
    cols = rows[:, BORDER - 1 : width - BORDER + 1]
    return pick(pick(cols[:, :-2], cols[:, 1:-1]), cols[:, 2:])


def _prune(candidates):
    """Keep the 5 largest |score| per cell of a 10x10 grid, in the official slot order."""
    scores, octaves, ys, xs, buckets = [], [], [], [], []
    for octave, block_w, block_h, block_y, block_x, encoded in candidates:
        enc = encoded.astype(_F64)
        score = np.fmod(enc, 1000.0)
        loc = np.floor(np.abs(enc) / 1000.0).astype(np.int64)
        x = block_x * 2 + ((loc == 2) | (loc == 3))
        y = block_y * 2 + ((loc == 1) | (loc == 3))
        bucket_w = block_w * 2 / NUM_BUCKETS_PER_DIMENSION
        bucket_h = block_h * 2 / NUM_BUCKETS_PER_DIMENSION
        bucket = (
            np.floor(y / bucket_h).astype(np.int64) * NUM_BUCKETS_PER_DIMENSION
            + np.floor(x / bucket_w).astype(np.int64)
        )
        scores.append(score)
        octaves.append(np.full(len(score), octave, dtype=np.int64))
        ys.append(y)
        xs.append(x)
        buckets.append(bucket)
    score = np.concatenate(scores)
    octave = np.concatenate(octaves)
    y, x, bucket = np.concatenate(ys), np.concatenate(xs), np.concatenate(buckets)

    # The official insertion keeps, per bucket, the first-visited among equal |score|, i.e. a
    # stable sort by descending |score| within the visit order.
    visit = np.arange(len(score))
    order = np.lexsort((visit, -np.abs(score), bucket))
    bucket = bucket[order]
    starts = np.searchsorted(bucket, bucket, side="left")
    rank = np.arange(len(bucket)) - starts
    kept = order[rank < MAX_FEATURES_PER_BUCKET]
    return score[kept], octave[kept], y[kept], x[kept]


def _localize(score, octave, y, x, dogs):
    """One Newton step on the DoG of the point's octave (``_computeLocalization``)."""
    p = np.empty((len(score), 3, 3), dtype=_F64)
    for o in np.unique(octave):
        sel = octave == o
        dog = dogs[o]
        h, w = dog.shape
        for dy in range(3):
            for dx in range(3):
                yy = np.clip(y[sel] + dy - 1, 0, h - 1)
                xx = np.clip(x[sel] + dx - 1, 0, w - 1)
                p[sel, dy, dx] = dog[yy, xx]
    gx = 0.5 * (p[:, 1, 2] - p[:, 1, 0])
    gy = 0.5 * (p[:, 2, 1] - p[:, 0, 1])
    dxx = p[:, 1, 2] + p[:, 1, 0] - 2 * p[:, 1, 1]
    dyy = p[:, 2, 1] + p[:, 0, 1] - 2 * p[:, 1, 1]
    dxy = 0.25 * (p[:, 0, 0] + p[:, 2, 2] - p[:, 0, 2] - p[:, 2, 0])
    det = dxx * dyy - dxy * dxy
    solvable = np.abs(det) >= 0.0001
    safe_det = np.where(solvable, det, 1.0)
    ux = (dyy * -gx + -dxy * -gy) / safe_det
    uy = (-dxy * -gx + dxx * -gy) / safe_det
    new_y = np.where(solvable, y + uy, y)
    new_x = np.where(solvable, x + ux, x)
    return score.astype(_F32), new_y.astype(_F32), new_x.astype(_F32)


def _orientations(octave, y, x, blurred) -> np.ndarray:
    """Dominant gradient orientation (float32 radians) from a smoothed 36-bin histogram."""
    count = len(x)
    fbin = np.empty((count, len(_SAMPLE_W)), dtype=_F64)
    magnitude = np.empty_like(fbin)
    for o in np.unique(octave):
        sel = octave == o
        image = blurred[o]
        h, w = image.shape
        flat = image.astype(_F64).ravel()
        cy = np.trunc(y[sel].astype(_F64))
        cx = np.trunc(x[sel].astype(_F64))
        # Clip in float before the integer cast: the sub-pixel step is unbounded.
        py = cy[:, None] + _SAMPLE_DY
        px = cx[:, None] + _SAMPLE_DX

        def read(yy, xx, h=h, w=w, flat=flat):
            row = np.clip(yy, 0, h - 1).astype(np.intp)
            col = np.clip(xx, 0, w - 1).astype(np.intp)
            return flat[row * w + col]

        gy = read(py + 1, px) - read(py - 1, px)
        gx = read(py, px + 1) - read(py, px - 1)
        angle = fdlibm.atan2(gy, gx) + np.pi
        fbin[sel] = (angle * ORIENTATION_NUM_BINS * _ONE_OVER_2PI).astype(_F32)
        magnitude[sel] = (_SAMPLE_W * np.sqrt(gx * gx + gy * gy)).astype(_F32)

    bins = np.floor(fbin - 0.5)
    w2 = fbin - bins - 0.5
    w1 = w2 * -1.0 + 1.0
    b1 = np.mod(bins.astype(np.int64) + ORIENTATION_NUM_BINS, ORIENTATION_NUM_BINS)
    b2 = np.mod(bins.astype(np.int64) + 1 + ORIENTATION_NUM_BINS, ORIENTATION_NUM_BINS)
    rows = np.arange(count)
    # Each bin sums its contributions in sample order, as the official kernel loops; bincount
    # adds its weights sequentially in index order, in doubles, starting from 0.
    slots = rows[:, None, None] * ORIENTATION_NUM_BINS + np.stack([b1, b2], axis=2)
    weights = np.stack([w1 * magnitude, w2 * magnitude], axis=2)
    hist = np.bincount(
        slots.ravel(), weights.ravel(), minlength=count * ORIENTATION_NUM_BINS
    ).reshape(count, ORIENTATION_NUM_BINS)
    hist = hist.astype(_F32).astype(_F64)

    for _ in range(ORIENTATION_SMOOTHING_ITERATIONS):
        prev = np.roll(hist, 1, axis=1)
        nxt = np.roll(hist, -1, axis=1)
        hist = (_SMOOTH_SIDE * prev + _SMOOTH_CENTRE * hist + _SMOOTH_SIDE * nxt)
        hist = hist.astype(_F32).astype(_F64)

    peak = np.argmax(hist, axis=1)  # first maximum, like the strict '>' scan
    p11 = hist[rows, (peak - 1) % ORIENTATION_NUM_BINS]
    p21 = hist[rows, peak]
    p31 = hist[rows, (peak + 1) % ORIENTATION_NUM_BINS]
    p10 = (peak - 1).astype(_F64)
    p20 = peak.astype(_F64)
    # Parabola through the peak and its neighbours; the denominators are the constants
    # d1 = 2, d2 = -2, d3 = -1 of the official code.
    a_coef = ((p31 - p21) / 2.0) - ((p11 - p21) / -2.0)
    b_coef = ((p11 - p21) + (a_coef * (p20 * p20 - p10 * p10))) / -1.0
    flat_peak = a_coef == 0.0
    fbin_peak = np.where(flat_peak, 0.0, -b_coef / (2.0 * np.where(flat_peak, 1.0, a_coef)))
    angle = 2.0 * np.pi * (fbin_peak + 0.5) / ORIENTATION_NUM_BINS - np.pi
    return angle.astype(_F32)
