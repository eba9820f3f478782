"""Image targets compiled the way ``compiler-base.js compileImageTargets`` does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import clustering
from .decode import MAX_PIXELS, MIN_SHORT_SIDE
from .detector import Features, detect
from .encode import pack_mind
from .pyramid import BoxResizer, matching_scales, tracking_scales
from .quality import TrackabilityReport, assess
from .tracking import extract


@dataclass(frozen=True)
class CompileResult:
    data: bytes  # the .mind file
    reports: list[TrackabilityReport]  # one per target, in input order


def compile_mind(greys: Sequence[np.ndarray]) -> CompileResult:
    """Compile grey images into one ``.mind`` (targets in input order) with their reports."""
    if len(greys) == 0:
        raise ValueError("compile_mind needs at least one image")
    targets = [compile_target(grey) for grey in greys]
    return CompileResult(data=pack_mind(targets), reports=[assess(t) for t in targets])


def compile_target(grey: np.ndarray) -> dict:
    """One ``dataList`` entry (targetImage, trackingData, matchingData) for a grey image.

    ``grey`` is H x W uint8, usually :func:`markers.mindar.to_grey` of a decoded photo. The
    result holds plain Python values, ready for :func:`markers.mindar.pack_mind`.
    """
    _check_grey(grey)
    height, width = grey.shape
    resizer = BoxResizer(grey)

    keyframes = []
    for scale in matching_scales(width, height):
        image = resizer.resize(scale)
        keyframes.append(_keyframe(image, scale))

    tracking = []
    for scale in tracking_scales(width, height):
        image = resizer.resize(scale)
        tracking.append({
            "data": image.tobytes(),
            "scale": scale,
            "width": image.shape[1],
            "height": image.shape[0],
            "points": extract(image),
        })

    return {
        "targetImage": {"width": width, "height": height},
        "trackingData": tracking,
        "matchingData": keyframes,
    }


def _check_grey(grey: np.ndarray) -> None:
    if not isinstance(grey, np.ndarray) or grey.ndim != 2 or grey.dtype != np.uint8:
        raise ValueError("compile_target expects an H x W uint8 grey image")
    height, width = grey.shape
    if min(width, height) < MIN_SHORT_SIDE:
        raise ValueError(
            f"the image is {width}x{height}; its short side must be at least {MIN_SHORT_SIDE} px"
        )
    if width * height > MAX_PIXELS:
        raise ValueError(f"the image has more than {MAX_PIXELS} pixels")


def _keyframe(image: np.ndarray, scale: float) -> dict:
    features = detect(image)
    maxima = _points(features, features.maxima, True)
    minima = _points(features, ~features.maxima, False)
    return {
        "maximaPoints": maxima,
        "minimaPoints": minima,
        "maximaPointsCluster": clustering.build(features.descriptors[features.maxima]),
        "minimaPointsCluster": clustering.build(features.descriptors[~features.maxima]),
        "width": image.shape[1],
        "height": image.shape[0],
        "scale": scale,
    }


def _points(features: Features, selected: np.ndarray, is_maximum: bool) -> list[dict]:
    columns = zip(
        features.x[selected].tolist(),
        features.y[selected].tolist(),
        features.scale[selected].tolist(),
        features.angle[selected].tolist(),
        features.descriptors[selected].tolist(),
        strict=True,
    )
    return [
        {"maxima": is_maximum, "x": x, "y": y, "scale": s, "angle": a, "descriptors": d}
        for x, y, s, a, d in columns
    ]
