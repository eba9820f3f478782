"""Read and validate ``.mind`` files: for tests, merging, and the admin "inspect marker" page.

:func:`read_mind` accepts untrusted bytes. Whatever they hold, it either returns a summary of a
structurally valid file or raises :class:`MindFormatError`, never another exception, and its cost
is bounded: the input is capped at :data:`MAX_FILE_BYTES`, msgpack is told the largest string,
binary, array and map it may allocate, and the validation is a single iterative pass (no
recursion, so a deeply nested tree cannot exhaust the Python stack).

What "valid" means is what the MindAR 1.2.5 runtime relies on: ``v == 2``; per target, positive
integer sizes, exactly two tracking sets whose pixel data is ``width * height`` bytes and whose
points lie inside them, and at least one keyframe whose points carry finite numbers and 21
32-bit descriptor words; per keyframe, two cluster trees whose leaves partition the indexes of
their point list exactly (every point once, no index out of range).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import msgpack

from .encode import MIND_VERSION, pack_mind
from .freak import DESCRIPTOR_WORDS

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_TARGETS = 1000
MAX_SIDE = 100_000
MAX_TREE_DEPTH = 64
# Far above anything legitimate (500 points per keyframe, 13 keyframes), far below what would
# let a small file allocate a huge Python list.
_MAX_ARRAY = 100_000
_MAX_MAP = 64
_MAX_STR = 1024


class MindFormatError(ValueError):
    """The bytes are not a usable MindAR 1.2.x target file; the message says what is wrong."""


@dataclass(frozen=True)
class KeyframeInfo:
    width: int
    height: int
    scale: float
    maxima_count: int
    minima_count: int
    maxima_tree_depth: int
    minima_tree_depth: int
    maxima_leaf_count: int
    minima_leaf_count: int


@dataclass(frozen=True)
class TrackingSetInfo:
    width: int
    height: int
    scale: float
    point_count: int


@dataclass(frozen=True)
class TargetInfo:
    width: int
    height: int
    keyframes: tuple[KeyframeInfo, ...]
    tracking_sets: tuple[TrackingSetInfo, ...]


@dataclass(frozen=True)
class MindFile:
    version: int
    size: int
    targets: tuple[TargetInfo, ...]

    def as_dict(self) -> dict:
        return asdict(self)


def read_mind(data: bytes) -> MindFile:
    """Validate ``.mind`` bytes and summarise their targets; raises :class:`MindFormatError`."""
    _, infos = _parse(data)
    return MindFile(version=MIND_VERSION, size=len(data), targets=infos)


def merge_mind(files: Sequence[bytes]) -> bytes:
    """One ``.mind`` holding the targets of already compiled files, in order, without
    recompiling: the bytes of each target are re-encoded unchanged."""
    if not files:
        raise ValueError("merge_mind needs at least one .mind file")
    targets = []
    for data in files:
        targets.extend(parse_targets(data))
    return pack_mind(targets)


def parse_targets(data: bytes) -> list[dict]:
    """The validated ``dataList`` of a ``.mind`` file, as decoded msgpack objects."""
    targets, _ = _parse(data)
    return targets


def _parse(data: bytes) -> tuple[list[dict], tuple[TargetInfo, ...]]:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MindFormatError(f"expected the file's bytes, got {type(data).__name__}")
    if len(data) == 0:
        raise MindFormatError("the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise MindFormatError(f"the file is larger than {MAX_FILE_BYTES} bytes")
    try:
        root = msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            max_str_len=_MAX_STR,
            max_bin_len=len(data),
            max_array_len=_MAX_ARRAY,
            max_map_len=_MAX_MAP,
            max_ext_len=0,
        )
    except Exception as exc:  # msgpack raises several types (ValueError, TypeError, ...)
        raise MindFormatError(f"not a msgpack document: {exc}") from exc
    try:
        return _validate(root)
    except MindFormatError:
        raise
    except Exception as exc:  # a validation bug must still surface as a format error
        raise MindFormatError(f"invalid structure: {exc!r}") from exc


def _validate(root) -> tuple[list[dict], tuple[TargetInfo, ...]]:
    if not isinstance(root, dict) or "v" not in root:
        raise MindFormatError("not a MindAR target file (no version field)")
    version = root["v"]
    if not _is_int(version) or version != MIND_VERSION:
        raise MindFormatError(
            f"unsupported .mind version {version!r}; MindAR 1.2.x reads only version "
            f"{MIND_VERSION}, please recompile"
        )
    targets = _field(root, "dataList", list, "file")
    if not targets:
        raise MindFormatError("the file contains no targets")
    if len(targets) > MAX_TARGETS:
        raise MindFormatError(f"more than {MAX_TARGETS} targets")
    infos = tuple(_check_target(target, f"target {i}") for i, target in enumerate(targets))
    return targets, infos


def _check_target(target, where: str) -> TargetInfo:
    if not isinstance(target, dict):
        raise MindFormatError(f"{where} is not a map")
    image = _field(target, "targetImage", dict, where)
    width, height = _size(image, f"{where} targetImage")
    tracking = _field(target, "trackingData", list, where)
    if len(tracking) != 2:
        raise MindFormatError(f"{where} has {len(tracking)} tracking sets instead of 2")
    tracking_sets = tuple(
        _check_tracking_set(tracking_set, f"{where} tracking set {index}")
        for index, tracking_set in enumerate(tracking)
    )
    keyframes = _field(target, "matchingData", list, where)
    if not keyframes:
        raise MindFormatError(f"{where} has no keyframes")
    return TargetInfo(
        width=width,
        height=height,
        keyframes=tuple(
            _check_keyframe(keyframe, f"{where} keyframe {index}")
            for index, keyframe in enumerate(keyframes)
        ),
        tracking_sets=tracking_sets,
    )


def _check_tracking_set(tracking_set, where: str) -> TrackingSetInfo:
    if not isinstance(tracking_set, dict):
        raise MindFormatError(f"{where} is not a map")
    width, height = _size(tracking_set, where)
    data = _field(tracking_set, "data", bytes, where)
    if len(data) != width * height:
        raise MindFormatError(f"{where} holds {len(data)} pixels instead of {width}x{height}")
    scale = _positive_number(tracking_set, "scale", where)
    points = _field(tracking_set, "points", list, where)
    for point in points:
        if not isinstance(point, dict):
            raise MindFormatError(f"{where} has a point that is not a map")
        x, y = point.get("x"), point.get("y")
        if not (_is_int(x) and _is_int(y) and 0 <= x < width and 0 <= y < height):
            raise MindFormatError(f"{where} has a point outside the image: {x!r}, {y!r}")
    return TrackingSetInfo(width=width, height=height, scale=scale, point_count=len(points))


def _check_keyframe(keyframe, where: str) -> KeyframeInfo:
    if not isinstance(keyframe, dict):
        raise MindFormatError(f"{where} is not a map")
    width, height = _size(keyframe, where)
    scale = _positive_number(keyframe, "scale", where)
    counts, depths, leaves = [], [], []
    for kind, is_maximum in (("maxima", True), ("minima", False)):
        points = _field(keyframe, f"{kind}Points", list, where)
        for index, point in enumerate(points):
            _check_point(point, is_maximum, f"{where} {kind} point {index}")
        cluster = _field(keyframe, f"{kind}PointsCluster", dict, where)
        root = _field(cluster, "rootNode", dict, f"{where} {kind} tree")
        depth, leaf_count = _walk_tree(root, len(points), f"{where} {kind} tree")
        counts.append(len(points))
        depths.append(depth)
        leaves.append(leaf_count)
    return KeyframeInfo(
        width=width,
        height=height,
        scale=scale,
        maxima_count=counts[0],
        minima_count=counts[1],
        maxima_tree_depth=depths[0],
        minima_tree_depth=depths[1],
        maxima_leaf_count=leaves[0],
        minima_leaf_count=leaves[1],
    )


def _check_point(point, is_maximum: bool, where: str) -> None:
    if not isinstance(point, dict):
        raise MindFormatError(f"{where} is not a map")
    if point.get("maxima") is not is_maximum:
        raise MindFormatError(f"{where} has a wrong 'maxima' flag")
    for key in ("x", "y", "angle"):
        value = point.get(key)
        if not _is_number(value) or not math.isfinite(value):
            raise MindFormatError(f"{where} has no finite {key!r}")
    _positive_number(point, "scale", where)
    words = _field(point, "descriptors", list, where)
    if len(words) != DESCRIPTOR_WORDS:
        raise MindFormatError(f"{where} has {len(words)} descriptor words, not {DESCRIPTOR_WORDS}")
    if not all(_is_int(w) and 0 <= w < 2**32 for w in words):
        raise MindFormatError(f"{where} has a descriptor word that is not a 32-bit integer")


def _walk_tree(root: dict, point_count: int, where: str) -> tuple[int, int]:
    """Check one cluster tree; returns (depth, leaf count)."""
    if root.get("centerPointIndex") is not None:
        raise MindFormatError(f"{where}: the root must not have a center point")
    seen = bytearray(point_count)
    covered = 0
    depth = leaves = 0
    stack = [(root, 1)]
    while stack:
        node, level = stack.pop()
        if not isinstance(node, dict):
            raise MindFormatError(f"{where}: a node is not a map")
        if level > MAX_TREE_DEPTH:
            raise MindFormatError(f"{where} is deeper than {MAX_TREE_DEPTH} levels")
        depth = max(depth, level)
        if level > 1:
            _check_center(node.get("centerPointIndex"), point_count, where)
        is_leaf = node.get("leaf")
        if is_leaf is True:
            leaves += 1
            for index in _field(node, "pointIndexes", list, where):
                if not _is_int(index) or not 0 <= index < point_count:
                    raise MindFormatError(f"{where}: point index {index!r} is out of range")
                if seen[index]:
                    raise MindFormatError(f"{where}: point {index} is in two leaves")
                seen[index] = 1
                covered += 1
        elif is_leaf is False:
            children = _field(node, "children", list, where)
            if not children:
                raise MindFormatError(f"{where}: an inner node has no children")
            stack.extend((child, level + 1) for child in children)
        else:
            raise MindFormatError(f"{where}: a node has no boolean 'leaf'")
    if covered != point_count:
        raise MindFormatError(f"{where}: the leaves hold {covered} of {point_count} points")
    return depth, leaves


def _check_center(center, point_count: int, where: str) -> None:
    # The official compiler writes the center as a string (JS Object.keys); ints also work in JS.
    if isinstance(center, str) and center.isascii() and center.isdigit() and len(center) < 10:
        center = int(center)
    if not _is_int(center) or not 0 <= center < point_count:
        raise MindFormatError(f"{where}: invalid centerPointIndex {center!r}")


def _field(container: dict, key: str, kind: type, where: str):
    value = container.get(key)
    if type(value) is not kind:
        raise MindFormatError(f"{where}: {key!r} is missing or not a {kind.__name__}")
    return value


def _size(container: dict, where: str) -> tuple[int, int]:
    width, height = container.get("width"), container.get("height")
    valid = _is_int(width) and _is_int(height)
    if not (valid and 0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise MindFormatError(f"{where}: invalid size {width!r} x {height!r}")
    return width, height


def _positive_number(container: dict, key: str, where: str) -> float:
    value = container.get(key)
    if not _is_number(value) or not math.isfinite(value) or value <= 0:
        raise MindFormatError(f"{where}: {key!r} is not a positive number")
    return value


def _is_int(value) -> bool:
    return type(value) is int


def _is_number(value) -> bool:
    return type(value) is int or type(value) is float
