"""Our compiler against the official mind-ar 1.2.5 OfflineCompiler outputs in fixtures/mindar.

The field-by-field tests come first so that a regression says *where* the output drifted
(keyframe sizes, point counts, coordinates, angles, descriptors, trees or tracking data); the
byte comparison last proves the whole file, msgpack wire types included.

Inputs are decoded like the official Node compiler does (node-canvas: EXIF orientation not
applied, ICC ignored): ``card.png`` carries EXIF orientation 6 and an iCCP chunk, and the
official output is the unrotated 674x372 target.
"""

from functools import cache
from pathlib import Path

import msgpack
import pytest

from markers.mindar import compile_target, decode_image, pack_mind, to_grey

FIXTURES = Path(__file__).parent / "fixtures" / "mindar"
IMAGES = ["card.png", "pictarize.jpg", "astronaut_1000.jpg", "coffee_1000.jpg", "chelsea_1000.jpg"]


@cache
def ours(name: str) -> dict:
    data = (FIXTURES / name).read_bytes()
    return compile_target(to_grey(decode_image(data, apply_exif=False)))


@cache
def official_bytes(mind_name: str) -> bytes:
    return (FIXTURES / mind_name).read_bytes()


def official(name: str) -> dict:
    document = msgpack.unpackb(official_bytes(Path(name).stem + ".mind"))
    assert document["v"] == 2
    (target,) = document["dataList"]
    return target


def roundtrip(target: dict) -> dict:
    """Our target as the official file holds it (ints for integral floats, bytes for bins)."""
    (decoded,) = msgpack.unpackb(pack_mind([target]))["dataList"]
    return decoded


@pytest.mark.parametrize("name", IMAGES)
def test_keyframe_sizes_scales_and_point_counts_match(name):
    mine, theirs = roundtrip(ours(name)), official(name)
    assert mine["targetImage"] == theirs["targetImage"]
    layout = [
        (k["width"], k["height"], k["scale"], len(k["maximaPoints"]), len(k["minimaPoints"]))
        for k in mine["matchingData"]
    ]
    expected = [
        (k["width"], k["height"], k["scale"], len(k["maximaPoints"]), len(k["minimaPoints"]))
        for k in theirs["matchingData"]
    ]
    assert layout == expected


@pytest.mark.parametrize("name", IMAGES)
@pytest.mark.parametrize("field", ["maxima", "x", "y", "scale", "angle", "descriptors"])
def test_feature_points_match_field_by_field(name, field):
    mine, theirs = roundtrip(ours(name)), official(name)
    for index, (a, b) in enumerate(zip(mine["matchingData"], theirs["matchingData"], strict=True)):
        for kind in ("maximaPoints", "minimaPoints"):
            got = [point[field] for point in a[kind]]
            want = [point[field] for point in b[kind]]
            differing = sum(1 for g, w in zip(got, want, strict=True) if g != w)
            assert differing == 0, f"keyframe {index} {kind}: {differing} {field} values differ"


@pytest.mark.parametrize("name", IMAGES)
def test_clustering_trees_match(name):
    mine, theirs = roundtrip(ours(name)), official(name)
    for index, (a, b) in enumerate(zip(mine["matchingData"], theirs["matchingData"], strict=True)):
        for kind in ("maximaPointsCluster", "minimaPointsCluster"):
            assert a[kind] == b[kind], f"keyframe {index} {kind} differs"


@pytest.mark.parametrize("name", IMAGES)
def test_tracking_sets_match(name):
    mine, theirs = roundtrip(ours(name)), official(name)
    for a, b in zip(mine["trackingData"], theirs["trackingData"], strict=True):
        assert (a["width"], a["height"], a["scale"]) == (b["width"], b["height"], b["scale"])
        assert a["data"] == b["data"]
        assert a["points"] == b["points"]


@pytest.mark.parametrize("name", IMAGES)
def test_file_is_byte_identical(name):
    assert pack_mind([ours(name)]) == official_bytes(Path(name).stem + ".mind")


def test_two_targets_in_input_order_are_byte_identical():
    data = pack_mind([ours("card.png"), ours("pictarize.jpg")])
    assert data == official_bytes("card+pictarize.mind")
