"""decode_image / to_grey: the decoding rules of markers/mindar/decode.py, and hostile uploads."""

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from markers.mindar import ImageDecodeError, decode_image, to_grey

FIXTURES = Path(__file__).parent / "fixtures" / "mindar"


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def png_bytes(width: int, height: int, bit_depth: int, colour_type: int, rows: bytes) -> bytes:
    """A PNG written by hand, for sample formats Pillow cannot save and for lying headers."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    body = chunk(b"IHDR", header)
    if rows:
        body += chunk(b"IDAT", zlib.compress(rows))
    return b"\x89PNG\r\n\x1a\n" + body + chunk(b"IEND", b"")


def gradient_rgb(width=320, height=280) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x % 256, y % 256, (x + y) % 256], axis=2).astype(np.uint8)


# --- good inputs -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "TIFF", "WEBP"])
def test_lossless_formats_decode_to_the_same_rgb_pixels(fmt):
    pixels = gradient_rgb()
    params = {"lossless": True} if fmt == "WEBP" else {}
    decoded = decode_image(encode(Image.fromarray(pixels), fmt, **params))
    assert decoded.dtype == np.uint8
    assert decoded.shape == (280, 320, 3)
    assert np.array_equal(decoded, pixels)


def test_jpeg_decodes_to_rgb():
    decoded = decode_image((FIXTURES / "pictarize.jpg").read_bytes())
    assert decoded.shape == (800, 800, 3)
    assert decoded.dtype == np.uint8


def test_exif_orientation_is_applied_by_default_and_can_be_ignored():
    # card.png carries EXIF orientation 6 ("rotate 90 degrees clockwise to display").
    data = (FIXTURES / "card.png").read_bytes()
    as_stored = decode_image(data, apply_exif=False)
    upright = decode_image(data)
    assert as_stored.shape == (372, 674, 3)
    assert upright.shape == (674, 372, 3)
    assert np.array_equal(upright, np.rot90(as_stored, k=-1))


def test_jpeg_exif_orientation_3_turns_the_photo_upside_down():
    pixels = gradient_rgb()
    exif = Image.Exif()
    exif[0x0112] = 3
    data = encode(Image.fromarray(pixels), "PNG", exif=exif.tobytes())
    assert np.array_equal(decode_image(data), pixels[::-1, ::-1])


def test_unreadable_exif_block_does_not_reject_the_photo():
    pixels = gradient_rgb()
    data = encode(Image.fromarray(pixels), "PNG", exif=b"Exif\x00\x00garbage-not-tiff")
    assert np.array_equal(decode_image(data), pixels)


def test_transparency_is_composited_on_white():
    rgba = np.zeros((260, 260, 4), dtype=np.uint8)
    rgba[..., 0] = 255  # red everywhere
    rgba[:, :100, 3] = 0  # fully transparent: paper white
    rgba[:, 100:200, 3] = 128  # half transparent red over white
    rgba[:, 200:, 3] = 255
    decoded = decode_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert decoded[0, 0].tolist() == [255, 255, 255]
    assert decoded[0, 150].tolist() == [255, 127, 127]
    assert decoded[0, 250].tolist() == [255, 0, 0]


def test_greyscale_with_alpha_is_composited_on_white():
    la = np.zeros((256, 256, 2), dtype=np.uint8)
    la[:, 128:, 1] = 255
    decoded = decode_image(encode(Image.fromarray(la, "LA"), "PNG"))
    assert decoded[0, 0].tolist() == [255, 255, 255]
    assert decoded[0, 200].tolist() == [0, 0, 0]


def test_palette_transparency_is_composited_on_white():
    image = Image.new("P", (256, 256), 1)
    image.putpalette([0, 0, 0, 10, 20, 30] + [0] * (256 * 3 - 6))
    image.paste(0, (0, 0, 128, 256))
    decoded = decode_image(encode(image, "GIF", transparency=0))
    assert decoded[5, 5].tolist() == [255, 255, 255]
    assert decoded[5, 200].tolist() == [10, 20, 30]


def test_palette_image_is_expanded_to_rgb():
    image = Image.new("P", (256, 256), 2)
    image.putpalette([0, 0, 0, 0, 0, 0, 200, 100, 50] + [0] * (256 * 3 - 9))
    assert decode_image(encode(image, "PNG"))[7, 7].tolist() == [200, 100, 50]


def test_greyscale_and_bilevel_images_become_three_equal_channels():
    grey = np.full((256, 300), 77, dtype=np.uint8)
    assert decode_image(encode(Image.fromarray(grey), "PNG"))[0, 0].tolist() == [77, 77, 77]
    bilevel = Image.new("1", (300, 256), 1)
    assert decode_image(encode(bilevel, "PNG"))[0, 0].tolist() == [255, 255, 255]


def test_sixteen_bit_greyscale_keeps_the_high_byte():
    samples = np.full((256, 256), 0x1234, dtype=">u2")
    rows = b"".join(b"\x00" + row.tobytes() for row in samples)
    decoded = decode_image(png_bytes(256, 256, 16, 0, rows))
    assert decoded[0, 0].tolist() == [0x12, 0x12, 0x12]


def test_sixteen_bit_rgba_keeps_the_high_byte_and_composites_on_white():
    samples = np.zeros((256, 256, 4), dtype=">u2")
    samples[...] = (0xFF00, 0x8000, 0x0100, 0xFFFF)
    rows = b"".join(b"\x00" + row.tobytes() for row in samples)
    decoded = decode_image(png_bytes(256, 256, 16, 6, rows))
    assert decoded[0, 0].tolist() == [0xFF, 0x80, 0x01]


def test_cmyk_jpeg_is_converted_to_rgb():
    image = Image.new("CMYK", (300, 260), (0, 255, 255, 0))  # pure red ink mix
    decoded = decode_image(encode(image, "JPEG", quality=100))
    r, g, b = decoded[100, 100].tolist()
    assert r > 240
    assert g < 15
    assert b < 15


def test_icc_profile_is_ignored():
    pixels = gradient_rgb()
    profile = Image.open(FIXTURES / "card.png").info["icc_profile"]
    with_profile = encode(Image.fromarray(pixels), "PNG", icc_profile=profile)
    assert np.array_equal(decode_image(with_profile), pixels)


def test_animated_image_uses_its_first_frame():
    frames = [Image.new("RGB", (260, 260), colour) for colour in ((200, 0, 0), (0, 0, 200))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    assert decode_image(buffer.getvalue())[0, 0].tolist() == [200, 0, 0]


# --- refused inputs ----------------------------------------------------------------------------


def test_empty_file_is_refused():
    with pytest.raises(ImageDecodeError, match="empty"):
        decode_image(b"")


def test_truncated_jpeg_is_refused():
    data = (FIXTURES / "pictarize.jpg").read_bytes()
    with pytest.raises(ImageDecodeError, match="damaged"):
        decode_image(data[: len(data) // 3])


def test_png_cut_inside_its_header_is_refused():
    data = encode(Image.fromarray(gradient_rgb()), "PNG")
    with pytest.raises(ImageDecodeError):
        decode_image(data[:20])


@pytest.mark.parametrize(
    "data",
    [
        b"<!DOCTYPE html><html><body>Not a photo</body></html>",
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="800" height="600">'
        b'<rect width="800" height="600" fill="red"/></svg>',
        b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n",
        b"PK\x03\x04" + b"\x00" * 100,
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 800 600\n",
        b"\x00" * 1000,
    ],
    ids=["html-renamed-jpg", "svg", "pdf", "zip", "eps", "zeros"],
)
def test_files_that_are_not_supported_photos_are_refused(data):
    with pytest.raises(ImageDecodeError, match="not a photo we can read"):
        decode_image(data)


def test_format_pillow_reads_but_we_do_not_accept_is_refused():
    data = encode(Image.fromarray(gradient_rgb()), "PPM")  # Pillow reads PPM; we do not accept it
    with pytest.raises(ImageDecodeError, match="not a photo we can read"):
        decode_image(data)


@pytest.mark.parametrize(
    ("width", "height"),
    [(8000, 7000), (12000, 9000), (40000, 40000)],
    ids=["56MP-our-limit", "108MP-pillow-warning", "1600MP-pillow-error"],
)
def test_huge_header_claims_are_refused_without_decoding(width, height):
    # No pixel data at all: only the header is read, nothing is allocated for the pixels.
    data = png_bytes(width, height, 8, 2, b"")
    with pytest.raises(ImageDecodeError, match="too many pixels"):
        decode_image(data)


def test_photo_with_a_short_side_under_256_px_is_refused():
    data = encode(Image.fromarray(gradient_rgb(width=400, height=200)), "PNG")
    with pytest.raises(ImageDecodeError, match=r"too small.*256"):
        decode_image(data)


def test_32_bit_float_image_is_refused():
    image = Image.fromarray(np.zeros((260, 260), dtype=np.float32), "F")
    with pytest.raises(ImageDecodeError, match="32-bit"):
        decode_image(encode(image, "TIFF"))


def test_decode_error_is_a_value_error():
    assert issubclass(ImageDecodeError, ValueError)


def test_non_bytes_argument_is_a_programming_error():
    with pytest.raises(TypeError):
        decode_image("card.png")


# --- grey conversion ---------------------------------------------------------------------------


def test_grey_is_the_floored_mean_of_the_three_channels():
    rgb = np.array([[[1, 1, 2], [255, 255, 255], [254, 255, 255], [0, 0, 2]]], dtype=np.uint8)
    assert to_grey(rgb).tolist() == [[1, 255, 254, 0]]
    assert to_grey(rgb).dtype == np.uint8


def test_grey_refuses_anything_but_rgb_uint8():
    with pytest.raises(ValueError, match="H x W x 3"):
        to_grey(np.zeros((4, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="H x W x 3"):
        to_grey(np.zeros((4, 4, 3), dtype=np.float32))
