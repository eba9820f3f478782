"""`read_nft`: validate a marker set and summarise it, whoever made it.

Used on our own output before it is stored, and on marker sets uploaded or produced by the
reference engine. Each file is checked on its own (every byte accounted for, counts that fit the
file, finite values) and then against the others (same number of levels, same level sizes,
points inside their level). Any problem, however odd the input, surfaces as NftFormatError;
work is linear in the input size and the one decode (the scale-0 JPEG) is capped in pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import fset, fset3, iset
from .errors import NftFormatError
from .generator import NftScale

MAX_ISET_BYTES = 64 * 2**20
MAX_FSET_BYTES = 16 * 2**20
MAX_FSET3_BYTES = 256 * 2**20


@dataclass(frozen=True)
class NftInfo:
    """What a valid marker set contains."""

    width: int
    height: int
    dpi: float  # scale 0's DPI as the runtime reads it (the JFIF density)
    scales: tuple[NftScale, ...]

    @property
    def fset_points(self) -> int:
        return sum(s.fset_points for s in self.scales)

    @property
    def fset3_points(self) -> int:
        return sum(s.fset3_points for s in self.scales)


def read_nft(iset_data: bytes, fset_data: bytes, fset3_data: bytes) -> NftInfo:
    """Validate the three files of a marker set; raise NftFormatError if anything is off."""
    try:
        return _read(iset_data, fset_data, fset3_data)
    except NftFormatError:
        raise
    except Exception as exc:  # the contract: hostile input never escapes as anything else
        raise NftFormatError(f"unreadable marker set ({type(exc).__name__}: {exc})") from exc


def _read(iset_data: bytes, fset_data: bytes, fset3_data: bytes) -> NftInfo:
    files = ((".iset", iset_data, MAX_ISET_BYTES), (".fset", fset_data, MAX_FSET_BYTES),
             (".fset3", fset3_data, MAX_FSET3_BYTES))
    for name, data, limit in files:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise NftFormatError(f"{name} must be bytes, not {type(data).__name__}")
        if len(data) > limit:
            raise NftFormatError(f"{name} is larger than {limit} bytes")
    images = iset.parse_iset(bytes(iset_data))
    lists = fset.parse_fset(bytes(fset_data))
    ref = fset3.parse_fset3(bytes(fset3_data))
    sizes = images.sizes
    n = len(sizes)
    if len(lists) != n:
        raise NftFormatError(f".fset has {len(lists)} lists for {n} .iset levels")
    if len(ref.images) != n:
        raise NftFormatError(f".fset3 has {len(ref.images)} images for {n} .iset levels")
    with np.errstate(all="ignore"):
        for index, item in enumerate(lists):
            _check_list(index, item, sizes[index])
    got = [(int(w), int(h)) for w, h in zip(ref.images["width"], ref.images["height"], strict=True)]
    if got != list(sizes):
        raise NftFormatError(".fset3 image sizes differ from the .iset levels")
    per_level = np.bincount(ref.points["image"], minlength=n)
    scales = tuple(
        NftScale(
            index=i,
            width=w,
            height=h,
            dpi=images.dpis[i],
            fset_points=len(lists[i].points),
            fset3_points=int(per_level[i]),
        )
        for i, (w, h) in enumerate(sizes)
    )
    height, width = images.scale0.shape
    return NftInfo(width=width, height=height, dpi=images.dpis[0], scales=scales)


def _check_list(index: int, item: fset.FeatureList, size: tuple[int, int]) -> None:
    if item.scale != index:
        raise NftFormatError(f".fset list {index} names level {item.scale}")
    finite = np.isfinite(item.mindpi) and np.isfinite(item.maxdpi)
    if not (finite and 0 < item.mindpi <= item.maxdpi):
        raise NftFormatError(f".fset list {index} has an invalid DPI range")
    pts = item.points
    width, height = size
    if np.any((pts["x"] < 0) | (pts["x"] >= width) | (pts["y"] < 0) | (pts["y"] >= height)):
        raise NftFormatError(f".fset list {index} has a point outside its level")
    values = np.stack([pts["mx"], pts["my"], pts["sim"]])
    if not np.all(np.isfinite(values)):
        raise NftFormatError(f".fset list {index} has a non-finite coordinate or similarity")
