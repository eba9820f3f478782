"""The `.iset` pyramid: DPI levels, the box filter and the file round trip."""

from __future__ import annotations

import io
import itertools
import math

import numpy as np
import pytest
from PIL import Image

from markers.nft import iset

f32 = np.float32


def box_mean_by_hand(src: np.ndarray, src_dpi: float, dst_dpi: float) -> np.ndarray:
    """ar2GenImageLayer written out pixel by pixel (float32 bounds, C integer division)."""
    h, w = src.shape[:2]

    def lround(v):
        return math.floor(float(v) + 0.5)

    s, d = f32(src_dpi), f32(dst_dpi)
    out_w = lround(f32(f32(w) * d) / s)
    out_h = lround(f32(f32(h) * d) / s)
    out = np.zeros((out_h, out_w), np.uint8)
    for jj in range(out_h):
        sy, ey = lround(f32(jj) * s / d), min(lround(f32(jj + 1) * s / d) - 1, h - 1)
        for ii in range(out_w):
            sx, ex = lround(f32(ii) * s / d), min(lround(f32(ii + 1) * s / d) - 1, w - 1)
            box = src[sy : ey + 1, sx : ex + 1].astype(np.int64)
            out[jj, ii] = box.sum() // box.size
    return out


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize(("src_dpi", "dst_dpi"), [(72.0, 60.919708), (72.0, 3.022), (50.0, 33.3)])
def test_box_filter_matches_the_reference_loops(channels, src_dpi, dst_dpi):
    shape = (53, 71, 3) if channels == 3 else (53, 71)
    src = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    got = iset.downsample(src, f32(src_dpi), f32(dst_dpi))
    np.testing.assert_array_equal(got, box_mean_by_hand(src, src_dpi, dst_dpi))


def test_rgb_is_averaged_inside_the_box_not_before():
    # Grey first: (5 // 3 + 1 // 3) // 2 = 0. The reference sums every channel of the box: 6 // 6.
    src = np.array([[[2, 2, 1], [1, 0, 0]]], np.uint8)
    assert iset.downsample(src, f32(2), f32(1))[0, 0] == 1


def test_same_dpi_is_an_identity_copy():
    src = np.random.default_rng(2).integers(0, 256, (40, 30), dtype=np.uint8)
    np.testing.assert_array_equal(iset.downsample(src, f32(72), f32(72)), src)


def test_dpi_levels_of_a_1000x667_photo():
    levels = iset.dpi_levels(1000, 667, 72.0)
    assert len(levels) == 15
    assert levels[0] == f32(72.0)
    assert levels[-1] == f32(3.022)
    assert all(a > b for a, b in itertools.pairwise(levels))


def test_a_28px_image_has_one_level():
    assert iset.dpi_levels(28, 40, 72.0) == [f32(72.0)]


def test_round_trip():
    photo = np.random.default_rng(3).integers(0, 256, (90, 120), dtype=np.uint8)
    scales = iset.build_pyramid(photo, 72.0)
    data = iset.encode_iset(scales)
    parsed = iset.parse_iset(data)
    assert parsed.dpis == tuple(float(s.dpi) for s in scales)
    assert parsed.sizes == tuple((s.width, s.height) for s in scales)
    with Image.open(io.BytesIO(data[4:])) as jpeg:
        assert jpeg.mode == "L"
        assert jpeg.size == (120, 90)
        assert jpeg.info["jfif_density"] == (72, 72)


def test_a_fractional_dpi_would_make_the_runtime_rebuild_other_level_sizes():
    # Why generate_nft insists on whole DPIs: the JFIF density truncates 72.9 to 72, and the
    # runtime rebuilds levels 1..n from that, not from the DPI the generator used.
    photo = np.zeros((90, 120), np.uint8)
    scales = iset.build_pyramid(photo, 72.9)
    parsed = iset.parse_iset(iset.encode_iset(scales))
    assert parsed.dpis[0] == 72.0
    assert parsed.sizes[1] != (scales[1].width, scales[1].height)
