"""How well the MindAR runtime will recognise and follow a printed photo: a 0-100 score and
plain-language warnings for the photo studio.

The report is computed from a compiled target (a ``dataList`` entry) alone, so it works for a
fresh compile and for a ``.mind`` read back from storage. Grey-level statistics come from the
256 px tracking image the file already holds.

Measurements
    *features per keyframe*: matching features (maxima + minima) at each scale.
    *feature coverage*: share of a 10 x 10 grid over the photo whose cells hold at least one
    matching feature of any keyframe (mapped back to photo pixels the way the runtime does,
    ``(x + 0.5) / scale``). Where there are no features the camera cannot recognise the print.
    *tracking points / coverage*: points of the 128 px tracking set the runtime follows frame to
    frame, and the share of a 4 x 4 grid they reach.
    *distinct fraction*: share of features whose nearest other feature (same keyframe, same
    polarity) differs in at least 60 of the 666 descriptor bits. The runtime's ratio test drops a
    match whose best and second-best candidates are alike, so repeated motifs match nothing.
    *plain fraction*: share of the 10 x 10 cells that hold no feature and whose grey levels vary
    by a standard deviation under 8.
    *contrast*: grey-level range between the 2nd and 98th percentiles.

Score = 100 x coverage x details x tracking x distinctiveness x contrast, each factor in [0, 1]
and equal to 1 once that aspect is good enough, so a good photo scores 100 and a single fatal
flaw (no trackable points, a repeating pattern, no contrast) pulls the score to near 0:

    coverage        = clamp((feature coverage - 0.25) / 0.45)   full at 70 % of the cells
    details         = clamp(mean features per keyframe / 80)
    tracking        = clamp(tracking points / 16) x clamp(tracking coverage / 0.5)
    distinctiveness = clamp(distinct fraction / 0.7)
    contrast        = clamp(contrast / 80)

Calibration (``markers/tests/test_mindar_quality.py``): the five reference photos score 71-100
with no warnings (the MindAR example business card, a logo on a plain blue ground, is the 71);
flat grey, a gradient, a checkerboard, a tiled texture, random grain, a photo filling a third of
a white page and a faded photo score under 30 with the matching warnings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .clustering import hamming_matrix

GRID = 10
TRACKING_GRID = 4
TRACKING_SET = 1  # the runtime tracks with the 128 px set (tracker.js TRACKING_KEYFRAME)
GREY_SET = 0
DISTINCT_BITS = 60
PLAIN_STD = 8.0

MIN_FEATURES_PER_KEYFRAME = 40
MIN_TRACKING_POINTS = 8
MAX_PLAIN_FRACTION = 0.40
MIN_DISTINCT_FRACTION = 0.5
MIN_CONTRAST = 60.0
SMALL_SHORT_SIDE = 360

MESSAGES = {
    "too_few_details": (
        "This photo has too few details for the camera to lock on to. Photos with plenty of "
        "texture and sharp edges (faces, objects, patterns) work best; plain, blurry or very "
        "smooth photos do not."
    ),
    "large_plain_areas": (
        "Large parts of this photo are plain (an empty sky, a wall, a white background). The "
        "camera recognises the print only by its detailed parts, so it may lose it when those "
        "are out of view. Crop away the empty areas or choose a busier photo."
    ),
    "repeating_pattern": (
        "This photo is made of repeating patterns (tiles, stripes, rows of text, a "
        "checkerboard), so the camera cannot tell one part from another and may fail to lock on "
        "or jump around. Choose a photo with distinctive, non-repeating details."
    ),
    "low_contrast": (
        "This photo has very low contrast (faded, foggy, very dark or very light). Increase the "
        "contrast or choose a photo with clear light and dark areas."
    ),
    "hard_to_follow": (
        "The camera may recognise this photo but will struggle to follow it as the phone moves: "
        "it lacks distinct medium-sized details (it may be very grainy or uniformly busy)."
    ),
    "small_image": (
        "This photo file is small ({width}x{height} pixels). Upload the original, full-size file "
        "if you have it: a larger photo gives the camera more details to recognise."
    ),
}


@dataclass(frozen=True)
class TrackabilityReport:
    width: int
    height: int
    score: int
    features_per_keyframe: list[dict]
    feature_coverage: float
    tracking_points: int
    tracking_coverage: float
    distinct_fraction: float
    plain_fraction: float
    contrast: float
    factors: dict[str, float]
    warnings: list[dict[str, str]] = field(default_factory=list)

    @property
    def warning_codes(self) -> list[str]:
        return [warning["code"] for warning in self.warnings]

    def as_dict(self) -> dict:
        return asdict(self)


def assess(target: dict) -> TrackabilityReport:
    """Score one compiled target (a ``dataList`` entry, compiled or read from a file)."""
    width = target["targetImage"]["width"]
    height = target["targetImage"]["height"]
    keyframes = target["matchingData"]

    per_keyframe = [
        {
            "scale": keyframe["scale"],
            "width": keyframe["width"],
            "height": keyframe["height"],
            "features": len(keyframe["maximaPoints"]) + len(keyframe["minimaPoints"]),
        }
        for keyframe in keyframes
    ]
    mean_features = float(np.mean([k["features"] for k in per_keyframe]))
    featured = _feature_cells(keyframes, width, height)
    feature_coverage = float(featured.mean())
    tracking = target["trackingData"][TRACKING_SET]
    tracking_points = len(tracking["points"])
    tracking_coverage = _tracking_coverage(tracking, width, height)
    distinct = _distinct_fraction(keyframes)
    grey_set = target["trackingData"][GREY_SET]
    grey = np.frombuffer(grey_set["data"], dtype=np.uint8).reshape(
        grey_set["height"], grey_set["width"]
    )
    plain = float(((_cell_std(grey) < PLAIN_STD) & ~featured).mean())
    low, high = np.percentile(grey, [2, 98])
    contrast = float(high - low)

    factors = {
        "coverage": _clamp((feature_coverage - 0.25) / 0.45),
        "details": _clamp(mean_features / 80),
        "tracking": _clamp(tracking_points / 16) * _clamp(tracking_coverage / 0.5),
        "distinctiveness": _clamp(distinct / 0.7),
        "contrast": _clamp(contrast / 80),
    }
    score = round(100 * float(np.prod(list(factors.values()))))

    codes = []
    if mean_features < MIN_FEATURES_PER_KEYFRAME:
        codes.append("too_few_details")
    if contrast < MIN_CONTRAST:
        codes.append("low_contrast")
    if plain >= MAX_PLAIN_FRACTION:
        codes.append("large_plain_areas")
    if mean_features >= MIN_FEATURES_PER_KEYFRAME and distinct < MIN_DISTINCT_FRACTION:
        codes.append("repeating_pattern")
    if tracking_points < MIN_TRACKING_POINTS and not codes:
        codes.append("hard_to_follow")
    if min(width, height) < SMALL_SHORT_SIDE:
        codes.append("small_image")
    warnings = [
        {"code": code, "message": MESSAGES[code].format(width=width, height=height)}
        for code in codes
    ]

    return TrackabilityReport(
        width=width,
        height=height,
        score=score,
        features_per_keyframe=per_keyframe,
        feature_coverage=round(feature_coverage, 3),
        tracking_points=tracking_points,
        tracking_coverage=round(tracking_coverage, 3),
        distinct_fraction=round(distinct, 3),
        plain_fraction=round(plain, 3),
        contrast=round(contrast, 1),
        factors={name: round(value, 3) for name, value in factors.items()},
        warnings=warnings,
    )


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, float(value)))


def _feature_cells(keyframes: list[dict], width: int, height: int) -> np.ndarray:
    cells = np.zeros((GRID, GRID), dtype=bool)
    for keyframe in keyframes:
        points = keyframe["maximaPoints"] + keyframe["minimaPoints"]
        if not points:
            continue
        x = (np.array([p["x"] for p in points], dtype=float) + 0.5) / keyframe["scale"]
        y = (np.array([p["y"] for p in points], dtype=float) + 0.5) / keyframe["scale"]
        cells[_cell(y, height, GRID), _cell(x, width, GRID)] = True
    return cells


def _tracking_coverage(tracking: dict, width: int, height: int) -> float:
    if not tracking["points"]:
        return 0.0
    x = np.array([p["x"] for p in tracking["points"]], dtype=float) / tracking["scale"]
    y = np.array([p["y"] for p in tracking["points"]], dtype=float) / tracking["scale"]
    cells = np.zeros((TRACKING_GRID, TRACKING_GRID), dtype=bool)
    cells[_cell(y, height, TRACKING_GRID), _cell(x, width, TRACKING_GRID)] = True
    return float(cells.mean())


def _cell(position: np.ndarray, size: int, grid: int) -> np.ndarray:
    return np.clip((position * grid / size).astype(int), 0, grid - 1)


def _distinct_fraction(keyframes: list[dict]) -> float:
    distinct = total = 0
    for keyframe in keyframes:
        for kind in ("maximaPoints", "minimaPoints"):
            points = keyframe[kind]
            total += len(points)
            if len(points) < 2:
                distinct += len(points)
                continue
            words = np.array([p["descriptors"] for p in points], dtype=np.uint32)
            distances = hamming_matrix(words).astype(np.int32)
            np.fill_diagonal(distances, np.iinfo(np.int32).max)
            distinct += int((distances.min(axis=1) >= DISTINCT_BITS).sum())
    return distinct / total if total else 0.0


def _cell_std(grey: np.ndarray) -> np.ndarray:
    rows = np.linspace(0, grey.shape[0], GRID + 1).astype(int)
    cols = np.linspace(0, grey.shape[1], GRID + 1).astype(int)
    values = grey.astype(float)
    return np.array(
        [
            [values[rows[i] : rows[i + 1], cols[j] : cols[j + 1]].std() for j in range(GRID)]
            for i in range(GRID)
        ]
    )
