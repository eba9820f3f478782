"""The compact ARV marker (``.arvm``): the features of a ``.mind`` file in a fraction of the bytes.

The ``arv`` viewer engine downloads this instead of the ``.mind``. It holds the same matching
data (every keyframe's points, angles, descriptors and cluster trees, bit for bit) and what the
tracker needs of the tracking sets (their points and the 13x13 template around each one), but
not the tracking images themselves, which make up most of a ``.mind``. The layout is documented
byte by byte in ``docs/arv-marker-format.md``; ``static/viewer/arv/marker.js`` reads it.

Where the bytes go, and why they are few:

* **Descriptors** are 666 comparisons ``v[a] < v[b] + 0.01`` between 37 samples. Whenever those
  comparisons are consistent with one ordering of the 37 samples (99.5% of points in the
  fixtures), the ordering alone determines all 666 bits: it is stored as a Lehmer code in 20
  bytes instead of 84. The other points keep their 84 raw bytes. Decoding gives back exactly the
  same 21 words.
* **Positions and angles** come out of the detector as float32 values in the point's octave
  (``x = x_oct * 2^o + 2^(o-1) - 0.5``), so 4 bytes each hold them exactly; a file whose values
  are not of that form (not from this compiler) falls back to float64 for that keyframe.
* Numbers are stored column by column and the float columns byte-plane by byte-plane, so that
  gzip (which every web server applies) finds the repetitions.

:func:`read_compact` treats its input as hostile: bounded sizes, every count and index checked,
a CRC-32 over the body, and any failure is a :class:`CompactFormatError`.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .freak import DESCRIPTOR_WORDS
from .reader import parse_targets

MAGIC = b"ARVM"
FORMAT_VERSION = 1
HEADER = struct.Struct("<4sBBHII")  # magic, version, flags, target count, body length, CRC-32
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_TARGETS = 1000
MAX_KEYFRAMES = 64
MAX_POINTS = 65535
MAX_SIDE = 100_000
MAX_TREE_DEPTH = 64
TEMPLATE_RADIUS = 6  # the tracker's 13x13 templates (AR2_DEFAULT_TS of the official tracker)
FREAK_POINTS = 37
DESCRIPTOR_BYTES = DESCRIPTOR_WORDS * 4
RANK_BYTES = 20

# Keyframe flags
FLAG_F64_COORDS = 1
FLAG_F64_ANGLES = 2
# Descriptor modes
MODE_RANKS = 0
MODE_RAW = 1
# Tree node kinds
NODE_LEAF = 0
NODE_INNER = 1
NO_CENTER = 0xFFFF

_PAIR_A, _PAIR_B = np.triu_indices(FREAK_POINTS, k=1)
# Lehmer digit i has radix 37 - i and takes just enough bits for it (159 bits in all).
_DIGIT_BITS = [max(0, math.ceil(math.log2(FREAK_POINTS - i))) for i in range(FREAK_POINTS)]
assert sum(_DIGIT_BITS) <= RANK_BYTES * 8


class CompactFormatError(ValueError):
    """The bytes are not a usable compact ARV marker; the message says what is wrong."""


@dataclass(frozen=True)
class CompactPoints:
    """One polarity of a keyframe, in the ``.mind`` order."""

    x: np.ndarray  # float64, keyframe pixels
    y: np.ndarray
    scale: np.ndarray  # int64, 2**octave
    angle: np.ndarray  # float64
    descriptors: np.ndarray  # uint32, n x 21
    tree: dict  # {"rootNode": node} as in the .mind (centerPointIndex as strings)


@dataclass(frozen=True)
class CompactKeyframe:
    width: int
    height: int
    scale: float
    maxima: CompactPoints
    minima: CompactPoints


@dataclass(frozen=True)
class CompactTrackingSet:
    width: int
    height: int
    scale: float
    x: np.ndarray  # int64
    y: np.ndarray
    patches: np.ndarray  # uint8, n x 13 x 13, centred on each point (edge pixels repeated)


@dataclass(frozen=True)
class CompactTarget:
    width: int
    height: int
    keyframes: tuple[CompactKeyframe, ...]
    tracking_sets: tuple[CompactTrackingSet, ...]


@dataclass(frozen=True)
class CompactMarker:
    version: int
    size: int
    targets: tuple[CompactTarget, ...]


# --- Writing -----------------------------------------------------------------------------------


def compact_from_mind(data: bytes) -> bytes:
    """The compact marker of a ``.mind`` file (validated by :func:`read_mind`'s parser)."""
    return pack_compact(parse_targets(data))


def pack_compact(targets: Sequence[dict]) -> bytes:
    """Compact marker bytes for compiled targets (``compile_target`` results or the decoded
    ``dataList`` of a ``.mind``)."""
    if not 1 <= len(targets) <= MAX_TARGETS:
        raise ValueError(f"a marker holds 1 to {MAX_TARGETS} targets, got {len(targets)}")
    body = bytearray()
    for target in targets:
        _write_target(body, target)
    header = HEADER.pack(MAGIC, FORMAT_VERSION, 0, len(targets), len(body), zlib.crc32(body))
    return header + bytes(body)


def _write_target(out: bytearray, target: dict) -> None:
    image = target["targetImage"]
    keyframes = target["matchingData"]
    tracking = target["trackingData"]
    if not 1 <= len(keyframes) <= MAX_KEYFRAMES:
        raise ValueError(f"a target has 1 to {MAX_KEYFRAMES} keyframes, got {len(keyframes)}")
    out += struct.pack("<IIBB", image["width"], image["height"], len(keyframes), len(tracking))
    for keyframe in keyframes:
        _write_keyframe(out, keyframe)
    for tracking_set in tracking:
        _write_tracking_set(out, tracking_set)


def _write_keyframe(out: bytearray, keyframe: dict) -> None:
    polarities = [keyframe["maximaPoints"], keyframe["minimaPoints"]]
    columns = [_point_columns(points) for points in polarities]
    flags = 0
    if not all(c["exact_coords"] for c in columns):
        flags |= FLAG_F64_COORDS
    if not all(c["exact_angles"] for c in columns):
        flags |= FLAG_F64_ANGLES
    out += struct.pack(
        "<IIdBHH", keyframe["width"], keyframe["height"], float(keyframe["scale"]), flags,
        len(polarities[0]), len(polarities[1]),
    )
    for c in columns:
        _write_points(out, c, flags)
    for key, points in (("maximaPointsCluster", polarities[0]), ("minimaPointsCluster", polarities[1])):
        _write_tree(out, keyframe[key]["rootNode"], len(points))


def _point_columns(points: list[dict]) -> dict:
    if len(points) > MAX_POINTS:
        raise ValueError(f"more than {MAX_POINTS} points in a keyframe")
    x = np.array([p["x"] for p in points], dtype=np.float64)
    y = np.array([p["y"] for p in points], dtype=np.float64)
    angle = np.array([p["angle"] for p in points], dtype=np.float64)
    scale = np.array([p["scale"] for p in points], dtype=np.int64)
    octave = np.zeros(len(points), dtype=np.int64)
    valid_scale = (scale >= 2) & (scale <= 2**15) & ((scale & (scale - 1)) == 0)
    if not valid_scale.all():
        raise ValueError("a point's scale is not a power of two between 2 and 2^15")
    octave = np.round(np.log2(scale)).astype(np.int64)
    factor = scale.astype(np.float64)
    x_oct = ((x + 0.5 - factor / 2) / factor).astype(np.float32)
    y_oct = ((y + 0.5 - factor / 2) / factor).astype(np.float32)
    exact_coords = bool(
        np.array_equal(_from_octave(x_oct, factor), x) and np.array_equal(_from_octave(y_oct, factor), y)
    )
    exact_angles = bool(np.array_equal(angle.astype(np.float32).astype(np.float64), angle))
    words = np.array([p["descriptors"] for p in points], dtype=np.uint32).reshape(len(points), DESCRIPTOR_WORDS)
    return {
        "octave": octave, "x": x, "y": y, "x_oct": x_oct, "y_oct": y_oct, "angle": angle,
        "words": words, "exact_coords": exact_coords, "exact_angles": exact_angles,
    }


def _from_octave(value: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """The detector's conversion from octave to keyframe pixels, in doubles as JS does it."""
    return value.astype(np.float64) * factor + factor / 2 - 0.5


def _write_points(out: bytearray, c: dict, flags: int) -> None:
    out += c["octave"].astype(np.uint8).tobytes()
    if flags & FLAG_F64_COORDS:
        out += _planes(c["x"].astype("<f8")) + _planes(c["y"].astype("<f8"))
    else:
        out += _planes(c["x_oct"].astype("<f4")) + _planes(c["y_oct"].astype("<f4"))
    if flags & FLAG_F64_ANGLES:
        out += _planes(c["angle"].astype("<f8"))
    else:
        out += _planes(c["angle"].astype("<f4"))
    modes = bytearray()
    codes = bytearray()
    for words in c["words"]:
        ranks = descriptor_ranks(words)
        if ranks is None:
            modes.append(MODE_RAW)
            codes += words.astype(">u4").tobytes()
        else:
            modes.append(MODE_RANKS)
            codes += ranks
    out += modes + codes


def _planes(values: np.ndarray) -> bytes:
    """Little-endian values stored byte plane by byte plane (all first bytes, then all second
    bytes, ...): the sign/exponent planes of nearby values repeat, which gzip can exploit."""
    raw = np.frombuffer(values.tobytes(), dtype=np.uint8).reshape(len(values), values.dtype.itemsize)
    return raw.T.tobytes()


def descriptor_ranks(words: np.ndarray) -> bytes | None:
    """The 20-byte Lehmer code of the ordering of the 37 FREAK samples that the descriptor's 666
    comparisons describe, or None when they describe no single ordering."""
    bits = np.unpackbits(np.asarray(words, dtype=">u4").view(np.uint8))[: len(_PAIR_A)]
    # Sample a comes before sample b when the bit of (a, b) is set (a < b), after it otherwise.
    before = np.zeros((FREAK_POINTS, FREAK_POINTS), dtype=bool)
    before[_PAIR_A, _PAIR_B] = bits.astype(bool)
    before[_PAIR_B, _PAIR_A] = ~bits.astype(bool)
    wins = before.sum(axis=1)
    if sorted(wins.tolist()) != list(range(FREAK_POINTS)):
        return None  # a cycle: no ordering reproduces these bits
    order = np.argsort(-wins, kind="stable").tolist()
    remaining = list(range(FREAK_POINTS))
    value = 0
    for i, sample in enumerate(order):
        digit = remaining.index(sample)
        remaining.pop(digit)
        value = (value << _DIGIT_BITS[i]) | digit
    value <<= RANK_BYTES * 8 - sum(_DIGIT_BITS)
    return value.to_bytes(RANK_BYTES, "big")


def descriptor_from_ranks(code: bytes) -> np.ndarray:
    """The 21 descriptor words of a 20-byte Lehmer code (inverse of :func:`descriptor_ranks`)."""
    value = int.from_bytes(code, "big") >> (RANK_BYTES * 8 - sum(_DIGIT_BITS))
    digits = []
    for i in range(FREAK_POINTS - 1, -1, -1):
        width = _DIGIT_BITS[i]
        digits.append(value & ((1 << width) - 1))
        value >>= width
    digits.reverse()
    remaining = list(range(FREAK_POINTS))
    position = np.empty(FREAK_POINTS, dtype=np.int64)
    for rank, digit in enumerate(digits):
        if digit >= len(remaining):
            raise CompactFormatError("a descriptor's rank code is out of range")
        position[remaining.pop(digit)] = rank
    bits = position[_PAIR_A] < position[_PAIR_B]
    return np.packbits(bits).view(">u4").astype(np.uint32)


def _write_tree(out: bytearray, root: dict, point_count: int) -> None:
    """Pre-order: kind (u8), centre (u16, 0xFFFF for the root), then a leaf's u16 count and
    indexes or an inner node's u8 child count followed by its children."""
    stack = [root]
    while stack:
        node = stack.pop()
        centre = node.get("centerPointIndex")
        centre = NO_CENTER if centre is None else int(centre)
        if node["leaf"]:
            indexes = node["pointIndexes"]
            out += struct.pack("<BHH", NODE_LEAF, centre, len(indexes))
            out += np.asarray(indexes, dtype="<u2").tobytes()
        else:
            children = node["children"]
            if not 1 <= len(children) <= 255:
                raise ValueError("a tree node has more than 255 children")
            out += struct.pack("<BHB", NODE_INNER, centre, len(children))
            stack.extend(reversed(children))


def _write_tracking_set(out: bytearray, tracking_set: dict) -> None:
    width, height = tracking_set["width"], tracking_set["height"]
    points = tracking_set["points"]
    if len(points) > MAX_POINTS:
        raise ValueError("too many tracking points")
    pixels = np.frombuffer(tracking_set["data"], dtype=np.uint8).reshape(height, width)
    xs = np.array([p["x"] for p in points], dtype=np.int64)
    ys = np.array([p["y"] for p in points], dtype=np.int64)
    out += struct.pack("<IIdHB", width, height, float(tracking_set["scale"]), len(points), TEMPLATE_RADIUS)
    out += xs.astype("<u2").tobytes() + ys.astype("<u2").tobytes()
    out += tracking_patches(pixels, xs, ys).tobytes()


def tracking_patches(pixels: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """The 13x13 template around each point, edge pixels repeated beyond the image."""
    height, width = pixels.shape
    span = np.arange(-TEMPLATE_RADIUS, TEMPLATE_RADIUS + 1)
    rows = np.clip(ys[:, None] + span, 0, height - 1)
    cols = np.clip(xs[:, None] + span, 0, width - 1)
    return pixels[rows[:, :, None], cols[:, None, :]].astype(np.uint8)


# --- Reading -----------------------------------------------------------------------------------


class _Cursor:
    def __init__(self, data: bytes, start: int) -> None:
        self.data = data
        self.pos = start

    def take(self, count: int, what: str) -> bytes:
        if count < 0 or self.pos + count > len(self.data):
            raise CompactFormatError(f"the file ends inside {what}")
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def unpack(self, fmt: str, what: str):
        size = struct.calcsize(fmt)
        return struct.unpack(fmt, self.take(size, what))

    def planes(self, count: int, dtype: str, what: str) -> np.ndarray:
        itemsize = np.dtype(dtype).itemsize
        raw = np.frombuffer(self.take(count * itemsize, what), dtype=np.uint8)
        return np.ascontiguousarray(raw.reshape(itemsize, count).T).view(dtype).reshape(count)


def read_compact(data: bytes) -> CompactMarker:
    """Validate compact marker bytes and decode them; raises :class:`CompactFormatError`."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CompactFormatError(f"expected the file's bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < HEADER.size:
        raise CompactFormatError("the file is too short to be a compact ARV marker")
    if len(data) > MAX_FILE_BYTES:
        raise CompactFormatError(f"the file is larger than {MAX_FILE_BYTES} bytes")
    magic, version, flags, count, body_length, crc = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise CompactFormatError("not a compact ARV marker (wrong magic bytes)")
    if version != FORMAT_VERSION:
        raise CompactFormatError(f"unsupported compact marker version {version}; this reader knows {FORMAT_VERSION}")
    if flags != 0:
        raise CompactFormatError(f"unknown header flags {flags:#x}")
    if body_length != len(data) - HEADER.size:
        raise CompactFormatError(
            f"the header announces {body_length} body bytes but the file has {len(data) - HEADER.size}"
        )
    if zlib.crc32(data[HEADER.size :]) != crc:
        raise CompactFormatError("the checksum does not match: the file is damaged")
    if not 1 <= count <= MAX_TARGETS:
        raise CompactFormatError(f"invalid target count {count}")
    cursor = _Cursor(data, HEADER.size)
    try:
        targets = tuple(_read_target(cursor, f"target {i}") for i in range(count))
    except CompactFormatError:
        raise
    except Exception as exc:  # a reader bug must still surface as a format error
        raise CompactFormatError(f"invalid structure: {exc!r}") from exc
    if cursor.pos != len(data):
        raise CompactFormatError(f"{len(data) - cursor.pos} unexpected bytes after the last target")
    return CompactMarker(version=version, size=len(data), targets=targets)


def _read_target(cursor: _Cursor, where: str) -> CompactTarget:
    width, height, keyframe_count, tracking_count = cursor.unpack("<IIBB", where)
    _check_size(width, height, where)
    if not 1 <= keyframe_count <= MAX_KEYFRAMES:
        raise CompactFormatError(f"{where} has {keyframe_count} keyframes")
    if tracking_count != 2:
        raise CompactFormatError(f"{where} has {tracking_count} tracking sets instead of 2")
    keyframes = tuple(_read_keyframe(cursor, f"{where} keyframe {k}") for k in range(keyframe_count))
    tracking = tuple(_read_tracking_set(cursor, f"{where} tracking set {k}") for k in range(tracking_count))
    return CompactTarget(width=width, height=height, keyframes=keyframes, tracking_sets=tracking)


def _read_keyframe(cursor: _Cursor, where: str) -> CompactKeyframe:
    width, height, scale, flags, maxima_count, minima_count = cursor.unpack("<IIdBHH", where)
    _check_size(width, height, where)
    if not (math.isfinite(scale) and scale > 0):
        raise CompactFormatError(f"{where} has an invalid scale")
    if flags & ~(FLAG_F64_COORDS | FLAG_F64_ANGLES):
        raise CompactFormatError(f"{where} has unknown flags {flags:#x}")
    columns = [
        _read_points(cursor, maxima_count, flags, f"{where} maxima"),
        _read_points(cursor, minima_count, flags, f"{where} minima"),
    ]
    trees = [
        _read_tree(cursor, maxima_count, f"{where} maxima tree"),
        _read_tree(cursor, minima_count, f"{where} minima tree"),
    ]
    maxima, minima = (CompactPoints(**c, tree=t) for c, t in zip(columns, trees, strict=True))
    return CompactKeyframe(width=width, height=height, scale=scale, maxima=maxima, minima=minima)


def _read_points(cursor: _Cursor, count: int, flags: int, where: str) -> dict:
    octave = np.frombuffer(cursor.take(count, f"{where} octaves"), dtype=np.uint8).astype(np.int64)
    if count and not ((octave >= 1) & (octave <= 15)).all():
        raise CompactFormatError(f"{where} has an octave outside 1..15")
    factor = (2.0**octave).astype(np.float64)
    if flags & FLAG_F64_COORDS:
        x = cursor.planes(count, "<f8", where).astype(np.float64)
        y = cursor.planes(count, "<f8", where).astype(np.float64)
    else:
        x = _from_octave(cursor.planes(count, "<f4", where), factor)
        y = _from_octave(cursor.planes(count, "<f4", where), factor)
    angle_type = "<f8" if flags & FLAG_F64_ANGLES else "<f4"
    angle = cursor.planes(count, angle_type, where).astype(np.float64)
    if not (np.isfinite(x).all() and np.isfinite(y).all() and np.isfinite(angle).all()):
        raise CompactFormatError(f"{where} has a coordinate or angle that is not finite")
    modes = np.frombuffer(cursor.take(count, f"{where} descriptor modes"), dtype=np.uint8)
    if count and not ((modes == MODE_RANKS) | (modes == MODE_RAW)).all():
        raise CompactFormatError(f"{where} has an unknown descriptor mode")
    words = np.empty((count, DESCRIPTOR_WORDS), dtype=np.uint32)
    for i, mode in enumerate(modes.tolist()):
        if mode == MODE_RAW:
            words[i] = np.frombuffer(cursor.take(DESCRIPTOR_BYTES, where), dtype=">u4")
        else:
            words[i] = descriptor_from_ranks(cursor.take(RANK_BYTES, where))
    return {"x": x, "y": y, "scale": (2**octave).astype(np.int64), "angle": angle, "descriptors": words}


def _read_tree(cursor: _Cursor, point_count: int, where: str) -> dict:
    seen = bytearray(point_count)
    covered = 0
    root: dict | None = None
    # Each entry: (list to append the decoded node to, depth)
    pending: list[tuple[list, int]] = []
    holder: list = []
    pending.append((holder, 1))
    nodes = 0
    while pending:
        siblings, depth = pending.pop()
        if depth > MAX_TREE_DEPTH:
            raise CompactFormatError(f"{where} is deeper than {MAX_TREE_DEPTH} levels")
        nodes += 1
        if nodes > 2 * point_count + 1:
            raise CompactFormatError(f"{where} has more nodes than points")
        kind, centre = cursor.unpack("<BH", where)
        if depth == 1:
            if centre != NO_CENTER:
                raise CompactFormatError(f"{where}: the root must not have a centre point")
            centre_value = None
        else:
            if centre >= point_count:
                raise CompactFormatError(f"{where}: centre point {centre} is out of range")
            centre_value = str(centre)
        if kind == NODE_LEAF:
            (count,) = cursor.unpack("<H", where)
            indexes = np.frombuffer(cursor.take(2 * count, where), dtype="<u2").tolist()
            for index in indexes:
                if index >= point_count:
                    raise CompactFormatError(f"{where}: point index {index} is out of range")
                if seen[index]:
                    raise CompactFormatError(f"{where}: point {index} is in two leaves")
                seen[index] = 1
            covered += len(indexes)
            node = {"centerPointIndex": centre_value, "leaf": True, "pointIndexes": indexes}
            siblings.append(node)
        elif kind == NODE_INNER:
            (children,) = cursor.unpack("<B", where)
            if children == 0:
                raise CompactFormatError(f"{where}: an inner node has no children")
            node = {"centerPointIndex": centre_value, "leaf": False, "children": []}
            siblings.append(node)
            # Children come next in pre-order: push them so the first one is decoded first.
            pending.extend([(node["children"], depth + 1)] * children)
        else:
            raise CompactFormatError(f"{where}: unknown node kind {kind}")
    root = holder[0]
    if covered != point_count:
        raise CompactFormatError(f"{where}: the leaves hold {covered} of {point_count} points")
    return {"rootNode": root}


def _read_tracking_set(cursor: _Cursor, where: str) -> CompactTrackingSet:
    width, height, scale, count, radius = cursor.unpack("<IIdHB", where)
    _check_size(width, height, where)
    if not (math.isfinite(scale) and scale > 0):
        raise CompactFormatError(f"{where} has an invalid scale")
    if radius != TEMPLATE_RADIUS:
        raise CompactFormatError(f"{where} has templates of radius {radius}, expected {TEMPLATE_RADIUS}")
    xs = np.frombuffer(cursor.take(2 * count, where), dtype="<u2").astype(np.int64)
    ys = np.frombuffer(cursor.take(2 * count, where), dtype="<u2").astype(np.int64)
    if count and not ((xs < width).all() and (ys < height).all()):
        raise CompactFormatError(f"{where} has a point outside the image")
    side = 2 * TEMPLATE_RADIUS + 1
    patches = np.frombuffer(cursor.take(count * side * side, where), dtype=np.uint8).reshape(count, side, side)
    return CompactTrackingSet(width=width, height=height, scale=scale, x=xs, y=ys, patches=patches)


def _check_size(width: int, height: int, where: str) -> None:
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise CompactFormatError(f"{where}: invalid size {width} x {height}")


def matching_data(marker: CompactMarker) -> list[list[dict]]:
    """Each target's ``matchingData`` rebuilt as in a ``.mind`` (for comparisons and tests)."""
    result = []
    for target in marker.targets:
        keyframes = []
        for keyframe in target.keyframes:
            entry = {}
            for name, points, maxima in (("maxima", keyframe.maxima, True), ("minima", keyframe.minima, False)):
                entry[f"{name}Points"] = [
                    {"maxima": maxima, "x": x, "y": y, "scale": s, "angle": a, "descriptors": d}
                    for x, y, s, a, d in zip(
                        points.x.tolist(), points.y.tolist(), points.scale.tolist(), points.angle.tolist(),
                        points.descriptors.tolist(), strict=True,
                    )
                ]
            entry["maximaPointsCluster"] = keyframe.maxima.tree
            entry["minimaPointsCluster"] = keyframe.minima.tree
            entry.update(width=keyframe.width, height=keyframe.height, scale=keyframe.scale)
            keyframes.append(entry)
        result.append(keyframes)
    return result
