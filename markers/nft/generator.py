"""`generate_nft`: a complete AR.js NFT marker set from one photo."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from . import fset, fset3, iset, reference

# Stored with every marker; bump whenever any output byte can change.
GENERATOR_VERSION = "arv-nft-1"

# DPI for photos without a usable JFIF density. See docs/nft-generator.md: DPI only sets the
# millimetre scale of the marker, and 72 is what the reference fixtures (and most cameras) use.
DEFAULT_DPI = 72.0

# Refuse absurd inputs rather than exhaust a worker: generation peaks near 60 bytes per pixel
# (a 6 MP photo needs about 400 MB).
MAX_PIXELS = 40_000_000

Fset3Engine = Literal["arv", "reference"]


@dataclass(frozen=True)
class NftScale:
    """Facts about one pyramid level of a marker set."""

    index: int
    width: int
    height: int
    dpi: float
    fset_points: int
    fset3_points: int


@dataclass(frozen=True)
class NftMarkerSet:
    """The three files AR.js loads (`<name>.iset`, `.fset`, `.fset3`) and a summary of them."""

    iset: bytes
    fset: bytes
    fset3: bytes
    dpi: float
    scales: tuple[NftScale, ...]
    fset3_engine: Fset3Engine
    generator_version: str = GENERATOR_VERSION

    @property
    def width(self) -> int:
        return self.scales[0].width

    @property
    def height(self) -> int:
        return self.scales[0].height

    @property
    def fset_points(self) -> int:
        return sum(s.fset_points for s in self.scales)

    @property
    def fset3_points(self) -> int:
        return sum(s.fset3_points for s in self.scales)

    @property
    def size_mm(self) -> tuple[float, float]:
        """Physical size the marker describes (width, height), as AR.js will measure it."""
        return (self.width / self.dpi * 25.4, self.height / self.dpi * 25.4)


def dpi_from_image_info(info: Mapping) -> float:
    """DPI to generate with, from a Pillow `Image.info` of the uploaded photo.

    Uses the JFIF density the way the runtime reads it (dots per inch, or per cm times 2.54,
    square pixels only), rounded to a whole number because the `.iset` stores an integer density
    that the runtime then takes as scale 0's DPI. Anything else falls back to DEFAULT_DPI.
    """
    unit = info.get("jfif_unit")
    density = info.get("jfif_density")
    if unit not in (1, 2) or not isinstance(density, tuple) or len(density) != 2:
        return DEFAULT_DPI
    x, y = density
    if not isinstance(x, numbers.Real) or x != y or x <= 0:
        return DEFAULT_DPI
    dpi = round(float(x) * (2.54 if unit == 2 else 1.0))
    return float(dpi) if iset.MIN_DPI <= dpi <= iset.MAX_DPI else DEFAULT_DPI


def generate_nft(
    image: np.ndarray, *, dpi: float, fset3_engine: Fset3Engine = "arv"
) -> NftMarkerSet:
    """Generate `.iset`, `.fset` and `.fset3` for a photo, as genTexData does at its defaults.

    `image` is HxW grey or HxWx3 RGB uint8 (row 0 at the top). `dpi`, a whole number, sets the
    millimetre scale (see `dpi_from_image_info`). `fset3_engine="arv"` computes `.fset3` here;
    "reference" runs the optional nft-marker-creator package for it (slow; see `reference.py`).
    """
    _check_input(image, dpi, fset3_engine)
    dpi32 = np.float32(dpi)
    scales = iset.build_pyramid(image, float(dpi32))
    dpis = [s.dpi for s in scales]
    iset_bytes = iset.encode_iset(scales)

    lists = []
    for index, scale in enumerate(scales):
        maxdpi, mindpi = fset.dpi_range(dpis, index)
        points = fset.select_features(scale.pixels, scale.dpi)
        lists.append(fset.FeatureList(index, float(maxdpi), float(mindpi), points))

    sizes = [(s.width, s.height) for s in scales]
    if fset3_engine == "reference":
        ref = reference.reference_fset3(image, dpi32, sizes)
    else:
        keypoints = [fset3.level_points(s.pixels, s.dpi, i) for i, s in enumerate(scales)]
        images = np.array([(w, h, i) for i, (w, h) in enumerate(sizes)], dtype=fset3.IMAGE_DTYPE)
        ref = fset3.RefData(points=np.concatenate(keypoints), images=images)

    per_level = np.bincount(ref.points["image"], minlength=len(scales))
    summary = tuple(
        NftScale(
            index=i,
            width=s.width,
            height=s.height,
            dpi=float(s.dpi),
            fset_points=len(lists[i].points),
            fset3_points=int(per_level[i]),
        )
        for i, s in enumerate(scales)
    )
    return NftMarkerSet(
        iset=iset_bytes,
        fset=fset.encode_fset(lists),
        fset3=fset3.encode_fset3(ref),
        dpi=float(dpi32),
        scales=summary,
        fset3_engine=fset3_engine,
    )


def _check_input(image: np.ndarray, dpi: float, engine: str) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError("image must be a uint8 numpy array")
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise ValueError("image must be HxW (grey) or HxWx3 (RGB)")
    height, width = image.shape[:2]
    if min(height, width) < iset.KPM_MINIMUM_IMAGE_SIZE:
        raise ValueError(f"image sides must be at least {iset.KPM_MINIMUM_IMAGE_SIZE} px")
    if height * width > MAX_PIXELS:
        raise ValueError(f"image has more than {MAX_PIXELS} pixels; downscale it first")
    if not isinstance(dpi, numbers.Real) or isinstance(dpi, bool) or not math.isfinite(dpi):
        raise ValueError("dpi must be a finite number")
    if not iset.MIN_DPI <= dpi <= iset.MAX_DPI:
        raise ValueError(f"dpi must be within {iset.MIN_DPI}..{iset.MAX_DPI}")
    # The .iset keeps scale 0's DPI as an integer JFIF density and the runtime rebuilds the other
    # levels from that integer; a fractional DPI would give levels of other sizes than .fset/.fset3.
    if dpi != int(dpi):
        raise ValueError("dpi must be a whole number")
    if engine not in ("arv", "reference"):
        raise ValueError("fset3_engine must be 'arv' or 'reference'")
