"""read_mind / merge_mind: summaries of real files, exact merging, and refusal of anything else.

read_mind takes untrusted bytes (the admin "inspect marker" page, uploads of precompiled files),
so beyond the fixed malformed cases there are property tests: arbitrary msgpack documents and
random corruptions of a valid file must give a summary or MindFormatError, nothing else.
"""

import contextlib
import copy
import json
import struct
from pathlib import Path

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from markers.mindar.encode import pack_mind
from markers.mindar.reader import MAX_FILE_BYTES, MindFormatError, merge_mind, read_mind

FIXTURES = Path(__file__).parent / "fixtures" / "mindar"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def point(maxima: bool, index: int) -> dict:
    return {
        "maxima": maxima,
        "x": 1.5 + index,
        "y": 2.25,
        "scale": 2,
        "angle": -0.5,
        "descriptors": [index] * 21,
    }


def tiny_target() -> dict:
    """A small but complete target: 20 maxima in a two-leaf tree, 3 minima in a root leaf."""
    leaf = {"centerPointIndex": None, "leaf": True, "pointIndexes": [0, 1, 2]}
    maxima_tree = {
        "centerPointIndex": None,
        "leaf": False,
        "children": [
            {"centerPointIndex": "3", "leaf": True, "pointIndexes": list(range(10))},
            {"centerPointIndex": "12", "leaf": True, "pointIndexes": list(range(10, 20))},
        ],
    }
    keyframe = {
        "maximaPoints": [point(True, i) for i in range(20)],
        "minimaPoints": [point(False, i) for i in range(3)],
        "maximaPointsCluster": {"rootNode": maxima_tree},
        "minimaPointsCluster": {"rootNode": leaf},
        "width": 40,
        "height": 30,
        "scale": 1,
    }
    tracking = [
        {"data": bytes(16), "scale": 0.4, "width": 4, "height": 4, "points": [{"x": 3, "y": 0}]},
        {"data": bytes(4), "scale": 0.2, "width": 2, "height": 2, "points": []},
    ]
    return {
        "targetImage": {"width": 40, "height": 30},
        "trackingData": tracking,
        "matchingData": [keyframe],
    }


def document(target: dict) -> bytes:
    return msgpack.packb({"v": 2, "dataList": [target]}, use_bin_type=True)


# --- real files --------------------------------------------------------------------------------


def test_summary_of_an_official_file():
    mind = read_mind(fixture("card.mind"))
    assert mind.version == 2
    assert mind.size == 258570
    (target,) = mind.targets
    assert (target.width, target.height) == (674, 372)
    assert [(k.width, k.height) for k in target.keyframes] == [
        (674, 372), (575, 317), (457, 252), (362, 200), (288, 159), (228, 126), (181, 100),
    ]
    first = target.keyframes[0]
    assert (first.scale, first.maxima_count, first.minima_count) == (1, 41, 75)
    assert (first.maxima_tree_depth, first.maxima_leaf_count) == (2, 8)
    assert [(s.width, s.height, s.point_count) for s in target.tracking_sets] == [
        (464, 256, 32), (232, 128, 34),
    ]


def test_summary_counts_leaves_and_depth():
    (target,) = read_mind(document(tiny_target())).targets
    (keyframe,) = target.keyframes
    assert (keyframe.maxima_tree_depth, keyframe.maxima_leaf_count) == (2, 2)
    assert (keyframe.minima_tree_depth, keyframe.minima_leaf_count) == (1, 1)


@pytest.mark.parametrize(
    "name",
    ["astronaut_1000.mind", "pictarize.mind", "card+pictarize.mind", "card.shipped-browser.mind"],
)
def test_every_fixture_file_reads(name):
    assert read_mind(fixture(name)).targets


def test_summary_is_json_serialisable():
    summary = read_mind(fixture("card+pictarize.mind")).as_dict()
    assert json.loads(json.dumps(summary))["targets"][1]["width"] == 800


# --- merging -----------------------------------------------------------------------------------


def test_merging_two_official_files_gives_the_official_two_target_file():
    merged = merge_mind([fixture("card.mind"), fixture("pictarize.mind")])
    assert merged == fixture("card+pictarize.mind")


def test_merging_keeps_the_order_of_the_inputs():
    merged = merge_mind([fixture("pictarize.mind"), fixture("card+pictarize.mind")])
    widths = [t.width for t in read_mind(merged).targets]
    assert widths == [800, 674, 800]


def test_merging_a_single_file_reproduces_it():
    assert merge_mind([fixture("coffee_1000.mind")]) == fixture("coffee_1000.mind")


def test_merging_refuses_a_malformed_file_and_an_empty_list():
    with pytest.raises(MindFormatError):
        merge_mind([fixture("card.mind"), b"not a mind file"])
    with pytest.raises(ValueError, match="at least one"):
        merge_mind([])


# --- malformed bytes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<!DOCTYPE html><html><body>404</body></html>",
        b'<svg xmlns="http://www.w3.org/2000/svg"/>',
        b"\x89PNG\r\n\x1a\n",
        b"\xc1",  # a msgpack byte that is never valid
        b"\xdd\xff\xff\xff\xff",  # an array claiming 4 billion entries
        b"\xc6\xff\xff\xff\xff",  # a 4 GB binary with no bytes behind it
        b"\xdf\xff\xff\xff\xff",  # a map claiming 4 billion entries
        b"\x91" * 100_000,  # arrays nested 100,000 deep
        b"\xc7\x01\x05\x00",  # an ext type
    ],
    ids=[
        "empty", "html", "svg", "png", "invalid-byte", "huge-array", "huge-bin", "huge-map",
        "deep-nesting", "ext",
    ],
)
def test_non_mind_bytes_are_refused(data):
    with pytest.raises(MindFormatError):
        read_mind(data)


@pytest.mark.parametrize("fraction", [0.001, 0.5, 0.999])
def test_truncated_file_is_refused(fraction):
    data = fixture("card.mind")
    with pytest.raises(MindFormatError):
        read_mind(data[: int(len(data) * fraction)])


def test_trailing_garbage_is_refused():
    with pytest.raises(MindFormatError):
        read_mind(fixture("card.mind") + b"\x00")


def test_oversized_input_is_refused_before_parsing():
    with pytest.raises(MindFormatError, match="larger"):
        read_mind(b"\x90" * (MAX_FILE_BYTES + 1))


@pytest.mark.parametrize("value", ["card.mind", None, 42, ["v", 2]])
def test_non_bytes_arguments_are_refused(value):
    with pytest.raises(MindFormatError):
        read_mind(value)


@pytest.mark.parametrize(
    "root",
    [
        [],
        {"dataList": []},
        {"v": 1, "dataList": []},
        {"v": True, "dataList": []},
        {"v": "2", "dataList": []},
        {"v": 2.0, "dataList": []},
        {"v": 2},
        {"v": 2, "dataList": []},
        {"v": 2, "dataList": {"0": {}}},
        {"v": 2, "dataList": [None]},
    ],
)
def test_wrong_root_is_refused(root):
    with pytest.raises(MindFormatError):
        read_mind(msgpack.packb(root, use_bin_type=True))


def test_legacy_version_1_file_is_refused_with_a_recompile_hint():
    data = msgpack.packb({"v": 1, "dataList": [tiny_target()]}, use_bin_type=True)
    with pytest.raises(MindFormatError, match="recompile"):
        read_mind(data)


def mutate(path, value):
    """A copy of the tiny target with the item at ``path`` replaced (or deleted if value is
    DELETE)."""
    target = copy.deepcopy(tiny_target())
    node = target
    for key in path[:-1]:
        node = node[key]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return target


DELETE = object()
KEYFRAME = ("matchingData", 0)
MAXIMA_TREE = (*KEYFRAME, "maximaPointsCluster", "rootNode")


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("targetImage", "width"), "40"),
        (("targetImage", "height"), 0),
        (("targetImage", "width"), 30.0),
        (("targetImage",), DELETE),
        (("trackingData",), []),
        (("trackingData", 1), DELETE),
        (("trackingData", 0, "data"), bytes(15)),
        (("trackingData", 0, "data"), "0" * 16),
        (("trackingData", 0, "scale"), -1.0),
        (("trackingData", 0, "scale"), float("nan")),
        (("trackingData", 0, "points", 0, "x"), 4),
        (("trackingData", 0, "points", 0, "y"), -1),
        (("trackingData", 0, "points", 0, "x"), 1.5),
        (("matchingData",), []),
        ((*KEYFRAME, "width"), None),
        ((*KEYFRAME, "scale"), 0),
        ((*KEYFRAME, "maximaPoints", 0, "maxima"), False),
        ((*KEYFRAME, "maximaPoints", 0, "x"), float("inf")),
        ((*KEYFRAME, "maximaPoints", 0, "angle"), "0.5"),
        ((*KEYFRAME, "maximaPoints", 0, "descriptors"), [0] * 20),
        ((*KEYFRAME, "maximaPoints", 0, "descriptors"), [0] * 20 + [2**32]),
        ((*KEYFRAME, "maximaPoints", 0, "descriptors"), [0] * 20 + [1.0]),
        ((*KEYFRAME, "maximaPoints", 0, "descriptors"), [0] * 20 + [-1]),
        ((*KEYFRAME, "maximaPoints", 0), [1, 2]),
        ((*KEYFRAME, "maximaPointsCluster"), {}),
        ((*MAXIMA_TREE, "centerPointIndex"), "0"),
        ((*MAXIMA_TREE, "leaf"), 1),
        ((*MAXIMA_TREE, "children"), []),
        ((*MAXIMA_TREE, "children", 0, "pointIndexes"), list(range(9))),  # index 9 missing
        ((*MAXIMA_TREE, "children", 0, "pointIndexes"), list(range(11))),  # 10 twice
        ((*MAXIMA_TREE, "children", 0, "pointIndexes"), [*range(9), 20]),  # out of range
        ((*MAXIMA_TREE, "children", 0, "pointIndexes"), [*range(9), -1]),
        ((*MAXIMA_TREE, "children", 0, "centerPointIndex"), "99"),
        ((*MAXIMA_TREE, "children", 0, "centerPointIndex"), "٣"),  # a non-ASCII digit
        ((*MAXIMA_TREE, "children", 0, "centerPointIndex"), None),
        ((*MAXIMA_TREE, "children", 1), "leaf"),
    ],
)
def test_structural_errors_are_refused(path, value):
    with pytest.raises(MindFormatError):
        read_mind(document(mutate(path, value)))


def test_integer_center_point_index_is_accepted():
    # JS reads keypoints[centerPointIndex] with a string or a number alike.
    target = mutate((*MAXIMA_TREE, "children", 0, "centerPointIndex"), 3)
    assert read_mind(document(target)).targets


def test_a_tree_deeper_than_the_limit_is_refused():
    target = tiny_target()
    node = {"centerPointIndex": "0", "leaf": True, "pointIndexes": list(range(20))}
    for _ in range(100):
        node = {"centerPointIndex": "0", "leaf": False, "children": [node]}
    node["centerPointIndex"] = None
    target["matchingData"][0]["maximaPointsCluster"]["rootNode"] = node
    with pytest.raises(MindFormatError, match="deeper"):
        read_mind(document(target))


def test_the_tiny_target_itself_is_valid_and_packs_like_the_compiler():
    assert read_mind(pack_mind([tiny_target()])).targets[0].width == 40


# --- property tests ----------------------------------------------------------------------------

msgpack_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats()
    | st.text(max_size=8) | st.binary(max_size=16),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(
        st.sampled_from(["v", "dataList", "width", "height", "data", "points", "leaf", "x"]),
        children,
        max_size=5,
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(msgpack_values)
def test_arbitrary_msgpack_documents_give_a_format_error(value):
    with pytest.raises(MindFormatError):
        read_mind(msgpack.packb(value, use_bin_type=True))


@settings(max_examples=300, deadline=None)
@given(msgpack_values)
def test_arbitrary_values_inside_a_valid_target_never_escape_as_other_errors(value):
    for path in [("targetImage",), ("trackingData", 0), (*KEYFRAME, "maximaPoints", 3),
                 (*MAXIMA_TREE, "children", 1), (*KEYFRAME, "scale")]:
        with contextlib.suppress(MindFormatError):
            read_mind(document(mutate(path, value)))


VALID_TINY = document(tiny_target())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(0, len(VALID_TINY) - 1), st.integers(0, 255)), min_size=1,
        max_size=8,
    ),
    st.integers(0, len(VALID_TINY)),
)
def test_corrupted_or_truncated_bytes_give_a_summary_or_a_format_error(edits, cut):
    data = bytearray(VALID_TINY)
    for offset, byte in edits:
        data[offset] = byte
    with contextlib.suppress(MindFormatError):
        read_mind(bytes(data[:cut]))


def test_a_length_prefix_pointing_past_the_end_is_refused():
    # The first tracking image is a bin8 of 16 bytes; claim a megabyte instead.
    data = bytearray(VALID_TINY)
    offset = data.index(b"\xc4\x10")
    data[offset : offset + 2] = b"\xc6" + struct.pack(">I", 10**6)
    with pytest.raises(MindFormatError):
        read_mind(bytes(data))
