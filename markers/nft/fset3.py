"""`.fset3`: KPM reference data (FREAK keypoints of every pyramid level) and its file format.

Layout (`kpmSaveRefDataSet`, FREAK build): int32 point count, the points (132 bytes each),
then the page table: int32 page count and, per page, int32 page number, int32 image count and
(width, height, image number) per image. genTexData writes one page (number 1) whose images are
the pyramid levels, and points reference their level through `refImageNo`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from . import freak
from .errors import NftFormatError

f32 = np.float32

POINT_DTYPE = np.dtype(
    [
        ("x", "<f4"),  # coord2D, pixels of the point's level
        ("y", "<f4"),
        ("mx", "<f4"),  # coord3D, millimetres (no z: the target is planar)
        ("my", "<f4"),
        ("desc", "u1", (freak.DESCRIPTOR_BYTES,)),
        ("angle", "<f4"),
        ("scale", "<f4"),
        ("maxima", "<i4"),
        ("page", "<i4"),
        ("image", "<i4"),
    ]
)
IMAGE_DTYPE = np.dtype([("width", "<i4"), ("height", "<i4"), ("image", "<i4")])
PAGE_NO = 1
# Bits 666..671 and bytes 84..95 of a FREAK-84 descriptor are always zero.
_DESCRIPTOR_USED_BITS = 666


@dataclass(frozen=True)
class RefData:
    points: np.ndarray  # POINT_DTYPE
    images: np.ndarray  # IMAGE_DTYPE, one entry per pyramid level


def level_points(pixels: np.ndarray, dpi: np.float32, image_no: int) -> np.ndarray:
    """`kpmGenRefDataSet(..., KpmProcFullSize, ...)` for one pyramid level."""
    kp = freak.extract(pixels)
    height = pixels.shape[0]
    pts = np.zeros(len(kp.x), POINT_DTYPE)
    pts["x"] = kp.x
    pts["y"] = kp.y
    pts["mx"] = (kp.x + f32(0.5)) / f32(dpi) * f32(25.4)
    pts["my"] = ((f32(height) - f32(0.5)) - kp.y) / f32(dpi) * f32(25.4)
    pts["desc"] = kp.descriptors
    pts["angle"] = kp.angle
    pts["scale"] = kp.sigma
    pts["maxima"] = kp.maxima
    pts["page"] = PAGE_NO
    pts["image"] = image_no
    return pts


def encode_fset3(data: RefData) -> bytes:
    return b"".join(
        [
            struct.pack("<i", len(data.points)),
            np.ascontiguousarray(data.points, dtype=POINT_DTYPE).tobytes(),
            struct.pack("<iii", 1, PAGE_NO, len(data.images)),
            np.ascontiguousarray(data.images, dtype=IMAGE_DTYPE).tobytes(),
        ]
    )


MAX_IMAGES = 64


def parse_fset3(data: bytes) -> RefData:
    """Validate a `.fset3` (one page, as genTexData writes) and return its points and images."""
    if len(data) < 4:
        raise NftFormatError(".fset3 is shorter than its point count")
    (num,) = struct.unpack_from("<i", data, 0)
    # 4 bytes of count, the points, then at least the 12-byte header of one page.
    if num < 0 or num > (len(data) - 4 - 12) // POINT_DTYPE.itemsize:
        raise NftFormatError(f".fset3 point count {num} does not fit the file")
    off = 4 + num * POINT_DTYPE.itemsize
    points = np.frombuffer(data, POINT_DTYPE, count=num, offset=4).copy()
    page_num, page_no, image_num = struct.unpack_from("<iii", data, off)
    off += 12
    if page_num != 1 or page_no != PAGE_NO:
        raise NftFormatError(f".fset3 must hold exactly one page numbered {PAGE_NO}")
    if not 1 <= image_num <= MAX_IMAGES:
        raise NftFormatError(f".fset3 image count {image_num} is outside 1..{MAX_IMAGES}")
    if len(data) - off != image_num * IMAGE_DTYPE.itemsize:
        raise NftFormatError(".fset3 page table does not match the file length")
    images = np.frombuffer(data, IMAGE_DTYPE, count=image_num, offset=off).copy()
    if np.any(images["image"] != np.arange(image_num)):
        raise NftFormatError(".fset3 images must be numbered 0..n-1 in order")
    if np.any(images["width"] < 1) or np.any(images["height"] < 1):
        raise NftFormatError(".fset3 has an empty image")
    _check_points(points, images)
    return RefData(points=points, images=images)


def _check_points(points: np.ndarray, images: np.ndarray) -> None:
    if np.any(points["page"] != PAGE_NO):
        raise NftFormatError(".fset3 point refers to an unknown page")
    image = points["image"]
    if np.any((image < 0) | (image >= len(images))):
        raise NftFormatError(".fset3 point refers to an unknown image")
    floats = np.stack([points[f] for f in ("x", "y", "mx", "my", "angle", "scale")])
    if not np.all(np.isfinite(floats)):
        raise NftFormatError(".fset3 point has a non-finite coordinate, angle or scale")
    width = images["width"][image]
    height = images["height"][image]
    x, y = points["x"], points["y"]
    if np.any((x < 0) | (x >= width) | (y < 0) | (y >= height)):
        raise NftFormatError(".fset3 point lies outside its image")
    angle = points["angle"]
    if np.any((angle < 0) | (angle > 2 * np.pi)) or np.any(points["scale"] <= 0):
        raise NftFormatError(".fset3 point has an invalid angle or scale")
    if np.any((points["maxima"] != 0) & (points["maxima"] != 1)):
        raise NftFormatError(".fset3 point has an invalid maxima flag")
    # Bits 666..671 are the top six bits of byte 83 (LSB-first); bytes 84..95 are padding.
    desc = points["desc"]
    last = _DESCRIPTOR_USED_BITS // 8
    unused_mask = 0xFF & ~((1 << (_DESCRIPTOR_USED_BITS % 8)) - 1)
    if np.any(desc[:, last] & unused_mask) or np.any(desc[:, last + 1 :]):
        raise NftFormatError(".fset3 descriptor has bits set past bit 666")
