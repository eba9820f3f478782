"""Trackability reports: calibrated on the reference photos (good targets) and on synthetic
images that are known to be bad targets for MindAR."""

import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from markers.mindar import (
    CompileResult,
    compile_mind,
    compile_target,
    decode_image,
    pack_mind,
    to_grey,
)
from markers.mindar.quality import MESSAGES, TrackabilityReport, assess
from markers.mindar.reader import parse_targets

FIXTURES = Path(__file__).parent / "fixtures" / "mindar"
GOOD = ["card", "pictarize", "astronaut_1000", "coffee_1000", "chelsea_1000"]


@cache
def photo() -> np.ndarray:
    return to_grey(decode_image((FIXTURES / "astronaut_1000.jpg").read_bytes()))


def flat() -> np.ndarray:
    return np.full((400, 600), 128, dtype=np.uint8)


def gradient() -> np.ndarray:
    return np.tile(np.linspace(0, 255, 600).astype(np.uint8), (400, 1))


def checkerboard() -> np.ndarray:
    y, x = np.mgrid[0:400, 0:600]
    return (((y // 40) + (x // 40)) % 2 * 255).astype(np.uint8)


def tiled_texture() -> np.ndarray:
    tile = np.random.default_rng(0).integers(0, 256, (16, 16)).astype(np.uint8)
    tile = np.kron(tile, np.ones((4, 4), dtype=np.uint8))  # a 64 px motif
    return np.tile(tile, (7, 10))[:400, :600]


def mostly_blank_page() -> np.ndarray:
    page = np.full((1000, 1000), 255, dtype=np.uint8)
    page[:, :350] = photo()[:, :350]  # the photo fills a third, the rest is white paper
    return page


def faded_photo() -> np.ndarray:
    return (120 + photo().astype(np.float32) * 20 / 255).astype(np.uint8)


def small_photo() -> np.ndarray:
    return photo()[::3, ::3][:300, :300].copy()


def grain() -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (600, 600)).astype(np.uint8)


@cache
def report_of(maker) -> TrackabilityReport:
    return assess(compile_target(maker()))


def official_report(name: str) -> TrackabilityReport:
    (target,) = parse_targets((FIXTURES / f"{name}.mind").read_bytes())
    return assess(target)


@pytest.mark.parametrize("name", GOOD)
def test_reference_photos_score_high_without_warnings(name):
    report = official_report(name)
    assert report.score >= 70
    assert report.warnings == []


def test_a_textured_photo_scores_full_marks():
    report = official_report("astronaut_1000")
    assert report.score == 100
    assert all(value == 1.0 for value in report.factors.values())


@pytest.mark.parametrize(
    ("maker", "code"),
    [
        (flat, "too_few_details"),
        (gradient, "too_few_details"),
        (checkerboard, "repeating_pattern"),
        (tiled_texture, "repeating_pattern"),
        (mostly_blank_page, "large_plain_areas"),
        (faded_photo, "low_contrast"),
        (grain, "hard_to_follow"),
    ],
    ids=["flat", "gradient", "checkerboard", "tiled", "blank-area", "faded", "grain"],
)
def test_bad_targets_score_low_with_the_right_warning(maker, code):
    report = report_of(maker)
    assert report.score < 40
    assert code in report.warning_codes


def test_flat_grey_scores_zero_and_is_plain_and_flat():
    report = report_of(flat)
    assert report.score == 0
    assert {"too_few_details", "low_contrast", "large_plain_areas"} <= set(report.warning_codes)
    assert report.tracking_points == 0
    assert report.feature_coverage == 0.0


def test_blank_area_lowers_coverage_but_not_detail():
    report = report_of(mostly_blank_page)
    assert report.plain_fraction >= 0.5
    assert report.feature_coverage < 0.5
    assert report.factors["details"] == 1.0


def test_repeating_pattern_is_not_reported_as_lacking_details():
    report = report_of(checkerboard)
    assert "too_few_details" not in report.warning_codes
    assert report.distinct_fraction < 0.1


def test_small_photo_is_flagged_but_keeps_its_score():
    report = report_of(small_photo)
    assert report.warning_codes == ["small_image"]
    assert "300x300" in report.warnings[0]["message"]
    assert report.score >= 70


def test_report_describes_every_keyframe():
    report = official_report("card")
    assert [k["features"] for k in report.features_per_keyframe[:2]] == [116, 127]
    assert report.features_per_keyframe[0]["scale"] == 1
    assert (report.width, report.height) == (674, 372)
    assert report.tracking_points == 34


def test_report_is_json_serialisable_with_stable_codes_and_messages():
    report = report_of(faded_photo)
    data = json.loads(json.dumps(report.as_dict()))
    assert data["score"] == report.score
    for warning in data["warnings"]:
        assert warning["code"] in MESSAGES
        assert warning["message"].endswith(".")
        assert "_" not in warning["message"]  # plain language, not the code


def test_warning_codes_are_the_documented_stable_set():
    assert set(MESSAGES) == {
        "too_few_details", "large_plain_areas", "repeating_pattern", "low_contrast",
        "hard_to_follow", "small_image",
    }


def test_compile_mind_returns_the_file_and_one_report_per_target_in_order():
    greys = [small_photo(), checkerboard()]
    result = compile_mind(greys)
    assert isinstance(result, CompileResult)
    assert result.data == pack_mind([compile_target(g) for g in greys])
    assert [r.width for r in result.reports] == [300, 600]
    assert result.reports[1].warning_codes == ["repeating_pattern"]


def test_compile_mind_needs_an_image():
    with pytest.raises(ValueError, match="at least one"):
        compile_mind([])


@pytest.mark.parametrize(
    "grey",
    [
        np.zeros((300, 300, 3), dtype=np.uint8),
        np.zeros((300, 300), dtype=np.float32),
        np.zeros((255, 600), dtype=np.uint8),
    ],
    ids=["rgb", "float", "too-small"],
)
def test_compile_target_refuses_unusable_arrays(grey):
    with pytest.raises(ValueError, match=r"compile_target|short side"):
        compile_target(grey)
