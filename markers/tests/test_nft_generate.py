"""`generate_nft` on small synthetic images, its input checks and its DPI policy."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from markers.nft import (
    DEFAULT_DPI,
    GENERATOR_VERSION,
    NftGenerationError,
    dpi_from_image_info,
    generate_nft,
    read_nft,
)
from markers.nft import reference as reference_engine
from markers.nft.fset3 import parse_fset3


def synthetic_photo(height: int = 150, width: int = 220, seed: int = 7) -> np.ndarray:
    """A textured RGB picture: blurred noise with shapes, enough for both feature detectors."""
    rng = np.random.default_rng(seed)
    canvas = cv2.GaussianBlur(rng.normal(128, 50, (height, width, 3)), (0, 0), 2.0)
    for _ in range(25):
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            cv2.circle(canvas, centre, int(rng.integers(4, 20)), colour, -1)
        else:
            size = rng.integers(5, 30, 2)
            corner = (centre[0] + int(size[0]), centre[1] + int(size[1]))
            cv2.rectangle(canvas, centre, corner, colour, -1)
    return np.clip(canvas, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return synthetic_photo()


@pytest.fixture(scope="module")
def marker(photo):
    return generate_nft(photo, dpi=96.0)


def test_generates_a_valid_marker_set(marker, photo):
    info = read_nft(marker.iset, marker.fset, marker.fset3)
    assert (info.width, info.height) == (photo.shape[1], photo.shape[0])
    assert info.dpi == 96.0
    assert info.scales == marker.scales
    assert marker.generator_version == GENERATOR_VERSION
    assert marker.fset3_engine == "arv"
    assert marker.fset_points > 0
    assert marker.fset3_points > 0


def test_levels_shrink_from_the_photo_to_28_px(marker):
    sizes = [(s.width, s.height) for s in marker.scales]
    assert sizes[0] == (220, 150)
    assert min(sizes[-1]) == 28
    dpis = [s.dpi for s in marker.scales]
    assert dpis == sorted(dpis, reverse=True)
    # Levels step by 2^(1/3) up from the smallest; the top one snaps to the photo's DPI.
    ratios = np.array(dpis[1:-1]) / np.array(dpis[2:])
    np.testing.assert_allclose(ratios, 2 ** (1 / 3), rtol=1e-5)
    assert 1 < dpis[0] / dpis[1] <= 2 ** (1 / 3) / 0.95


def test_summary_counts_match_the_files(marker):
    points = parse_fset3(marker.fset3).points
    assert marker.fset3_points == len(points)
    assert [s.fset3_points for s in marker.scales] == list(
        np.bincount(points["image"], minlength=len(marker.scales))
    )


def test_size_in_millimetres_follows_the_dpi(marker):
    width_mm, height_mm = marker.size_mm
    assert width_mm == pytest.approx(220 / 96 * 25.4)
    assert height_mm == pytest.approx(150 / 96 * 25.4)


def test_is_deterministic(photo, marker):
    again = generate_nft(photo, dpi=96.0)
    assert (again.iset, again.fset, again.fset3) == (marker.iset, marker.fset, marker.fset3)


def test_grey_input_equals_rgb_with_equal_channels(photo):
    grey = photo[:, :, 1].copy()
    from_grey = generate_nft(grey, dpi=72.0)
    from_rgb = generate_nft(np.repeat(grey[:, :, None], 3, axis=2), dpi=72.0)
    assert (from_grey.iset, from_grey.fset, from_grey.fset3) == (
        from_rgb.iset,
        from_rgb.fset,
        from_rgb.fset3,
    )


def test_dpi_changes_only_the_millimetre_scale(photo):
    a = generate_nft(photo, dpi=72.0)
    b = generate_nft(photo, dpi=144.0)
    assert [(s.width, s.height) for s in a.scales] == [(s.width, s.height) for s in b.scales]
    assert [s.fset3_points for s in a.scales] == [s.fset3_points for s in b.scales]
    pa, pb = parse_fset3(a.fset3).points, parse_fset3(b.fset3).points
    np.testing.assert_array_equal(pa["desc"], pb["desc"])
    np.testing.assert_allclose(pa["mx"], pb["mx"] * 2, rtol=1e-6)


@pytest.mark.parametrize(
    ("image", "dpi", "engine", "message"),
    [
        (np.zeros((100, 100), np.float32), 72.0, "arv", "uint8"),
        (np.zeros((100, 100, 4), np.uint8), 72.0, "arv", "HxW"),
        (np.zeros((27, 100), np.uint8), 72.0, "arv", "at least 28"),
        (np.zeros((100, 100), np.uint8), 0.5, "arv", "dpi"),
        (np.zeros((100, 100), np.uint8), float("nan"), "arv", "dpi"),
        (np.zeros((100, 100), np.uint8), 70000.0, "arv", "dpi"),
        (np.zeros((100, 100), np.uint8), 72.5, "arv", "whole number"),
        (np.zeros((100, 100), np.uint8), 72.0, "fast", "fset3_engine"),
    ],
)
def test_rejects_bad_input(image, dpi, engine, message):
    with pytest.raises(ValueError, match=message):
        generate_nft(image, dpi=dpi, fset3_engine=engine)


def test_a_featureless_image_still_makes_a_loadable_set():
    flat = np.full((60, 80), 128, np.uint8)
    marker = generate_nft(flat, dpi=72.0)
    info = read_nft(marker.iset, marker.fset, marker.fset3)
    assert (info.fset_points, info.fset3_points) == (0, 0)


@pytest.mark.parametrize(
    ("info", "dpi"),
    [
        ({"jfif_unit": 1, "jfif_density": (72, 72)}, 72.0),
        ({"jfif_unit": 1, "jfif_density": (300, 300)}, 300.0),
        ({"jfif_unit": 2, "jfif_density": (118, 118)}, 300.0),  # 118 dots/cm = 299.7 dpi
        ({"jfif_unit": 0, "jfif_density": (1, 1)}, DEFAULT_DPI),  # aspect ratio only
        ({"jfif_unit": 1, "jfif_density": (72, 96)}, DEFAULT_DPI),  # non-square pixels
        ({"jfif_unit": 1, "jfif_density": (0, 0)}, DEFAULT_DPI),
        ({"dpi": (300, 300)}, DEFAULT_DPI),  # PNG/EXIF resolution is not what the runtime reads
        ({}, DEFAULT_DPI),
    ],
)
def test_dpi_policy(info, dpi):
    assert dpi_from_image_info(info) == dpi


def test_the_package_does_not_import_django():
    code = (
        "import sys, markers.nft\n"
        "bad = [m for m in sys.modules if m == 'django' or m.startswith('django.')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=_project_root())


def _project_root() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parents[2])


@pytest.mark.skipif(not reference_engine.available(), reason="nft-marker-creator not installed")
def test_reference_engine_makes_the_same_points(photo, marker):
    ref = generate_nft(photo, dpi=96.0, fset3_engine="reference")
    assert ref.fset3_engine == "reference"
    assert (ref.iset, ref.fset) == (marker.iset, marker.fset)
    ours, theirs = parse_fset3(marker.fset3).points, parse_fset3(ref.fset3).points
    for field in ("image", "x", "y", "mx", "my", "maxima", "desc"):
        np.testing.assert_array_equal(ours[field], theirs[field], err_msg=field)


def test_reference_engine_reports_a_missing_package(photo, monkeypatch):
    monkeypatch.setattr(reference_engine, "available", lambda: False)
    with pytest.raises(NftGenerationError, match="nft-marker-creator"):
        generate_nft(photo, dpi=96.0, fset3_engine="reference")
