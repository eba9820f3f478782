"""`.iset`: the multi-resolution grey pyramid and its file format.

The file holds scale 0 as a quality-80 greyscale JPEG plus the DPI of every other scale; the
AR.js runtime rebuilds scales 1..n-1 from the decoded JPEG with the same box filter as the
generator. Every step here mirrors ARToolKit's `ar2GenImageSet`/`ar2WriteImageSet` in single
precision, because the resulting sizes and pixels feed `.fset`/`.fset3`, whose bytes must match
the reference generator.
"""

from __future__ import annotations

import io
import itertools
import struct
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .errors import NftFormatError

f32 = np.float32

# Shortest side of the smallest pyramid level (KPM needs 28 px for one octave plus one).
KPM_MINIMUM_IMAGE_SIZE = 28
JPEG_QUALITY = 80
# genTexData steps the DPI by 2^(1/3): three levels per octave.
_DPI_STEP = f32(2.0 ** float(f32(1) / f32(3)))
# The JFIF density is a UINT16 and the runtime divides by it: keep DPI in a range it can store.
MIN_DPI = 1.0
MAX_DPI = 65535.0
# A reader must refuse images it cannot decode in bounded memory.
MAX_ISET_PIXELS = 64_000_000
MAX_SCALES = 64


@dataclass(frozen=True)
class ImageScale:
    """One pyramid level: 8-bit grey pixels (row 0 at the top) and the level's DPI."""

    pixels: np.ndarray
    dpi: np.float32

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


@dataclass(frozen=True)
class IsetContents:
    """What a `.iset` holds once decoded: scale 0 and the DPI of every level."""

    scale0: np.ndarray
    dpis: tuple[float, ...]
    sizes: tuple[tuple[int, int], ...]


def dpi_levels(width: int, height: int, dpi: float) -> list[np.float32]:
    """DPI of every level, highest first, exactly as genTexData's `setDPI()` computes them."""
    dpi32 = f32(dpi)
    # The C code multiplies by the double 1000.0 and passes the result to truncf(float).
    scaled = f32(float(f32(f32(KPM_MINIMUM_IMAGE_SIZE) / f32(min(width, height))) * dpi32) * 1000.0)
    dpi_min = f32(np.trunc(scaled)) / f32(1000)
    dpi_max = dpi32
    stop = f32(dpi_max * f32(0.95))
    if dpi_min == dpi_max:
        count = 1
    else:
        work, steps = dpi_min, 1
        while True:
            work = f32(work * _DPI_STEP)
            if work >= stop:
                break
            steps += 1
        count = steps + 1
    levels = [f32(0)] * count
    work = dpi_min
    for i in range(count):
        levels[count - i - 1] = work
        work = f32(work * _DPI_STEP)
        if work >= stop:
            work = dpi_max
    return levels


def _lroundf(values: np.ndarray) -> np.ndarray:
    """C `lroundf` of non-negative float32 values (halves round away from zero)."""
    return np.floor(values.astype(np.float64) + 0.5).astype(np.int64)


def _box_bounds(count: int, src_dpi: np.float32, dst_dpi: np.float32, limit: int) -> tuple:
    index = np.arange(count + 1, dtype=np.float32)
    edges = _lroundf((index * src_dpi) / dst_dpi)
    return edges[:-1], np.minimum(edges[1:] - 1, limit - 1)


class _BoxFilter:
    """`ar2GenImageLayer1/2`: integer means of source boxes with `lroundf` bounds.

    An RGB source is turned grey inside the same box sum ((R+G+B) of all box pixels divided by
    three times the pixel count), which is why the grey conversion cannot be done beforehand.
    Column prefix sums of the source serve every level made from it; each level then sums
    rows of boxes with one subtraction and columns with a second prefix sum.
    """

    def __init__(self, src: np.ndarray) -> None:
        self.height, self.width = src.shape[:2]
        self.channels = 1 if src.ndim == 2 else src.shape[2]
        self.values = src if src.ndim == 2 else src.sum(axis=2, dtype=np.int32)
        self._columns: np.ndarray | None = None

    @property
    def columns(self) -> np.ndarray:
        if self._columns is None:
            # A column holds at most 40k pixels of <= 765: int32 is enough.
            self._columns = np.zeros((self.height + 1, self.width), np.int32)
            np.cumsum(self.values, axis=0, dtype=np.int32, out=self._columns[1:])
        return self._columns

    def shrink(self, src_dpi: np.float32, dst_dpi: np.float32) -> np.ndarray:
        ratio = np.array([f32(self.width) * dst_dpi, f32(self.height) * dst_dpi], f32) / src_dpi
        out_w, out_h = (int(v) for v in _lroundf(ratio))
        if out_w < 1 or out_h < 1:
            raise ValueError("pyramid level would be empty")
        sy, ey = _box_bounds(out_h, src_dpi, dst_dpi, self.height)
        sx, ex = _box_bounds(out_w, src_dpi, dst_dpi, self.width)
        if np.any(ey < sy) or np.any(ex < sx):
            raise ValueError("the box filter only shrinks images")
        if np.array_equal(sy, ey) and np.array_equal(sx, ex):
            # One source pixel per box (same DPI): no sums needed.
            return (self.values[np.ix_(sy, sx)] // self.channels).astype(np.uint8)
        rows = self.columns[ey + 1] - self.columns[sy]
        # Row-band prefix sums reach (box height) * width * 765; int64 only when that needs it.
        peak = int((ey - sy + 1).max()) * self.width * 255 * self.channels
        wide = np.int32 if peak < 2**31 else np.int64
        prefix = np.zeros((out_h, self.width + 1), wide)
        np.cumsum(rows, axis=1, dtype=wide, out=prefix[:, 1:])
        sums = prefix[:, ex + 1] - prefix[:, sx]
        sums //= (ey - sy + 1)[:, None] * (ex - sx + 1)[None, :] * self.channels
        return sums.astype(np.uint8)


def downsample(src: np.ndarray, src_dpi: np.float32, dst_dpi: np.float32) -> np.ndarray:
    """One level of `ar2GenImageLayer1/2` (see `_BoxFilter`)."""
    return _BoxFilter(src).shrink(src_dpi, dst_dpi)


def build_pyramid(image: np.ndarray, dpi: float) -> list[ImageScale]:
    """All levels of `ar2GenImageSet`; level 0 comes from the source, the others from level 0."""
    height, width = image.shape[:2]
    levels = dpi_levels(width, height, dpi)
    base = downsample(image, f32(dpi), levels[0])
    box = _BoxFilter(base)
    scales = [ImageScale(base, levels[0])]
    scales += [ImageScale(box.shrink(levels[0], level), level) for level in levels[1:]]
    return scales


def encode_jpeg(pixels: np.ndarray, dpi: np.float32) -> bytes:
    """Scale 0 as libjpeg writes it: baseline, quality 80, JFIF density = (int)dpi dots/inch.

    Pillow drives the same libjpeg(-turbo) calls (`jpeg_set_defaults`, `jpeg_set_quality(80)`),
    so the bytes equal the reference generator's; tests check both bytes and decoded pixels.
    """
    density = int(dpi)
    out = io.BytesIO()
    image = Image.fromarray(pixels, mode="L")
    image.save(out, "JPEG", quality=JPEG_QUALITY, dpi=(density, density))
    return out.getvalue()


def encode_iset(scales: list[ImageScale]) -> bytes:
    trailer = np.array([scale.dpi for scale in scales[1:]], dtype="<f4").tobytes()
    return struct.pack("<i", len(scales)) + encode_jpeg(scales[0].pixels, scales[0].dpi) + trailer


def scale_sizes(width: int, height: int, dpis: tuple[float, ...]) -> tuple[tuple[int, int], ...]:
    """Sizes the runtime gives each level when it rebuilds the pyramid (`ar2GenImageLayer2`)."""
    dpi0 = f32(dpis[0])
    sizes = []
    for dpi in dpis:
        ratio = np.array([f32(f32(width) * f32(dpi)) / dpi0, f32(f32(height) * f32(dpi)) / dpi0])
        w, h = (int(v) for v in _lroundf(ratio))
        sizes.append((w, h))
    return tuple(sizes)


def _jfif_dpi(info: dict) -> float:
    """Scale-0 DPI as the runtime's `jpgread()` derives it from the JFIF header."""
    unit = info.get("jfif_unit")
    density = info.get("jfif_density")
    if unit is None or density is None:
        return 0.0
    x, y = density
    if unit == 1 and x == y:
        return float(x)
    if unit == 2 and x == y:
        return float(f32(f32(x) * f32(2.54)))
    if unit > 2 and x == 0 and y == 0:
        return float(unit)
    return 0.0


def parse_iset(data: bytes) -> IsetContents:
    """Validate a `.iset` and decode its scale 0; raise NftFormatError on anything else."""
    if len(data) < 4:
        raise NftFormatError(".iset is shorter than its scale count")
    (num,) = struct.unpack_from("<i", data, 0)
    if not 1 <= num <= MAX_SCALES:
        raise NftFormatError(f".iset scale count {num} is outside 1..{MAX_SCALES}")
    jpeg_end = len(data) - 4 * (num - 1)
    if jpeg_end < 4 + 4:
        raise NftFormatError(".iset is too short for its JPEG and DPI trailer")
    jpeg = data[4:jpeg_end]
    if jpeg[:2] != b"\xff\xd8" or jpeg[-2:] != b"\xff\xd9":
        raise NftFormatError(".iset scale 0 is not a complete JPEG stream")
    pixels, dpi0 = _decode_scale0(jpeg)
    trailer = np.frombuffer(data, dtype="<f4", count=num - 1, offset=jpeg_end)
    dpis = (dpi0, *(float(v) for v in trailer))
    if not all(np.isfinite(d) and d > 0 for d in dpis):
        raise NftFormatError(".iset DPI values must be positive and finite")
    if any(b > a for a, b in itertools.pairwise(dpis[1:])):
        raise NftFormatError(".iset DPI values must not increase")
    height, width = pixels.shape
    sizes = scale_sizes(width, height, dpis)
    # The runtime only ever shrinks scale 0; a larger level means a corrupt trailer.
    if any(not (1 <= w <= width and 1 <= h <= height) for w, h in sizes):
        raise NftFormatError(".iset DPI trailer gives a level larger than scale 0 or empty")
    return IsetContents(scale0=pixels, dpis=dpis, sizes=sizes)


def _decode_scale0(jpeg: bytes) -> tuple[np.ndarray, float]:
    # Pillow raises many exception types on hostile input; the reader promises only one.
    try:
        with Image.open(io.BytesIO(jpeg), formats=["JPEG"]) as im:
            width, height = im.size
            if width * height > MAX_ISET_PIXELS:
                raise NftFormatError(".iset scale 0 is too large to decode")
            if im.mode != "L":
                raise NftFormatError(f".iset scale 0 must be a 1-component JPEG, not {im.mode}")
            dpi = _jfif_dpi(im.info)
            im.load()
            pixels = np.asarray(im)
    except NftFormatError:
        raise
    except Exception as exc:
        raise NftFormatError(f".iset scale 0 is not a decodable JPEG ({exc})") from exc
    if dpi <= 0:
        raise NftFormatError(".iset scale 0 has no usable JFIF density (DPI)")
    return pixels, dpi
