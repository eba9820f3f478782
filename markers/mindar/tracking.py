"""Tracking points of a tracking image (``tracker/extract.js``).

The runtime follows the target frame to frame by template matching 13x13 patches around these
points in the 128 px tracking image, so a good point is a strong gradient whose patch does not
resemble its surroundings. The official algorithm:

1. Prewitt gradient magnitude; candidates are strict local maxima (4-neighbourhood), cut to the
   strongest ~2% with a 1000-bin histogram.
2. For each candidate with enough contrast (template std dev >= 5), the largest normalised
   cross-correlation (NCC) with the patches at offsets ``2 < |d| <= 10`` px, stopping at the
   first value above 0.95.
3. Greedy selection, most distinctive first: take the smallest value below 0.9, check contrast
   (std dev >= 8) and the NCC against the 12 offsets ``0 < |d| <= 2``, then block a square of
   ``min(W,H)/10`` px around each accepted point.

Exactness and speed: all sums of pixels, squares and products are integers, computed exactly
(integral images and integer multiply-adds), and the NCC formula is then evaluated in doubles in
the official order, so every value is the same as in JavaScript. The greedy loop visits the
candidates in (value, row-major position) order, which is the order of the official repeated
"global minimum, first in row-major order" search, because map values only ever rise to 1.
"""

from __future__ import annotations

import numpy as np

TEMPLATE_SIZE = 6
TEMPLATE_WIDTH = 2 * TEMPLATE_SIZE + 1
TEMPLATE_PIXELS = TEMPLATE_WIDTH * TEMPLATE_WIDTH
SEARCH_SIZE1 = 10
SEARCH_SIZE2 = 2
TEMPLATE_SD_THRESH = 5.0
MAX_SIM_THRESH = 0.95
MAX_THRESH = 0.9
MIN_THRESH = 0.2
SD_THRESH = 8.0
CANDIDATE_FRACTION = 0.02

_F64 = np.float64
_PAD = SEARCH_SIZE1 + TEMPLATE_SIZE
_CHUNK = 32  # points per matrix product: ~1 MB of windows, so the work stays in cache


def _far_offsets() -> tuple[np.ndarray, np.ndarray]:
    """Offsets of step 2 in the official scan order (dy outer, dx inner)."""
    span = np.arange(-SEARCH_SIZE1, SEARCH_SIZE1 + 1)
    dy, dx = np.meshgrid(span, span, indexing="ij")
    keep = dy * dy + dx * dx > SEARCH_SIZE2 * SEARCH_SIZE2
    return dy[keep], dx[keep]


def _near_offsets() -> tuple[np.ndarray, np.ndarray]:
    span = np.arange(-SEARCH_SIZE2, SEARCH_SIZE2 + 1)
    dy, dx = np.meshgrid(span, span, indexing="ij")
    keep = (dy * dy + dx * dx <= SEARCH_SIZE2 * SEARCH_SIZE2) & ((dy != 0) | (dx != 0))
    return dy[keep], dx[keep]


_FAR_DY, _FAR_DX = _far_offsets()
_NEAR_DY, _NEAR_DX = _near_offsets()


def extract(image: np.ndarray) -> list[dict[str, int]]:
    """``[{"x": int, "y": int}, ...]`` in selection order for a uint8 tracking image."""
    height, width = image.shape
    gradient = _gradient(image)
    cy, cx = _candidates(gradient, width, height)
    patches = _Patches(image)

    vlen, has_template = patches.template_length(cy, cx, TEMPLATE_SD_THRESH)
    cy, cx, vlen = cy[has_template], cx[has_template], vlen[has_template]
    sims, valid = patches.similarities(cy, cx, vlen, _FAR_DY, _FAR_DX)
    feature = _feature_values(sims, valid).astype(np.float32)

    # Only values below MAX_THRESH can ever be picked; visit them like the official search does.
    selectable = feature.astype(_F64) < MAX_THRESH
    cy, cx, feature = cy[selectable], cx[selectable], feature[selectable]
    order = np.lexsort((cy * width + cx, feature))
    cy, cx, feature = cy[order], cx[order], feature[order].astype(_F64)

    # Step 3's checks depend only on the candidate itself, so they are evaluated up front.
    plain_vlen, plain_ok = patches.template_length(cy, cx, 0.0)
    acceptable = plain_ok & (plain_vlen / TEMPLATE_WIDTH >= SD_THRESH)
    near_sims, near_valid = patches.similarities(
        cy[acceptable], cx[acceptable], plain_vlen[acceptable], _NEAR_DY, _NEAR_DX
    )
    lowest = np.where(near_valid, near_sims, 1.0).min(axis=1, initial=1.0)
    highest = np.where(near_valid, near_sims, -1.0).max(axis=1, initial=-1.0)
    acceptable[acceptable] = ~(
        ((lowest < MIN_THRESH) & (lowest < feature[acceptable])) | (highest > 0.99)
    )

    occupancy = min(width, height) // 10
    div = TEMPLATE_WIDTH * 3
    max_features = (width // occupancy) * (height // occupancy) + (width // div) * (height // div)
    blocked = np.zeros((height, width), dtype=bool)
    points: list[dict[str, int]] = []
    for y, x, ok in zip(cy.tolist(), cx.tolist(), acceptable.tolist(), strict=True):
        if len(points) >= max_features:
            break
        if blocked[y, x] or not ok:
            continue
        points.append({"x": x, "y": y})
        blocked[
            max(y - occupancy, 0) : y + occupancy + 1, max(x - occupancy, 0) : x + occupancy + 1
        ] = True
    return points


def _gradient(image: np.ndarray) -> np.ndarray:
    """Prewitt magnitude ``sqrt((dx^2 + dy^2) / 2)`` with ``dx, dy = sums / 768``; border -1."""
    img = image.astype(np.int32)
    gx = img[:, 2:] - img[:, :-2]
    gx = gx[:-2] + gx[1:-1] + gx[2:]
    gy = img[2:] - img[:-2]
    gy = gy[:, :-2] + gy[:, 1:-1] + gy[:, 2:]
    dx = gx / 768.0
    dy = gy / 768.0
    out = np.full(image.shape, -1.0, dtype=np.float32)
    out[1:-1, 1:-1] = np.sqrt((dx * dx + dy * dy) / 2)
    return out


def _candidates(gradient: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Strict 4-neighbourhood maxima, cut to the strongest ~2% by a 1000-bin histogram."""
    g = gradient
    centre = g[1:-1, 1:-1]
    peak = (
        (centre > g[1:-1, :-2]) & (centre > g[1:-1, 2:]) & (centre > g[:-2, 1:-1])
        & (centre > g[2:, 1:-1])
    )
    ys, xs = np.nonzero(peak)
    ys += 1
    xs += 1
    scaled = g[ys, xs].astype(_F64) * 1000
    bins = np.clip(np.floor(scaled), 0, 999).astype(np.int64)
    counts = np.bincount(bins, minlength=1000)
    from_top = np.cumsum(counts[::-1])
    over = np.nonzero(from_top > CANDIDATE_FRACTION * width * height)[0]
    cut = 999 - int(over[0]) if len(over) else -1
    keep = scaled >= cut
    return ys[keep], xs[keep]


class _Patches:
    """Exact integer window sums over the image, for the NCC of 13x13 patches.

    Every per-pixel table is padded by the largest search reach, so the tables around any
    candidate are plain strided windows (a cheap gather) whatever the offset.
    """

    def __init__(self, image: np.ndarray) -> None:
        height, width = image.shape
        img = image.astype(np.int64)
        # Sums stay far below 2^53, so float64 holds them exactly and saves conversions later.
        box = _box_sums(img).astype(_F64)
        box_sq = _box_sums(img * img).astype(_F64)
        fits = np.zeros((height, width), dtype=bool)
        fits[TEMPLATE_SIZE : height - TEMPLATE_SIZE, TEMPLATE_SIZE : width - TEMPLATE_SIZE] = True
        # The NCC denominator term of a window depends on the window alone, so it is computed
        # once per pixel: vlen2 = sxx - sx*sx/169 (JS order), usable where the window fits in
        # the image and is not flat.
        spread = box_sq - box * box / TEMPLATE_PIXELS
        usable = fits & (spread > 0)
        self.box = np.pad(box, _PAD)
        self.box_sq = np.pad(box_sq, _PAD)
        self.fits = np.pad(fits, _PAD)
        self.usable = np.pad(usable, _PAD)
        self.root = np.pad(np.sqrt(np.where(usable, spread, 1.0)), _PAD, constant_values=1.0)
        self.padded = np.pad(image.astype(np.float32), _PAD)
        self.stride = width + 2 * _PAD

    def template_length(self, cy, cx, sd_thresh: float):
        """``_templateVar``: sqrt of 169 x the template variance, or invalid (None in JS)."""
        total = self.box[cy + _PAD, cx + _PAD]
        average = total / TEMPLATE_PIXELS
        vlen = self.box_sq[cy + _PAD, cx + _PAD] - 2 * average * total
        vlen = vlen + TEMPLATE_PIXELS * average * average
        ok = self.fits[cy + _PAD, cx + _PAD] & ~(vlen / TEMPLATE_PIXELS < sd_thresh * sd_thresh)
        return np.sqrt(np.where(ok, vlen, 0.0)), ok

    def similarities(self, cy, cx, vlen, dys, dxs):
        """NCC (``_getSimilarity``) of each point's template with the patches at the offsets.

        Returns (sims, valid), both ``len(points) x len(offsets)``; invalid entries are the
        official ``null`` (window outside the image, or a flat window). Points are processed in
        chunks so that the temporaries stay small and are reused.
        """
        span = int(max(np.abs(dys).max(), np.abs(dxs).max()))
        pick = (dys + span) * (2 * span + 1) + (dxs + span)
        shift = dys * self.stride + dxs
        sims = np.empty((len(cy), len(pick)), dtype=_F64)
        valid = np.empty((len(cy), len(pick)), dtype=bool)
        cross = _CrossSums(self.padded, span)
        box, usable, root = self.box.ravel(), self.usable.ravel(), self.root.ravel()
        for start in range(0, len(cy), _CHUNK):
            chunk = slice(start, start + _CHUNK)
            centre = (cy[chunk] + _PAD) * self.stride + (cx[chunk] + _PAD)
            windows = centre[:, None] + shift[None, :]
            sx = box[windows]
            template_average = box[centre][:, None] / TEMPLATE_PIXELS
            sxy = cross(cy[chunk], cx[chunk])[:, pick] - template_average * sx
            valid[chunk] = usable[windows]
            # JS computes 1.0 * sxy / (vlen * vlen2); multiplying by 1.0 changes nothing.
            sims[chunk] = sxy / (vlen[chunk, None] * root[windows])
        return sims, valid


class _CrossSums:
    """For up to ``_CHUNK`` points at a time: the sum over the 13x13 template of template pixel
    x shifted pixel, for every offset of the (2 span + 1)^2 square (flattened row by row).

    Computed as matrix products: for every template row u, the row correlations
    ``R[u, r, b] = sum_v T[u, v] * A[r, b + v]`` of the point's search area A, then
    ``sum_u R[u, a + u, b]``. Each R entry sums 13 products of bytes, at most 13 * 255^2, and
    the totals stay below 169 * 255^2 < 2^24, so float32 holds every partial sum exactly
    whatever order BLAS adds them in: the results are the exact integers.
    """

    def __init__(self, padded: np.ndarray, span: int) -> None:
        self.span = span
        self.size = 2 * span + 1
        self.side = self.size + 2 * TEMPLATE_SIZE
        self.areas = np.lib.stride_tricks.sliding_window_view(padded, (self.side, self.side))
        # Reused between chunks: fresh multi-megabyte arrays would cost page faults each time.
        self.shifted = np.empty((_CHUNK, TEMPLATE_WIDTH, self.side, self.size), dtype=np.float32)
        self.rows = np.empty((_CHUNK, TEMPLATE_WIDTH, self.side * self.size), dtype=np.float32)
        self.total = np.empty((_CHUNK, self.size, self.size), dtype=np.float32)

    def __call__(self, cy: np.ndarray, cx: np.ndarray) -> np.ndarray:
        count, span, size, side = len(cy), self.span, self.size, self.side
        # The search area of every point, top-left at (cy - span - 6, cx - span - 6).
        area = self.areas[cy - span - TEMPLATE_SIZE + _PAD, cx - span - TEMPLATE_SIZE + _PAD]
        template = np.ascontiguousarray(
            area[:, span : span + TEMPLATE_WIDTH, span : span + TEMPLATE_WIDTH]
        )
        # shifted[:, v, r, b] = A[r, b + v]: both matrix operands contiguous for BLAS.
        shifted = self.shifted[:count]
        for v in range(TEMPLATE_WIDTH):
            shifted[:, v] = area[:, :, v : v + size]
        rows = self.rows[:count]
        np.matmul(template, shifted.reshape(count, TEMPLATE_WIDTH, side * size), out=rows)
        rows = rows.reshape(count, TEMPLATE_WIDTH, side, size)
        total = self.total[:count]
        np.copyto(total, rows[:, 0, 0:size])
        for u in range(1, TEMPLATE_WIDTH):
            total += rows[:, u, u : u + size]
        return total.reshape(count, size * size)


def _box_sums(values: np.ndarray) -> np.ndarray:
    """Sum of each 13x13 window centred on a pixel (zero where it leaves the image)."""
    height, width = values.shape
    table = np.zeros((height + 1, width + 1), dtype=np.int64)
    table[1:, 1:] = values.cumsum(axis=0).cumsum(axis=1)
    out = np.zeros((height, width), dtype=np.int64)
    h, w = height - 2 * TEMPLATE_SIZE, width - 2 * TEMPLATE_SIZE
    if h > 0 and w > 0:
        out[TEMPLATE_SIZE : TEMPLATE_SIZE + h, TEMPLATE_SIZE : TEMPLATE_SIZE + w] = (
            table[TEMPLATE_WIDTH:, TEMPLATE_WIDTH:]
            - table[:h, TEMPLATE_WIDTH:]
            - table[TEMPLATE_WIDTH:, :w]
            + table[:h, :w]
        )
    return out


def _feature_values(sims: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Step 2's value per candidate: the first NCC above 0.95 in scan order, else the largest
    (at least -1; -1 when every window was invalid)."""
    above = valid & (sims > MAX_SIM_THRESH)
    first_above = np.argmax(above, axis=1)
    rows = np.arange(len(sims))
    largest = np.where(valid, sims, -1.0).max(axis=1, initial=-1.0)
    return np.where(above.any(axis=1), sims[rows, first_above], largest)
