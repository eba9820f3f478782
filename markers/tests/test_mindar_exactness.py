"""The fast paths of the compiler against straightforward transcriptions of the official JS.

The parity tests prove the five reference photos; these tests prove each shortcut on inputs
chosen to stress it (extreme values, wide dynamic range, ties), by comparing with a slow
reference written the way the JavaScript computes: doubles, rounded to float32 where JS stores.
"""

import math

import numpy as np
import pytest

from markers.mindar import clustering, pyramid, tracking

F32, F64 = np.float32, np.float64
RNG = np.random.default_rng(2024)


def js_binomial(image: np.ndarray) -> np.ndarray:
    """binomialFilter.js, pixel by pixel in doubles."""
    height, width = image.shape
    src = image.astype(F64)
    first = np.empty((height, width), dtype=F32)
    for y in range(height):
        for x in range(width):
            row = [src[y, min(max(x + d, 0), width - 1)] for d in (-2, -1, 0, 1, 2)]
            first[y, x] = row[0] + row[1] * 4 + row[2] * 6 + row[3] * 4 + row[4]
    mid = first.astype(F64)
    out = np.empty((height, width), dtype=F32)
    for y in range(height):
        for x in range(width):
            col = [mid[min(max(y + d, 0), height - 1), x] for d in (-2, -1, 0, 1, 2)]
            out[y, x] = (col[0] + col[1] * 4 + col[2] * 6 + col[3] * 4 + col[4]) / 256
    return out


def js_downsample(image: np.ndarray) -> np.ndarray:
    """downsampleBilinear.js: a float32 accumulator, each add done in doubles then rounded."""
    h, w = image.shape[0] // 2, image.shape[1] // 2
    out = np.empty((h, w), dtype=F32)
    for y in range(h):
        for x in range(w):
            acc = F32(F64(image[2 * y, 2 * x]) * 0.25)
            for dy, dx in ((1, 0), (0, 1), (1, 1)):
                acc = F32(F64(acc) + F64(F32(F64(image[2 * y + dy, 2 * x + dx]) * 0.25)))
            out[y, x] = acc
    return out


def js_resize(image: np.ndarray, ratio: float) -> np.ndarray:
    """utils/images.js resize."""

    def js_round(v: float) -> int:
        return math.floor(v + 0.5)  # equal to Math.round away from 0.49999999999999994

    height, width = image.shape
    out_w, out_h = js_round(width * ratio), js_round(height * ratio)
    out = np.zeros((out_h, out_w), dtype=np.uint8)
    for i in range(out_w):
        x1, x2 = js_round(i / ratio), min(js_round((i + 1) / ratio) - 1, width - 1)
        for j in range(out_h):
            y1, y2 = js_round(j / ratio), min(js_round((j + 1) / ratio) - 1, height - 1)
            block = image[y1 : y2 + 1, x1 : x2 + 1].astype(F64)
            out[j, i] = int(np.floor(block.sum() / block.size))
    return out


@pytest.mark.parametrize(
    "image",
    [
        RNG.integers(0, 256, (23, 31)).astype(np.uint8),
        np.full((17, 19), 255, dtype=np.uint8),  # the largest sums the proof allows
        (np.indices((20, 24)).sum(axis=0) % 2 * 255).astype(np.uint8),  # a 1 px checkerboard
    ],
    ids=["noise", "white", "checkerboard"],
)
@pytest.mark.parametrize("band", [2, 6, 1000])
def test_integer_first_octave_equals_the_float_filters(image, band):
    parts = list(pyramid.first_octave_bands(image, band))
    first = np.concatenate([part[0] for part in parts])
    second = np.concatenate([part[1] for part in parts])
    expected_first = js_binomial(image)
    assert np.array_equal(first.view(np.uint32), expected_first.view(np.uint32))
    assert np.array_equal(second.view(np.uint32), js_binomial(expected_first).view(np.uint32))


def test_generic_binomial_matches_the_js_loop_on_arbitrary_floats():
    image = (RNG.standard_normal((19, 23)) * 10.0 ** RNG.integers(-6, 3, (19, 23))).astype(F32)
    expected = js_binomial(image)
    assert np.array_equal(pyramid.binomial(image).view(np.uint32), expected.view(np.uint32))


def test_float32_downsample_equals_the_js_double_then_round_steps():
    # Mixed signs and magnitudes from 1e-30 to 1e3 exercise every rounding case.
    image = (RNG.standard_normal((40, 42)) * 10.0 ** RNG.integers(-30, 4, (40, 42))).astype(F32)
    assert np.array_equal(
        pyramid.downsample(image).view(np.uint32), js_downsample(image).view(np.uint32)
    )


def test_float32_difference_equals_double_subtraction_rounded():
    a = (RNG.standard_normal(10000) * 10.0 ** RNG.integers(-30, 4, 10000)).astype(F32)
    b = (RNG.standard_normal(10000) * 10.0 ** RNG.integers(-30, 4, 10000)).astype(F32)
    expected = (a.astype(F64) - b.astype(F64)).astype(F32)
    assert np.array_equal(pyramid.difference(a, b).view(np.uint32), expected.view(np.uint32))


@pytest.mark.parametrize("ratio", [1.0, 0.8534414257893546, 0.5, 0.37, 256 / 297, 128 / 297])
def test_box_resize_matches_the_js_loops(ratio):
    image = RNG.integers(0, 256, (297, 151)).astype(np.uint8)
    assert np.array_equal(pyramid.BoxResizer(image).resize(ratio), js_resize(image, ratio))


def test_box_resize_refuses_to_upscale():
    with pytest.raises(ValueError, match="downscales"):
        pyramid.BoxResizer(np.zeros((10, 10), dtype=np.uint8)).resize(1.5)


def test_js_round_rounds_halves_up_and_keeps_the_largest_double_below_one_half():
    values = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 0.49999999999999994, 2.4999999999999996])
    assert pyramid.js_round(values).tolist() == [1, 2, 3, 0, -1, 0, 2]


def test_matching_scales_follow_the_official_list():
    # Short side 372: 7 scales, the first exactly 1, the last exactly 100 / 372.
    scales = pyramid.matching_scales(674, 372)
    assert len(scales) == 7
    assert scales[0] == 1.0
    assert scales[-1] == 100 / 372
    assert scales[1] == 0.8534414257893546  # as stored in the official card.mind


def test_cross_sums_are_the_exact_integer_correlations():
    image = RNG.integers(0, 256, (60, 70)).astype(np.uint8)
    image[20:40, 20:40] = 255  # saturated patches push the sums towards the 2^24 bound
    patches = tracking._Patches(image)
    cy = np.array([16, 30, 43, 25])
    cx = np.array([16, 35, 53, 30])
    got = tracking._CrossSums(patches.padded, 10)(cy, cx).reshape(4, 21, 21)
    padded = np.pad(image.astype(np.int64), 30)
    for n, (y, x) in enumerate(zip(cy + 30, cx + 30, strict=True)):
        template = padded[y - 6 : y + 7, x - 6 : x + 7]
        for a in range(21):
            for b in range(21):
                window = padded[y - 16 + a : y - 3 + a, x - 16 + b : x - 3 + b]
                assert got[n, a, b] == (template * window).sum()


def test_k_medoids_assignment_matches_the_official_scan_with_ties():
    # Few distinct descriptors: many equal distances, so first-minimum rules matter.
    words = RNG.integers(0, 4, (60, 21)).astype(np.uint32) * np.uint32(0x01010101)
    distances = clustering.hamming_matrix(words)
    indexes = np.arange(5, 60)
    ours = clustering._k_medoids(indexes, distances, clustering._Random())

    rng = clustering._Random()
    picks = (rng.draws() % len(indexes)).tolist()
    perm = list(range(len(indexes)))
    best_sum, best = None, None
    for hypothesis in range(clustering.NUM_ASSIGNMENT_HYPOTHESES):
        for i in range(clustering.NUM_CENTERS):
            k = picks[hypothesis * clustering.NUM_CENTERS + i]
            perm[i], perm[k] = perm[k], perm[i]
        assignment, total = [], 0
        for j in range(len(indexes)):
            best_d, chosen = 2**53, None
            for k in range(clustering.NUM_CENTERS):
                d = int(distances[indexes[j], indexes[perm[k]]])
                if d < best_d:
                    best_d, chosen = d, perm[k]
            assignment.append(chosen)
            total += best_d
        if best_sum is None or total < best_sum:
            best_sum, best = total, assignment
    assert ours.tolist() == best


def test_hamming_matrix_counts_differing_bits():
    words = RNG.integers(0, 2**32, (5, 21), dtype=np.uint64).astype(np.uint32)
    expected = [
        [sum(bin(int(a) ^ int(b)).count("1") for a, b in zip(u, v, strict=True)) for v in words]
        for u in words
    ]
    assert clustering.hamming_matrix(words).tolist() == expected


def test_lcg_jump_table_reproduces_the_step_by_step_generator():
    seed, expected = clustering.RANDOM_SEED, []
    for _ in range(clustering.NUM_ASSIGNMENT_HYPOTHESES * clustering.NUM_CENTERS * 2):
        seed = (214013 * seed + 2531011) % (1 << 31)
        expected.append((seed >> 16) & 0x7FFF)
    rng = clustering._Random()
    assert np.concatenate([rng.draws(), rng.draws()]).tolist() == expected
