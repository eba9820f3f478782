"""The compact ARV marker (markers/mindar/compact.py): exact round trips, the size budget, and
refusal of damaged or hostile bytes.

The arv viewer engine downloads this file instead of the .mind; static/viewer/arv/marker.js reads
it (jstests/marker.test.mjs runs the same kinds of checks on the JavaScript side).
"""

import contextlib
import gzip
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from markers.mindar import (
    CompactFormatError,
    compact_from_mind,
    compile_mind,
    decode_image,
    pack_compact,
    read_compact,
    to_grey,
)
from markers.mindar.compact import (
    HEADER,
    MAX_FILE_BYTES,
    descriptor_from_ranks,
    descriptor_ranks,
    matching_data,
    tracking_patches,
)
from markers.mindar.reader import parse_targets

FIXTURES = Path(__file__).parent / "fixtures" / "mindar"
MIND_FILES = [
    "card.mind", "pictarize.mind", "astronaut_1000.mind", "coffee_1000.mind", "chelsea_1000.mind",
    "card+pictarize.mind", "card.shipped-browser.mind",
]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def with_crc(data: bytes) -> bytes:
    """The bytes with the header's length and CRC made valid again (reaches the checks behind them)."""
    magic, version, flags, count, _, _ = HEADER.unpack_from(data)
    body = data[HEADER.size :]
    return HEADER.pack(magic, version, flags, count, len(body), zlib.crc32(body)) + body


# --- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MIND_FILES)
def test_the_matching_data_of_every_fixture_survives_exactly(name):
    mind = fixture(name)
    marker = read_compact(compact_from_mind(mind))
    targets = parse_targets(mind)
    assert [t["matchingData"] for t in targets] == matching_data(marker)
    for target, compact in zip(targets, marker.targets, strict=True):
        assert (compact.width, compact.height) == (target["targetImage"]["width"], target["targetImage"]["height"])
        for original, kept in zip(target["trackingData"], compact.tracking_sets, strict=True):
            assert (kept.width, kept.height, kept.scale) == (original["width"], original["height"], original["scale"])
            assert kept.x.tolist() == [p["x"] for p in original["points"]]
            assert kept.y.tolist() == [p["y"] for p in original["points"]]
            # each template is the 13x13 neighbourhood of its point in the tracking image
            image = np.frombuffer(original["data"], dtype=np.uint8).reshape(original["height"], original["width"])
            for i, p in enumerate(original["points"]):
                crop = image[p["y"] - 6 : p["y"] + 7, p["x"] - 6 : p["x"] + 7]
                assert crop.shape == (13, 13) and np.array_equal(kept.patches[i], crop)


def test_the_compiler_output_packs_directly_and_deterministically():
    grey = to_grey(decode_image(fixture("card.png")))
    from markers.mindar import compile_target

    target = compile_target(grey)
    packed = pack_compact([target])
    assert packed == pack_compact([target])
    assert read_compact(packed).targets[0].width == grey.shape[1]


def test_templates_near_the_border_repeat_the_edge():
    image = np.arange(20, dtype=np.uint8).reshape(4, 5)
    patch = tracking_patches(image, np.array([0]), np.array([3]))[0]
    assert patch.shape == (13, 13)
    assert patch[6, 6] == image[3, 0]
    assert (patch[:, :7] == patch[:, [6]]).all()  # columns left of the edge repeat column 0
    assert (patch[9:] == patch[[9]]).all()  # rows below the last one repeat it


def test_values_that_are_not_float32_octave_coordinates_are_kept_in_float64():
    targets = parse_targets(fixture("card.mind"))
    point = targets[0]["matchingData"][0]["maximaPoints"][0]
    point["x"] += 1e-9  # not x_oct * 2^o + 2^(o-1) - 0.5 for any float32 x_oct
    point["angle"] = 0.1  # not a float32 value
    marker = read_compact(pack_compact(targets))
    assert matching_data(marker)[0] == targets[0]["matchingData"]


# --- descriptors -------------------------------------------------------------------------------


def bits_of(order: list[int]) -> np.ndarray:
    """The 21 words a FREAK descriptor has when its 37 samples are ordered as given."""
    position = np.empty(37, dtype=int)
    position[order] = np.arange(37)
    a, b = np.triu_indices(37, k=1)
    return np.packbits(position[a] < position[b]).view(">u4").astype(np.uint32)


@settings(max_examples=200, deadline=None)
@given(st.permutations(list(range(37))))
def test_any_ordering_of_the_samples_round_trips_through_20_bytes(order):
    words = bits_of(order)
    code = descriptor_ranks(words)
    assert code is not None and len(code) == 20
    assert np.array_equal(descriptor_from_ranks(code), words)


def test_descriptors_that_describe_no_ordering_are_stored_raw():
    words = bits_of(list(range(37)))
    cyclic = words.copy()
    # Sample 0 before 1 and 1 before 2 as in the identity ordering, but flip (0, 2), the second
    # comparison (bit 30 of word 0): 2 before 0 closes a cycle no ordering can produce.
    cyclic[0] ^= np.uint32(1 << 30)
    assert descriptor_ranks(cyclic) is None
    targets = parse_targets(fixture("card.mind"))
    targets[0]["matchingData"][0]["maximaPoints"][0]["descriptors"] = cyclic.tolist()
    assert matching_data(read_compact(pack_compact(targets)))[0] == targets[0]["matchingData"]


def test_a_rank_code_out_of_range_is_a_format_error():
    with pytest.raises(CompactFormatError, match="rank code"):
        descriptor_from_ranks(b"\xff" * 20)


# --- size --------------------------------------------------------------------------------------


def photo_512x600(name: str) -> np.ndarray:
    """A fixture photo cropped to the issue's reference size, 512 x 600."""
    image = Image.open(FIXTURES / name).convert("RGB")
    scale = max(512 / image.width, 600 / image.height)
    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    left, top = (image.width - 512) // 2, (image.height - 600) // 2
    return to_grey(np.asarray(image.crop((left, top, left + 512, top + 600))))


@pytest.mark.parametrize("name", ["pictarize.jpg", "astronaut_1000.jpg", "coffee_1000.jpg", "chelsea_1000.jpg"])
def test_a_512x600_photo_fits_the_download_budget(name):
    mind = compile_mind([photo_512x600(name)]).data
    compact = compact_from_mind(mind)
    gzipped = len(gzip.compress(compact, 9))
    # The viewer's first visit must stay under 250 KB with the page, code and preview: the marker
    # gets about 100 KB of it (gzip: every server compresses it on the wire).
    assert gzipped <= 100_000, gzipped
    assert gzipped <= 0.4 * len(gzip.compress(mind, 9))


# --- damaged and hostile input -----------------------------------------------------------------


def test_damaged_files_are_refused_with_a_clear_message():
    good = fixture("card.mind")
    compact = compact_from_mind(good)
    cases = {
        b"": "too short",
        b"ARVM": "too short",
        good: "wrong magic",
        b"<html>" + bytes(32): "wrong magic",
        compact[:4] + b"\x02" + compact[5:]: "version 2",
        compact[:5] + b"\x01" + compact[6:]: "header flags",
        compact[:-1]: "announces",
        compact + b"\x00": "announces",
        compact[:100]: "announces",
        compact[:-10] + bytes([compact[-10] ^ 1]) + compact[-9:]: "checksum",
    }
    for data, message in cases.items():
        with pytest.raises(CompactFormatError, match=message):
            read_compact(data)
    with pytest.raises(CompactFormatError, match="expected the file's bytes"):
        read_compact("ARVM")  # type: ignore[arg-type]
    with pytest.raises(CompactFormatError, match="larger than"):
        read_compact(b"ARVM" + bytes(MAX_FILE_BYTES))


def test_hostile_files_with_a_valid_checksum_are_refused():
    compact = bytearray(compact_from_mind(fixture("card.mind")))

    def patched(offset: int, fmt: str, value) -> bytes:
        data = bytearray(compact)
        struct.pack_into(fmt, data, offset, value)
        return with_crc(bytes(data))

    cases = [
        (patched(6, "<H", 0), "target count"),
        (patched(6, "<H", 3), "ends inside"),
        (patched(16, "<I", 0), "invalid size"),
        (patched(24, "<B", 0), "0 keyframes"),
        (patched(25, "<B", 1), "1 tracking sets"),
        (patched(34, "<d", float("nan")), "invalid scale"),
        (patched(42, "<B", 0x10), "unknown flags"),
        (patched(47, "<B", 0), "octave"),
        (patched(43, "<H", 60000), "ends inside|octave"),
        (with_crc(bytes(compact) + b"\x00\x00"), "unexpected bytes"),
    ]
    for data, message in cases:
        with pytest.raises(CompactFormatError, match=message):
            read_compact(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_corruption_with_a_fixed_checksum_gives_a_marker_or_a_format_error(data):
    compact = compact_from_mind(fixture("card.mind"))
    body = bytearray(compact[HEADER.size :])
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(body) - 1))
        body[position] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        del body[len(body) - data.draw(st.integers(0, len(body))) :]
    damaged = with_crc(compact[: HEADER.size] + bytes(body))
    with contextlib.suppress(CompactFormatError):
        read_compact(damaged)


def test_writing_refuses_what_cannot_be_stored():
    targets = parse_targets(fixture("card.mind"))
    with pytest.raises(ValueError, match="1 to 1000 targets"):
        pack_compact([])
    targets[0]["matchingData"][0]["maximaPoints"][0]["scale"] = 3
    with pytest.raises(ValueError, match="power of two"):
        pack_compact(targets)
