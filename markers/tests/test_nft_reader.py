"""`read_nft` on good marker sets and on malformed or hostile ones."""

from __future__ import annotations

import contextlib
import io
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from markers.nft import NftFormatError, read_nft
from markers.nft import reader as reader_module
from markers.nft.fset3 import POINT_DTYPE as FSET3_POINT

FIXTURES = Path(__file__).parent / "fixtures" / "nft"


@pytest.fixture(scope="module")
def coffee() -> tuple[bytes, bytes, bytes]:
    return tuple((FIXTURES / f"coffee.{ext}").read_bytes() for ext in ("iset", "fset", "fset3"))


def test_reads_a_reference_marker_set(coffee):
    info = read_nft(*coffee)
    assert (info.width, info.height, info.dpi) == (1000, 667, 72.0)
    assert len(info.scales) == 15
    assert info.fset_points == 224
    assert info.fset3_points == 2844
    assert [s.fset3_points for s in info.scales] == [
        485, 469, 396, 514, 300, 205, 147, 101, 73, 50, 40, 31, 15, 11, 7,
    ]
    assert (info.scales[0].fset_points, info.scales[14].fset_points) == (66, 0)
    assert (info.scales[14].width, info.scales[14].height) == (42, 28)


def test_accepts_bytearray_and_memoryview(coffee):
    iset, fset, fset3 = coffee
    assert read_nft(bytearray(iset), memoryview(fset), fset3) == read_nft(*coffee)


# --- one broken file at a time -------------------------------------------------------------


def _replace(files, index, data):
    files = list(files)
    files[index] = data
    return files


@pytest.mark.parametrize("index", [0, 1, 2])
def test_rejects_empty_files(coffee, index):
    with pytest.raises(NftFormatError):
        read_nft(*_replace(coffee, index, b""))


@pytest.mark.parametrize("index", [0, 1, 2])
def test_rejects_non_bytes(coffee, index):
    with pytest.raises(NftFormatError):
        read_nft(*_replace(coffee, index, "not bytes"))


@pytest.mark.parametrize("index", [0, 1, 2])
@pytest.mark.parametrize("keep", [1, 3, 4, 5, 17, 0.5, 0.99])
def test_rejects_truncated_files(coffee, index, keep):
    data = coffee[index]
    cut = int(len(data) * keep) if isinstance(keep, float) else keep
    with pytest.raises(NftFormatError):
        read_nft(*_replace(coffee, index, data[:cut]))


@pytest.mark.parametrize("index", [0, 1, 2])
def test_rejects_trailing_garbage(coffee, index):
    with pytest.raises(NftFormatError):
        read_nft(*_replace(coffee, index, coffee[index] + b"\x00" * 12))


@pytest.mark.parametrize("count", [0, -1, 16, 2**31 - 1])
def test_rejects_wrong_or_huge_scale_counts(coffee, count):
    iset, fset, fset3 = coffee
    with pytest.raises(NftFormatError):
        read_nft(struct.pack("<i", count) + iset[4:], fset, fset3)
    with pytest.raises(NftFormatError):
        read_nft(iset, struct.pack("<i", count) + fset[4:], fset3)


@pytest.mark.parametrize("count", [-1, 66 + 1, 2**31 - 1])
def test_rejects_wrong_or_huge_fset_point_counts(coffee, count):
    iset, fset, fset3 = coffee
    # The first list header is (scale, maxdpi, mindpi, n) right after the list count.
    broken = fset[:16] + struct.pack("<i", count) + fset[20:]
    with pytest.raises(NftFormatError):
        read_nft(iset, broken, fset3)


@pytest.mark.parametrize("count", [-1, 2845, 2843, 2**31 - 1])
def test_rejects_wrong_or_huge_fset3_point_counts(coffee, count):
    iset, fset, fset3 = coffee
    with pytest.raises(NftFormatError):
        read_nft(iset, fset, struct.pack("<i", count) + fset3[4:])


def _fset3_tail_offset(fset3: bytes) -> int:
    return 4 + struct.unpack_from("<i", fset3)[0] * FSET3_POINT.itemsize


@pytest.mark.parametrize(
    ("pages", "page_no", "images"), [(2, 1, 15), (1, 2, 15), (1, 1, 14), (1, 1, 2**30)]
)
def test_rejects_bad_fset3_page_tables(coffee, pages, page_no, images):
    iset, fset, fset3 = coffee
    off = _fset3_tail_offset(fset3)
    broken = fset3[:off] + struct.pack("<iii", pages, page_no, images) + fset3[off + 12 :]
    with pytest.raises(NftFormatError):
        read_nft(iset, fset, broken)


def _with_fset3_point(fset3: bytes, **fields) -> bytes:
    points = np.frombuffer(fset3, FSET3_POINT, count=struct.unpack_from("<i", fset3)[0], offset=4)
    points = points.copy()
    for field, value in fields.items():
        points[field][0] = value
    return fset3[:4] + points.tobytes() + fset3[4 + points.nbytes :]


@pytest.mark.parametrize(
    "fields",
    [
        {"x": np.nan},
        {"y": np.inf},
        {"x": 5000.0},
        {"angle": -1.0},
        {"scale": 0.0},
        {"maxima": 7},
        {"page": 2},
        {"image": 15},
        {"image": -1},
    ],
)
def test_rejects_invalid_fset3_points(coffee, fields):
    iset, fset, fset3 = coffee
    with pytest.raises(NftFormatError):
        read_nft(iset, fset, _with_fset3_point(fset3, **fields))


def test_rejects_fset3_descriptor_bits_past_666(coffee):
    iset, fset, fset3 = coffee
    points = np.frombuffer(fset3, FSET3_POINT, count=2844, offset=4).copy()
    points["desc"][0, 90] = 1
    with pytest.raises(NftFormatError):
        read_nft(iset, fset, fset3[:4] + points.tobytes() + fset3[4 + points.nbytes :])


@pytest.mark.parametrize(
    ("offset", "value"),
    [
        (4 + 16, struct.pack("<i", 5000)),  # x of the first point, outside level 0
        (4 + 16 + 8, struct.pack("<f", float("nan"))),  # its mx
        (4 + 4, struct.pack("<f", float("nan"))),  # maxdpi of list 0
        (4, struct.pack("<i", 3)),  # list 0 claims to be level 3
    ],
)
def test_rejects_invalid_fset_values(coffee, offset, value):
    iset, fset, fset3 = coffee
    broken = fset[:offset] + value + fset[offset + len(value) :]
    with pytest.raises(NftFormatError):
        read_nft(iset, broken, fset3)


def _iset_with_jpeg(iset: bytes, jpeg: bytes) -> bytes:
    num = struct.unpack_from("<i", iset)[0]
    return iset[:4] + jpeg + iset[len(iset) - 4 * (num - 1) :]


def test_rejects_a_colour_jpeg_in_the_iset(coffee):
    iset, fset, fset3 = coffee
    out = io.BytesIO()
    Image.new("RGB", (1000, 667), (90, 120, 30)).save(out, "JPEG", dpi=(72, 72))
    with pytest.raises(NftFormatError, match="1-component"):
        read_nft(_iset_with_jpeg(iset, out.getvalue()), fset, fset3)


def test_rejects_an_iset_jpeg_without_density(coffee):
    iset, fset, fset3 = coffee
    out = io.BytesIO()
    Image.new("L", (1000, 667), 90).save(out, "JPEG")
    with pytest.raises(NftFormatError, match="density"):
        read_nft(_iset_with_jpeg(iset, out.getvalue()), fset, fset3)


def test_rejects_an_iset_of_another_size(coffee):
    iset, fset, fset3 = coffee
    out = io.BytesIO()
    Image.new("L", (999, 667), 90).save(out, "JPEG", dpi=(72, 72))
    with pytest.raises(NftFormatError, match="sizes"):
        read_nft(_iset_with_jpeg(iset, out.getvalue()), fset, fset3)


def test_refuses_to_decode_a_huge_iset_jpeg(coffee, monkeypatch):
    iset, fset, fset3 = coffee
    monkeypatch.setattr("markers.nft.iset.MAX_ISET_PIXELS", 1000 * 600)
    with pytest.raises(NftFormatError, match="too large"):
        read_nft(iset, fset, fset3)


def test_refuses_oversized_files_before_parsing(coffee, monkeypatch):
    monkeypatch.setattr(reader_module, "MAX_FSET3_BYTES", 1000)
    with pytest.raises(NftFormatError, match="larger"):
        read_nft(*coffee)


def test_rejects_an_increasing_dpi_trailer(coffee):
    iset, fset, fset3 = coffee
    broken = iset[:-8] + struct.pack("<ff", 1.0, 2.0)
    with pytest.raises(NftFormatError):
        read_nft(broken, fset, fset3)


def test_rejects_files_from_different_markers(coffee):
    chelsea = [(FIXTURES / f"chelsea.{ext}").read_bytes() for ext in ("iset", "fset", "fset3")]
    # chelsea's levels (1000x665 ...) differ from coffee's (1000x667 ...).
    with pytest.raises(NftFormatError, match="sizes"):
        read_nft(coffee[0], coffee[1], chelsea[2])


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    index=st.integers(0, 2),
    edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=8),
)
def test_random_corruption_only_ever_raises_nft_format_error(coffee, index, edits):
    data = bytearray(coffee[index])
    for where, value in edits:
        data[int(where * len(data))] = value
    with contextlib.suppress(NftFormatError):
        read_nft(*_replace(coffee, index, bytes(data)))


@pytest.mark.parametrize(("byte", "value"), [(83, 0b100), (83, 0x80), (84, 1), (95, 0xFF)])
def test_rejects_each_unused_descriptor_bit(coffee, byte, value):
    iset, fset, fset3 = coffee
    points = np.frombuffer(fset3, FSET3_POINT, count=2844, offset=4).copy()
    points["desc"][5, byte] |= value
    with pytest.raises(NftFormatError, match="666"):
        read_nft(iset, fset, fset3[:4] + points.tobytes() + fset3[4 + points.nbytes :])


def test_accepts_the_two_used_bits_of_byte_83(coffee):
    iset, fset, fset3 = coffee
    points = np.frombuffer(fset3, FSET3_POINT, count=2844, offset=4).copy()
    points["desc"][5, 83] = 0b11
    read_nft(iset, fset, fset3[:4] + points.tobytes() + fset3[4 + points.nbytes :])
