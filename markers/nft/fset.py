"""`.fset`: AR2 template-tracking feature points and their file format.

The reference (`ar2GenFeatureMap` + `ar2SelectFeature2`, tracking level 2) computes, for every
strong gradient maximum, the best normalised cross-correlation (NCC) of its 45x45 template with
the templates 3..10 px away, then greedily keeps distinctive points. It does all arithmetic in
float32 with sequential sums over 2025 pixels, and the stored `maxSim` values (and the greedy
order) depend on every rounding. Re-running that arithmetic for every candidate and offset is what
makes the reference slow, so this module:

1. gets the exact integer sums (window sums, sums of squares, lagged products) from integral
   images or `cv2.matchTemplate`, turns them into NCC values with a *rigorous* bound on how far
   the reference's float32 result can be from them, and settles most decisions that way;
2. walks the candidates best-first on certified lower bounds of their values (`_Search`), so only
   candidates still uncovered when their turn comes need their value at all;
3. replays the reference's float32 arithmetic bit for bit (`_Exact`) only for the pairs a
   decision hinges on, and for the values it writes.

Rejected candidates never influence the greedy selection, so the bounds mostly have to answer
"is this candidate rejected, never selected, or a contender?".
"""

from __future__ import annotations

import heapq
import struct
from dataclasses import dataclass

import cv2
import numpy as np

from .errors import NftFormatError

f32 = np.float32
_U = 2.0**-24  # float32 unit roundoff

# Template geometry: AR2_DEFAULT_TS1/TS2 (11) times AR2_TEMP_SCALE (2).
HALF = 22
SIZE = 2 * HALF + 1
AREA = SIZE * SIZE
# Feature map search: a +-10 px square minus the disc of radius 2.
SEARCH_OUTER = 10
SEARCH_INNER = 2
# The reference compares float32 values with float32 constants; the interval tests below compare
# float64 bounds with the same float32 constants (as Python floats) so no rounding sneaks in.
MAP_EARLY_EXIT = f32(0.95)  # AR2_DEFAULT_MAX_SIM_THRESH2
MAP_SD_THRESH = f32(5.0)  # AR2_DEFAULT_SD_THRESH2
# Tracking extraction level 2, genTexData's default.
SD_THRESH = f32(8.0)
MIN_SIM = f32(0.55)
MAX_SIM = f32(0.90)
TOO_FLAT = f32(0.99)
OCCUPANCY = 2 * (24 * 2 // 3)  # ar2SelectFeature2 doubles occ_size
DIV_SIZE = 3 * SIZE
# Skipping the rest of the search after a value > 0.95 cannot change whether a candidate stays
# below MAX_SIM; the shortcuts below rely on it.
assert MAX_SIM < MAP_EARLY_EXIT

RING = tuple(
    (dy, dx)
    for dy in range(-SEARCH_OUTER, SEARCH_OUTER + 1)
    for dx in range(-SEARCH_OUTER, SEARCH_OUTER + 1)
    if dx * dx + dy * dy > SEARCH_INNER * SEARCH_INNER
)
INNER = tuple(
    (dy, dx)
    for dy in range(-SEARCH_INNER, SEARCH_INNER + 1)
    for dx in range(-SEARCH_INNER, SEARCH_INNER + 1)
    if 0 < dx * dx + dy * dy <= SEARCH_INNER * SEARCH_INNER
)
# The closest ring offsets correlate most; their values give a cheap lower bound of the map value.
NEAR_RING = tuple(o for o in RING if o[0] ** 2 + o[1] ** 2 <= 9)

POINT_DTYPE = np.dtype([("x", "<i4"), ("y", "<i4"), ("mx", "<f4"), ("my", "<f4"), ("sim", "<f4")])


@dataclass(frozen=True)
class FeatureList:
    """One `.fset` list: the points of one pyramid level and the DPI range it serves."""

    scale: int
    maxdpi: float
    mindpi: float
    points: np.ndarray  # POINT_DTYPE


# --------------------------------------------------------------------------------------------
# Candidates: strong 4-neighbour maxima of the gradient magnitude.


def _gradient_candidates(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels `ar2GenFeatureMap` builds a template for, in row-major order."""
    h, w = img.shape
    # Sums of six signed bytes fit int16, which keeps big photos light.
    i = img.astype(np.int16)

    def at(dy: int, dx: int) -> np.ndarray:
        return i[1 + dy : h - 1 + dy, 1 + dx : w - 1 + dx]

    scale = f32(3.0 * 256)
    dx = (at(-1, 1) - at(-1, -1) + at(0, 1) - at(0, -1) + at(1, 1) - at(1, -1)).astype(f32)
    dy = (at(1, 1) - at(-1, 1) + at(1, 0) - at(-1, 0) + at(1, -1) - at(-1, -1)).astype(f32)
    # dx, dy /= 768, then sqrt((dx*dx + dy*dy) / 2): the reference's float32 steps, in place.
    dx /= scale
    dy /= scale
    np.square(dx, out=dx)
    np.square(dy, out=dy)
    dx += dy
    dx /= f32(2)
    grad = np.full((h, w), -1.0, f32)
    np.sqrt(dx, out=grad[1:-1, 1:-1])
    g = grad[1:-1, 1:-1]
    peak = (g > grad[1:-1, :-2]) & (g > grad[1:-1, 2:])
    peak &= (g > grad[:-2, 1:-1]) & (g > grad[2:, 1:-1])
    level = (g * f32(1000)).astype(np.int32)
    # Walk the 1000-bin histogram of peak strengths from the top until 2% of the image is covered.
    hist = np.bincount(np.clip(level[peak], 0, 999), minlength=1000)
    threshold = -1
    covered = 0
    for k in range(999, -1, -1):
        covered += int(hist[k])
        if f32(covered) / f32(w * h) >= f32(0.02):
            threshold = k
            break
    ys, xs = np.nonzero(peak & (level >= threshold))
    return ys + 1, xs + 1


# --------------------------------------------------------------------------------------------
# Rigorous bounds on the reference's float32 NCC.


def _ulp(values: np.ndarray) -> np.ndarray:
    """An upper bound of the float32 ulp at |values| (2^-23 relative, never less than an ulp)."""
    return np.abs(values) * 2.0**-23 + 1e-37


@dataclass
class _WindowFacts:
    """What a window's statistics imply for the variance term of `get_similarity`."""

    surely: np.ndarray  # the reference's `sxx - sx*sx/2025` is certainly positive
    maybe: np.ndarray  # it may be positive
    den_lo: np.ndarray  # bounds of the reference's sqrt of it
    den_hi: np.ndarray
    norm: np.ndarray  # sqrt(sum of squares), bounding sum |t p| with the template norm


class _Windows:
    """Exact sum and sum of squares of every 45x45 window, indexed by its centre."""

    def __init__(self, img: np.ndarray) -> None:
        h, w = img.shape
        self.h, self.w = h, w
        fimg = img.astype(f32)
        # Both fit int32 (at most 2025 * 255^2), which halves the memory of float64.
        self.sums = self._boxes(cv2.integral(fimg, sdepth=cv2.CV_64F))
        np.square(fimg, out=fimg)
        self.squares = self._boxes(cv2.integral(fimg, sdepth=cv2.CV_64F))

    @staticmethod
    def _boxes(ii: np.ndarray) -> np.ndarray:
        box = ii[SIZE:, SIZE:] - ii[:-SIZE, SIZE:]
        box -= ii[SIZE:, :-SIZE]
        box += ii[:-SIZE, :-SIZE]
        return box.astype(np.int32)

    def facts(self, yy: np.ndarray, xx: np.ndarray) -> _WindowFacts:
        sums = self.sums[yy, xx].astype(np.float64)
        squares = self.squares[yy, xx].astype(np.float64)
        var_sum = squares - sums * sums / AREA
        # Squares are integers, summed exactly while below 2^24; after that each of the 2025 steps
        # rounds by at most half an ulp of a partial sum, and partials stay below the total plus
        # the error so far.
        sxx_err = np.where(squares <= 2.0**24, 0.0, AREA * _ulp(squares + 8 * AREA) / 2)
        ss = sums * sums
        err = sxx_err + _ulp(ss) / (2 * AREA) + _ulp(ss / AREA) / 2
        err = err + _ulp(np.abs(var_sum) + err) / 2
        v2_lo, v2_hi = var_sum - err, var_sum + err
        surely = v2_lo > 0
        return _WindowFacts(
            surely=surely,
            maybe=v2_hi > 0,
            den_lo=np.sqrt(np.where(surely, v2_lo, 1.0)) * (1 - 2 * _U),
            den_hi=np.sqrt(np.where(surely, v2_hi, 1.0)) * (1 + 2 * _U),
            norm=np.sqrt(squares),
        )

    def inside(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        return (y >= HALF) & (y < self.h - HALF) & (x >= HALF) & (x < self.w - HALF)

    def index(self, y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Array indices of window centres, clipped; callers mask centres that are outside."""
        yy = np.clip(y - HALF, 0, self.sums.shape[0] - 1)
        xx = np.clip(x - HALF, 0, self.sums.shape[1] - 1)
        return yy, xx


@dataclass
class _Candidates:
    """Template facts of the candidates, enough to bound their NCC values."""

    y: np.ndarray
    x: np.ndarray
    ave: np.ndarray  # the float32 mean the reference subtracts (as float64)
    vlen_lo: np.ndarray  # bounds of the reference's float32 template norm `vlen`
    vlen_hi: np.ndarray
    var_lo: np.ndarray  # bounds of its `vlen1 / 2025` (template variance)
    var_hi: np.ndarray

    @classmethod
    def at(cls, win: _Windows, y: np.ndarray, x: np.ndarray) -> _Candidates:
        yy, xx = win.index(y, x)
        s, sq = win.sums[yy, xx].astype(np.float64), win.squares[yy, xx].astype(np.float64)
        ave = (s.astype(f32) / f32(AREA)).astype(np.float64)
        # Sum of (p - ave)^2 with the reference's rounded mean, exact up to float64 rounding.
        real = np.maximum(sq - 2 * ave * s + AREA * ave * ave, 0.0)
        # The template values, their squares and the sequential sum each round once.
        eps = (AREA + 4) * _U * 1.001
        lo, hi = real * (1 - eps), real * (1 + eps) + 1e-9
        return cls(
            y=y,
            x=x,
            ave=ave,
            vlen_lo=np.sqrt(lo) * (1 - _U),
            vlen_hi=np.sqrt(hi) * (1 + _U),
            var_lo=lo / AREA * (1 - _U),
            var_hi=hi / AREA * (1 + _U),
        )

    def subset(self, rows: np.ndarray) -> _Candidates:
        return _Candidates(*(getattr(self, f)[rows] for f in self.__dataclass_fields__))


@dataclass
class _Bounds:
    """Interval of the reference's float32 NCC for candidate/offset pairs.

    Pairs the reference skips (window outside the image, variance rounding to zero) are NaN;
    pairs it may or may not skip are (-inf, inf) so that only an exact replay settles them.
    """

    lo: np.ndarray
    hi: np.ndarray
    surely_used: np.ndarray
    maybe_used: np.ndarray

    def rows(self, sel: np.ndarray) -> _Bounds:
        return _Bounds(self.lo[sel], self.hi[sel], self.surely_used[sel], self.maybe_used[sel])

    def columns(self, sel: slice) -> _Bounds:
        return _Bounds(
            self.lo[:, sel], self.hi[:, sel], self.surely_used[:, sel], self.maybe_used[:, sel]
        )

    def lowest_max(self) -> np.ndarray:
        """Lower bound of the max over used pairs (per row), from pairs certainly used."""
        return np.where(self.surely_used, self.lo, -np.inf).max(axis=-1)


def _ncc_bounds(
    win: _Windows,
    vlen_lo: np.ndarray,
    vlen_hi: np.ndarray,
    qy: np.ndarray,
    qx: np.ndarray,
    sxy: np.ndarray,
    sxy_err: np.ndarray,
) -> _Bounds:
    """Bound `sxy / (vlen * sqrt(sxx - sx*sx/2025))` as `get_similarity` computes it in float32.

    `sxy` is the real-valued cross sum of each pair (window centre `qy, qx`) and `sxy_err` how
    far that estimate may be off; `vlen_lo/hi` bound the candidate's template norm.
    """
    inside = win.inside(qy, qx)
    facts = win.facts(*win.index(qy, qx))
    surely = inside & facts.surely
    maybe = inside & facts.maybe
    # Products and the sequential float32 sum: <= (n+2) u sum|t p| <= (n+2) u |t| |p|.
    num_err = sxy_err + (AREA + 2) * _U * 1.001 * facts.norm * vlen_hi
    num_lo, num_hi = sxy - num_err, sxy + num_err
    den_lo = vlen_lo * facts.den_lo
    den_hi = vlen_hi * facts.den_hi
    lo = np.minimum(num_lo / den_lo, num_lo / den_hi)
    hi = np.maximum(num_hi / den_lo, num_hi / den_hi)
    lo = lo - np.abs(lo) * 2 * _U - 1e-12
    hi = hi + np.abs(hi) * 2 * _U + 1e-12
    unsure = maybe & ~surely
    lo = np.where(surely, lo, np.where(unsure, -np.inf, np.nan))
    hi = np.where(surely, hi, np.where(unsure, np.inf, np.nan))
    return _Bounds(lo=lo, hi=hi, surely_used=surely, maybe_used=maybe)


_CHUNK = 4096  # candidates bounded at a time


def _lagged_bounds(
    img: np.ndarray, win: _Windows, cands: _Candidates, offsets: tuple[tuple[int, int], ...]
) -> _Bounds:
    """NCC bounds of every candidate at a few offsets, from one integral image per lag pair.

    sum_u t(c+u) p(c+d+u) = sum_u p(c+u) p(c+d+u) - ave * S(c+d): the first term is a box sum
    of the lagged product image p(x) p(x+d), whose box at c-d also gives lag -d.
    """
    h, w = img.shape
    fimg = img.astype(f32)
    cy, cx = cands.y, cands.x
    sxy = np.zeros((len(cy), len(offsets)))
    column = {o: k for k, o in enumerate(offsets)}
    # Boxes of usable pairs only cover pixels where both factors exist; the rest of the buffer
    # keeps finite leftovers from earlier lags, which only boxes of skipped pairs see.
    product = np.zeros((h, w), f32)
    for dy, dx in sorted({max(o, (-o[0], -o[1])) for o in offsets}):
        y0, y1 = max(0, -dy), min(h, h - dy)
        x0, x1 = max(0, -dx), min(w, w - dx)
        if y1 > y0 and x1 > x0:
            # Products of bytes are exact in float32 and their integral is exact in float64.
            np.multiply(
                fimg[y0:y1, x0:x1],
                fimg[y0 + dy : y1 + dy, x0 + dx : x1 + dx],
                out=product[y0:y1, x0:x1],
            )
        ii = cv2.integral(product, sdepth=cv2.CV_64F)
        for sign in (1, -1):
            if (sign * dy, sign * dx) not in column:
                continue
            by = np.clip(cy if sign == 1 else cy - dy, HALF, h - HALF - 1)
            bx = np.clip(cx if sign == 1 else cx - dx, HALF, w - HALF - 1)
            box = (
                ii[by + HALF + 1, bx + HALF + 1]
                - ii[by - HALF, bx + HALF + 1]
                - ii[by + HALF + 1, bx - HALF]
                + ii[by - HALF, bx - HALF]
            )
            yy, xx = win.index(cy + sign * dy, cx + sign * dx)
            sxy[:, column[(sign * dy, sign * dx)]] = box - cands.ave * win.sums[yy, xx]
    off = np.array(offsets)
    parts = []
    # Bounding makes a score of temporaries per pair; chunks keep them small on big photos.
    for start in range(0, max(len(cy), 1), _CHUNK):
        rows = slice(start, start + _CHUNK)
        qy = cy[rows, None] + off[None, :, 0]
        qx = cx[rows, None] + off[None, :, 1]
        # Integral-image sums of float32-exact integers are exact in float64; only subtracting
        # ave * S rounds, far below the float32 bounds.
        err = np.abs(sxy[rows]) * 1e-15 + 1e-6
        vlen_lo, vlen_hi = cands.vlen_lo[rows, None], cands.vlen_hi[rows, None]
        parts.append(_ncc_bounds(win, vlen_lo, vlen_hi, qy, qx, sxy[rows], err))
    fields = _Bounds.__dataclass_fields__
    return _Bounds(*(np.concatenate([getattr(p, f) for p in parts]) for f in fields))


_RING = np.array(RING)
_RING_FLAT = (_RING[:, 0] + SEARCH_OUTER) * (2 * SEARCH_OUTER + 1) + (_RING[:, 1] + SEARCH_OUTER)


# --------------------------------------------------------------------------------------------
# Exact replay of the reference's float32 arithmetic.


class _Exact:
    """Bit-exact `make_template` and `get_similarity`, computed only when asked for."""

    def __init__(self, img: np.ndarray) -> None:
        self.h, self.w = img.shape
        self.flat = img.ravel()
        rows, cols = np.mgrid[0:SIZE, 0:SIZE]
        self.window = (rows * self.w + cols).ravel()

    def pixels(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        return self.flat[((y - HALF) * self.w + (x - HALF))[:, None] + self.window[None, :]]

    def templates(self, y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(template values, vlen1, vlen) of `make_template` at each centre."""
        pixels = self.pixels(y, x)
        ave = pixels.sum(axis=1, dtype=np.int64).astype(f32) / f32(AREA)
        template = pixels.astype(f32) - ave[:, None]
        vlen1 = np.add.accumulate(template * template, axis=1)[:, -1]
        return template, vlen1, np.sqrt(vlen1)

    def sims(
        self, template: np.ndarray, vlen: np.ndarray, qy: np.ndarray, qx: np.ndarray
    ) -> np.ndarray:
        """`get_similarity` of each (template row, window centre) pair; NaN where it is skipped.

        The reference skips a window that leaves the image or whose variance rounds to zero; a
        negative variance gives NaN, which its comparisons ignore as well.
        """
        out = np.full(len(qy), np.nan, f32)
        inside = (qy >= HALF) & (qy < self.h - HALF) & (qx >= HALF) & (qx < self.w - HALF)
        idx = np.nonzero(inside)[0]
        if len(idx):
            pixels = self.pixels(qy[idx], qx[idx])
            sx = pixels.sum(axis=1, dtype=np.int64).astype(f32)
            wide = pixels.astype(np.int32)
            sxx = np.add.accumulate((wide * wide).astype(f32), axis=1)[:, -1]
            sxy = np.add.accumulate(pixels.astype(f32) * template[idx], axis=1)[:, -1]
            v2 = sxx - (sx * sx) / f32(AREA)
            with np.errstate(invalid="ignore", divide="ignore"):
                sim = sxy / (vlen[idx] * np.sqrt(v2))
            out[idx] = np.where(v2 != 0, sim, np.nan)
        return out


# --------------------------------------------------------------------------------------------
# Feature map + greedy selection.


class _Search:
    """`ar2GenFeatureMap` + `ar2SelectFeature2` for one level, evaluated lazily.

    The reference repeatedly takes the smallest map value (first in row-major order on ties),
    tests it and either rejects it or accepts it and clears a square around it. Suppression only
    removes candidates, so the picks are the candidates in (value, row-major) order that are not
    yet cleared when their turn comes. `select_features` walks that order with a heap keyed on a
    certified lower bound of each value, so exact values are computed only for candidates that
    are still uncovered when they reach the front.
    """

    def __init__(self, img: np.ndarray) -> None:
        self.img = img
        h, w = img.shape
        self.win = _Windows(img)
        self.exact = _Exact(img)
        self.padded = np.zeros((h + 2 * SEARCH_OUTER, w + 2 * SEARCH_OUTER), f32)
        self.padded[SEARCH_OUTER : SEARCH_OUTER + h, SEARCH_OUTER : SEARCH_OUTER + w] = img
        self._templates: dict[int, tuple] = {}
        self._find_candidates()

    def _find_candidates(self) -> None:
        """Candidates with a template, bounds at the inner offsets, and a map lower bound.

        Candidates already known to stay above MAX_SIM or to fail a select test are dropped:
        the reference rejects them without touching anything else.
        """
        cy, cx = _gradient_candidates(self.img)
        keep = self.win.inside(cy, cx)
        cands = _Candidates.at(self.win, cy[keep], cx[keep])
        # The map's template gate (SD >= 5); borderline cases are replayed exactly.
        gate = float(MAP_SD_THRESH * MAP_SD_THRESH)
        ok = cands.var_lo >= gate
        unsure = np.nonzero(~ok & (cands.var_hi >= gate))[0]
        if len(unsure):
            _, vlen1, _ = self.exact.templates(cands.y[unsure], cands.x[unsure])
            ok[unsure] = (vlen1 != 0) & ~(vlen1 / f32(AREA) < MAP_SD_THRESH * MAP_SD_THRESH)
        cands = cands.subset(ok)
        both = _lagged_bounds(self.img, self.win, cands, INNER + NEAR_RING)
        inner = both.columns(slice(0, len(INNER)))
        floor = both.columns(slice(len(INNER), None)).lowest_max()
        live = ~((floor >= float(MAX_SIM)) | _surely_rejected(cands, inner, floor))
        self.cands = cands.subset(live)
        self.inner = inner.rows(live)
        self.floor = floor[live]

    def map_value(self, k: int) -> np.float32:
        """The reference's feature-map value of candidate k (max NCC over the ring, or -1).

        Values at or above MAX_SIM come back as MAX_SIM: they only mean "never selected".
        """
        ring = self._ring_bounds(k)
        floor = ring.lowest_max()
        if floor >= float(MAX_SIM):
            return MAX_SIM
        # Only offsets whose interval reaches the best certain lower bound can hold the maximum.
        need = np.nonzero(ring.maybe_used & (ring.hi >= floor))[0]
        sims = self._exact_sims(k, _RING[need])
        used = sims[~np.isnan(sims)]
        return used.max() if len(used) else f32(-1)

    def accepted(self, k: int, value: np.float32) -> bool:
        """Whether `ar2SelectFeature2` keeps candidate k once k holds the smallest value."""
        inner = self.inner.rows(np.array([k]))
        maybe = inner.maybe_used[0]
        low = np.where(maybe, inner.lo[0], np.inf).min()
        high = np.where(maybe, inner.hi[0], -np.inf).max()
        sd_ok = self.cands.vlen_lo[k] / SIZE * (1 - _U) >= float(SD_THRESH)
        if sd_ok and high <= float(TOO_FLAT) and (low >= float(MIN_SIM) or low >= float(value)):
            return True
        if _surely_rejected(self.cands.subset(np.array([k])), inner, np.array([float(value)]))[0]:
            return False
        sims = self._exact_sims(k, np.array(INNER))
        used = sims[~np.isnan(sims)]
        low = used.min() if len(used) else f32(1)
        high = used.max() if len(used) else f32(-1)
        if (low < MIN_SIM and low < value) or high > TOO_FLAT:
            return False
        _, _, vlen = self._template(k)
        return not (vlen[0] / f32(SIZE) < SD_THRESH)

    def _ring_bounds(self, k: int) -> _Bounds:
        """Bounds at every ring offset of candidate k, from one matchTemplate call."""
        cands = self.cands
        y, x = int(cands.y[k]), int(cands.x[k])
        span = SEARCH_OUTER + HALF
        template = self.img[y - HALF : y + HALF + 1, x - HALF : x + HALF + 1].astype(f32)
        template -= f32(cands.ave[k])
        py, px = y + SEARCH_OUTER, x + SEARCH_OUTER
        window = self.padded[py - span : py + span + 1, px - span : px + span + 1]
        # Centring keeps matchTemplate's float32 error small; the template sums to nearly zero and
        # the correction below restores sum(t * p) exactly.
        centre = float(np.round(window.mean()))
        corr = cv2.matchTemplate(window - f32(centre), template, cv2.TM_CCORR).ravel()[_RING_FLAT]
        sxy = corr.astype(np.float64) + centre * float(template.sum(dtype=np.float64))
        qy = y + _RING[:, 0]
        qx = x + _RING[:, 1]
        yy, xx = self.win.index(qy, qx)
        s = self.win.sums[yy, xx].astype(np.float64)
        sq = self.win.squares[yy, xx].astype(np.float64)
        # Observed error is within 1 ulp of |t| |p - centre|; allow 64.
        wnorm = np.sqrt(np.maximum(sq - 2 * centre * s + AREA * centre * centre, 0.0))
        err = 64 * _U * wnorm * cands.vlen_hi[k] + 1e-6
        return _ncc_bounds(self.win, cands.vlen_lo[k], cands.vlen_hi[k], qy, qx, sxy, err)

    def _exact_sims(self, k: int, offsets: np.ndarray) -> np.ndarray:
        template, _, vlen = self._template(k)
        n = len(offsets)
        return self.exact.sims(
            np.repeat(template, n, axis=0),
            np.repeat(vlen, n),
            self.cands.y[k] + offsets[:, 0],
            self.cands.x[k] + offsets[:, 1],
        )

    def _template(self, k: int) -> tuple:
        if k not in self._templates:
            ys, xs = self.cands.y[k : k + 1], self.cands.x[k : k + 1]
            self._templates[k] = self.exact.templates(ys, xs)
        return self._templates[k]


def _surely_rejected(cands: _Candidates, inner: _Bounds, value_lo: np.ndarray) -> np.ndarray:
    """Candidates certainly rejected by `ar2SelectFeature2`'s tests, given a value lower bound."""
    sd_fail = cands.vlen_hi / SIZE * (1 + _U) < float(SD_THRESH)
    too_flat = np.where(inner.surely_used, inner.lo, -np.inf).max(axis=1) > float(TOO_FLAT)
    # The minimum over the used inner offsets is at most that over the certainly used ones.
    low_hi = np.where(inner.surely_used, inner.hi, np.inf).min(axis=1)
    too_sharp = (low_hi < float(MIN_SIM)) & (low_hi < value_lo)
    return sd_fail | too_flat | too_sharp


def select_features(img: np.ndarray, dpi: np.float32) -> np.ndarray:
    """`ar2GenFeatureMap` + `ar2SelectFeature2` (level 2) for one pyramid level."""
    h, w = img.shape
    cap = (w // OCCUPANCY) * (h // OCCUPANCY) + (w // DIV_SIZE) * (h // DIV_SIZE)
    chosen: list[tuple[int, int, np.float32]] = []
    # Without room for a template there is no candidate; without a cap nothing is selected.
    if cap > 0 and h >= SIZE and w >= SIZE:
        search = _Search(img)
        cands = search.cands
        flat = cands.y * w + cands.x
        # Entries: (key, row-major index, candidate, exact?). Keys are lower bounds until the
        # candidate is evaluated, then its exact value; float64 compares float32 values exactly.
        heap = [(float(search.floor[k]), int(flat[k]), k, False) for k in range(len(flat))]
        heapq.heapify(heap)
        blocked = np.zeros((h, w), bool)
        while heap and len(chosen) < cap:
            key, _, k, exact = heapq.heappop(heap)
            y, x = int(cands.y[k]), int(cands.x[k])
            if blocked[y, x]:
                continue
            if not exact:
                value = search.map_value(k)
                if value < MAX_SIM:
                    heapq.heappush(heap, (float(value), int(flat[k]), k, True))
                continue
            value = f32(key)
            if search.accepted(k, value):
                chosen.append((x, y, value))
                occ = OCCUPANCY
                blocked[max(0, y - occ) : y + occ + 1, max(0, x - occ) : x + occ + 1] = True
    pts = np.zeros(len(chosen), POINT_DTYPE)
    if chosen:
        xs = np.array([c[0] for c in chosen])
        ys = np.array([c[1] for c in chosen])
        pts["x"] = xs
        pts["y"] = ys
        pts["mx"] = xs.astype(f32) / f32(dpi) * f32(25.4)
        pts["my"] = (h - ys).astype(f32) / f32(dpi) * f32(25.4)
        pts["sim"] = np.array([c[2] for c in chosen], f32)
    return pts


def dpi_range(dpis: list[np.float32], index: int) -> tuple[np.float32, np.float32]:
    """(maxdpi, mindpi) of a level, as markerCreator's computeMaxDpi/computeMinDpi."""
    dpi = dpis[index]
    lower = [d for d in dpis if d < dpi]
    higher = [d for d in dpis if d > dpi]
    mindpi = max(lower) if lower else f32(dpi * f32(0.5))
    maxdpi = f32(f32(dpi * f32(0.8)) + f32(min(higher) * f32(0.2))) if higher else f32(dpi * f32(2))
    return maxdpi, mindpi


# --------------------------------------------------------------------------------------------
# File format.


def encode_fset(lists: list[FeatureList]) -> bytes:
    parts = [struct.pack("<i", len(lists))]
    for item in lists:
        parts.append(struct.pack("<iffi", item.scale, item.maxdpi, item.mindpi, len(item.points)))
        parts.append(np.ascontiguousarray(item.points, dtype=POINT_DTYPE).tobytes())
    return b"".join(parts)


MAX_FSET_LISTS = 64


def parse_fset(data: bytes) -> list[FeatureList]:
    """Split a `.fset` into its lists; every byte must be accounted for."""
    if len(data) < 4:
        raise NftFormatError(".fset is shorter than its list count")
    (num,) = struct.unpack_from("<i", data, 0)
    if not 1 <= num <= MAX_FSET_LISTS:
        raise NftFormatError(f".fset list count {num} is outside 1..{MAX_FSET_LISTS}")
    off = 4
    lists = []
    for _ in range(num):
        if len(data) - off < 16:
            raise NftFormatError(".fset is truncated inside a list header")
        scale, maxdpi, mindpi, count = struct.unpack_from("<iffi", data, off)
        off += 16
        if count < 0 or count > (len(data) - off) // POINT_DTYPE.itemsize:
            raise NftFormatError(f".fset point count {count} does not fit the file")
        points = np.frombuffer(data, POINT_DTYPE, count=count, offset=off).copy()
        off += count * POINT_DTYPE.itemsize
        lists.append(FeatureList(scale, maxdpi, mindpi, points))
    if off != len(data):
        raise NftFormatError(f".fset has {len(data) - off} trailing bytes")
    return lists
