"""`.fset` selection against a literal, slow replay of the reference's loops.

The fast path settles most decisions with error bounds and replays float32 arithmetic only where
the bounds leave a decision open. The replay below does what `ar2GenFeatureMap` and
`ar2SelectFeature2` do, step by step, so small images with awkward content (flat patches, bright
low-contrast areas, features at the borders) check the bounds where the photos may not.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from markers.nft import fset
from markers.nft.fset import (
    AREA,
    HALF,
    INNER,
    MAP_EARLY_EXIT,
    MAX_SIM,
    MIN_SIM,
    OCCUPANCY,
    POINT_DTYPE,
    RING,
    SD_THRESH,
    SIZE,
    TOO_FLAT,
    parse_fset,
)

f32 = np.float32
FIXTURES = Path(__file__).parent / "fixtures" / "nft"


def _template(img, y, x):
    pixels = img[y - HALF : y + HALF + 1, x - HALF : x + HALF + 1].ravel()
    ave = f32(pixels.sum(dtype=np.int64)) / f32(AREA)
    template = pixels.astype(f32) - ave
    vlen1 = np.add.accumulate(template * template)[-1]
    return template, vlen1, np.sqrt(vlen1)


def _similarities(img, template, vlen, y, x, offsets):
    """get_similarity at each offset, in order; None where the reference skips the window."""
    h, w = img.shape
    out = []
    for dy, dx in offsets:
        qy, qx = y + dy, x + dx
        if qy - HALF < 0 or qy + HALF >= h or qx - HALF < 0 or qx + HALF >= w:
            out.append(None)
            continue
        pixels = img[qy - HALF : qy + HALF + 1, qx - HALF : qx + HALF + 1].ravel()
        sx = f32(pixels.sum(dtype=np.int64))
        sxx = np.add.accumulate((pixels.astype(np.int32) ** 2).astype(f32))[-1]
        sxy = np.add.accumulate(pixels.astype(f32) * template)[-1]
        v2 = sxx - sx * sx / f32(AREA)
        if v2 == 0:
            out.append(None)
            continue
        with np.errstate(invalid="ignore"):
            out.append(sxy / (vlen * np.sqrt(v2)))
    return out


def replay(img: np.ndarray, dpi: float) -> np.ndarray:
    h, w = img.shape
    fmap = np.ones((h, w), f32)
    ys, xs = fset._gradient_candidates(img)
    for y, x in zip(ys, xs, strict=True):
        if y - HALF < 0 or y + HALF >= h or x - HALF < 0 or x + HALF >= w:
            continue
        template, vlen1, vlen = _template(img, y, x)
        if vlen1 == 0 or vlen1 / f32(AREA) < f32(25):
            continue
        best = f32(-1)
        for sim in _similarities(img, template, vlen, y, x, RING):
            if sim is not None and sim > best:
                best = sim
                if best > MAP_EARLY_EXIT:
                    break
        fmap[y, x] = best
    occ = OCCUPANCY
    cap = (w // occ) * (h // occ) + (w // (3 * SIZE)) * (h // (3 * SIZE))
    chosen = []
    while len(chosen) < cap:
        index = int(np.argmin(fmap))
        min_sim = fmap.flat[index]
        if not min_sim < MAX_SIM:
            break
        y, x = divmod(index, w)
        _, _, vlen = _template(img, y, x)
        if vlen / f32(SIZE) < SD_THRESH:
            fmap[y, x] = 1
            continue
        low, high, rejected = f32(1), f32(-1), False
        for sim in _similarities(img, _template(img, y, x)[0], vlen, y, x, INNER):
            if sim is None:
                continue
            if sim < low:
                low = sim
                if low < MIN_SIM and low < min_sim:
                    rejected = True
                    break
            if sim > high:
                high = sim
                if high > TOO_FLAT:
                    rejected = True
                    break
        if rejected:
            fmap[y, x] = 1
            continue
        chosen.append((x, y, x / f32(dpi) * f32(25.4), f32(h - y) / f32(dpi) * f32(25.4), min_sim))
        fmap[max(0, y - occ) : y + occ + 1, max(0, x - occ) : x + occ + 1] = 1
    return np.array(chosen, dtype=POINT_DTYPE)


def _photo_crop(name, scale, top, left, height, width):
    with Image.open(FIXTURES / f"{name}.jpg") as photo:
        grey = np.asarray(photo.convert("L"))
    small = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return small[top : top + height, left : left + width].copy()


def _flat_patch(img):
    img = img.copy()
    img[: img.shape[0] // 2, : img.shape[1] // 3] = 201
    return img


def _bright_low_contrast(img):
    return (200 + img.astype(np.int32) // 5).astype(np.uint8)


def _saturated(img):
    return np.clip((img.astype(np.int32) - 128) * 3 + 128, 0, 255).astype(np.uint8)


CASES = {
    "coffee crop": lambda: _photo_crop("coffee", 0.3, 40, 60, 110, 150),
    "astronaut with a flat patch": lambda: _flat_patch(
        _photo_crop("astronaut", 0.2, 10, 20, 120, 140)
    ),
    "chelsea bright low contrast": lambda: _bright_low_contrast(
        _photo_crop("chelsea", 0.25, 20, 30, 100, 160)
    ),
    "coffee saturated": lambda: _saturated(_photo_crop("coffee", 0.2, 5, 5, 90, 170)),
    "tiny: one template only": lambda: _photo_crop("astronaut", 0.1, 20, 20, 46, 70),
}


@pytest.mark.parametrize("case", list(CASES))
def test_fast_selection_equals_a_literal_replay(case):
    img = CASES[case]()
    ours = fset.select_features(img, f32(72))
    expected = replay(img, 72.0)
    assert len(expected) > 0
    assert ours.tobytes() == expected.tobytes()


@pytest.mark.parametrize("shape", [(44, 200), (200, 44), (27, 27)])
def test_levels_too_small_for_a_template_have_no_points(shape):
    img = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    assert len(fset.select_features(img, f32(72))) == 0


def test_dpi_ranges_follow_the_reference():
    lists = parse_fset((FIXTURES / "coffee.fset").read_bytes())
    dpis = [f32(72.0), *(f32(x) for x in (60.919708, 48.352005, 38.37701))]
    assert fset.dpi_range(dpis, 0) == (f32(144), dpis[1])
    assert fset.dpi_range(dpis, 1) == (f32(lists[1].maxdpi), f32(lists[1].mindpi))
    # The lowest level has no level below: half its DPI.
    assert fset.dpi_range(dpis, 3) == (dpis[3] * f32(0.8) + dpis[2] * f32(0.2), dpis[3] * f32(0.5))


def test_encode_and_parse_round_trip():
    data = (FIXTURES / "astronaut.fset").read_bytes()
    assert fset.encode_fset(parse_fset(data)) == data
