"""Pieces of the KPM/FREAK port that the photo parity test cannot isolate."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from markers.nft import freak
from markers.nft.fset3 import encode_fset3, parse_fset3

FIXTURES = Path(__file__).parent / "fixtures" / "nft"


def test_first_binomial_level_is_the_exact_5_tap_filter():
    img = np.random.default_rng(4).integers(0, 256, (37, 51), dtype=np.uint8)
    kernel = np.array([1, 4, 6, 4, 1], np.float64) / 16
    expected = cv2.sepFilter2D(
        img.astype(np.float64), -1, kernel, kernel, borderType=cv2.BORDER_REPLICATE
    )
    np.testing.assert_array_equal(freak.build_pyramid(img)[0][0], expected.astype(np.float32))


def test_pyramid_octaves_halve_until_a_side_is_below_8():
    pyramid = freak.build_pyramid(np.zeros((40, 70), np.uint8))
    assert [level[0].shape for level in pyramid] == [(40, 70), (20, 35), (10, 17)]
    assert all(len(level) == 3 for level in pyramid)


@given(
    st.lists(st.floats(0, 10, allow_nan=False, width=32), min_size=0, max_size=60),
    st.integers(0, 8),
)
def test_nth_element_puts_the_strongest_first(strengths, nth):
    items = [(s, i) for i, s in enumerate(strengths)]
    nth = min(nth, len(items))
    shuffled = list(items)
    freak._nth_element_greater(shuffled, nth)
    assert sorted(shuffled) == sorted(items)
    ranked = sorted(items, reverse=True)
    assert sorted(shuffled[:nth]) == sorted(ranked[:nth])


def test_heap_select_path_also_selects_the_strongest():
    # Each introselect step costs one unit of depth; a depth of zero falls back to heap_select.
    items = [(float(v), i) for i, v in enumerate(np.random.default_rng(5).permutation(40))]
    first = list(items)
    freak._heap_select(first, 0, 6, len(first), lambda p, q: p > q)
    assert sorted(first[:6], reverse=True) == sorted(items, reverse=True)[:6]


def test_descriptor_bits_are_lsb_first_and_stop_at_666():
    img = np.random.default_rng(6).integers(0, 256, (80, 80), dtype=np.uint8)
    pyramid = freak.build_pyramid(img)
    centre = np.array([40.0], np.float32)
    angle, sigma = np.array([0.3], np.float32), np.array([1.5], np.float32)
    desc = freak._describe(pyramid, centre, centre, angle, sigma)
    assert desc.shape == (1, 96)
    bits = np.unpackbits(desc[0], bitorder="little")
    assert not bits[666:].any()
    assert 0 < bits[:666].sum() < 666


def test_fset3_round_trip():
    data = (FIXTURES / "chelsea.fset3").read_bytes()
    assert encode_fset3(parse_fset3(data)) == data
