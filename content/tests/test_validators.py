"""The bad-file corpus: each gets a clear message (and, in test_uploads, no row and no file)."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from arv.testing import media
from arv.testing.factories import jpeg_bytes
from content.validators import validate_image, validate_video


def upload(data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def refused(data: bytes, name="photo.jpg", validator=validate_image) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        validator(upload(data, name))
    return info.value


BAD_IMAGES = {
    "zero bytes": (b"", "file is empty."),
    "truncated JPEG": (jpeg_bytes()[:5000], "damaged or incomplete"),
    "HTML as .jpg": (b"<!doctype html><html><script>alert(1)</script></html>", "not a photo we can use"),
    "SVG": (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="900" height="900"/>',
        "not a photo we can use",
    ),
    "1x1 PNG": (media.png_bytes(1, 1), "short side must be at least 480 px"),
    "PNG claiming 100000x100000": (media.png_claiming(100000, 100000), "megapixels"),
    "PNG claiming 9000x500": (media.png_claiming(9000, 600), "long side may be at most 8192 px"),
    "animated GIF": (media.animated_gif(), "GIF images are not supported"),
    "random bytes": (bytes(range(256)) * 40, "not a photo we can use"),
    "JPEG header then garbage": (b"\xff\xd8\xff\xe0" + b"\x00" * 5000, "damaged or incomplete"),
}


@pytest.mark.parametrize("case", list(BAD_IMAGES))
def test_bad_images_are_refused_with_a_clear_message(case):
    data, message = BAD_IMAGES[case]
    error = refused(data)
    assert message in " ".join(error.messages)


def test_size_limit_is_configurable(settings):
    settings.UPLOAD_MAX_MB = 1
    error = refused(b"\xff\xd8\xff" + b"\x00" * (1024 * 1024 + 1))
    assert "the limit is 1.0\xa0MB" in error.messages[0]


def test_a_good_jpeg_is_normalised():
    result = validate_image(upload(jpeg_bytes(900, 700)))
    assert (result.width, result.height, result.source_format) == (900, 700, "JPEG")
    img = Image.open(io.BytesIO(result.data))
    assert img.format == "JPEG" and img.mode == "RGB"
    assert len(result.sha256) == 64


def test_exif_rotated_jpeg_is_stored_upright_without_exif():
    result = validate_image(upload(media.exif_rotated_jpeg(800, 600)))
    assert (result.width, result.height) == (600, 800)
    img = Image.open(io.BytesIO(result.data))
    assert img.size == (600, 800)
    assert not img.getexif().get(0x0112)


def test_cmyk_jpeg_becomes_rgb():
    result = validate_image(upload(media.cmyk_jpeg()))
    assert Image.open(io.BytesIO(result.data)).mode == "RGB"


def test_sixteen_bit_png_is_scaled_not_clipped():
    result = validate_image(upload(media.png_bytes(640, 480, mode="I;16"), "deep.png"))
    img = Image.open(io.BytesIO(result.data))
    extrema = img.convert("L").getextrema()
    # Clipping would leave almost everything at 255.
    assert extrema[0] < 50 and img.convert("L").histogram()[255] < 640 * 480 * 0.2


def test_transparent_png_is_flattened_on_white():
    img = Image.new("RGBA", (600, 600), (0, 0, 0, 0))
    img.paste((200, 0, 0, 255), (100, 100, 300, 300))
    out = io.BytesIO()
    img.save(out, "PNG")
    result = validate_image(upload(out.getvalue(), "logo.png"))
    flat = Image.open(io.BytesIO(result.data)).convert("RGB")
    assert flat.getpixel((5, 5))[0] > 245 and flat.getpixel((5, 5))[1] > 245  # white paper
    assert flat.getpixel((200, 200))[0] > 180 and flat.getpixel((200, 200))[1] < 40


def test_webp_is_accepted():
    out = io.BytesIO()
    Image.open(io.BytesIO(jpeg_bytes())).save(out, "WEBP", quality=80)
    assert validate_image(upload(out.getvalue(), "p.webp")).source_format == "WEBP"


def test_heic_is_accepted():
    pillow_heif = pytest.importorskip("pillow_heif")
    img = Image.open(io.BytesIO(jpeg_bytes()))
    out = io.BytesIO()
    pillow_heif.from_pillow(img).save(out, quality=80)
    assert validate_image(upload(out.getvalue(), "IMG_0001.HEIC")).source_format == "HEIF"


# --- Videos -------------------------------------------------------------------------------------------


def test_a_real_mp4_is_probed(tmp_path):
    video = validate_video(
        upload(media.mp4_bytes(tmp_path, seconds=2, size=(320, 240), fps=15), "clip.mp4", "video/mp4")
    )
    try:
        assert (video.width, video.height) == (320, 240)
        assert 1.8 <= video.duration <= 2.2
        assert video.fps == pytest.approx(15, abs=0.5)
        assert video.mime_type == "video/mp4" and video.extension == "mp4"
        assert video.path.exists()
    finally:
        video.cleanup()
    assert not video.path.exists()


BAD_VIDEOS = {
    "zero bytes": (b"", "file is empty."),
    "text as .mp4": (b"this is not a video at all\n" * 50, "not a video we can use"),
    "HTML as .mp4": (b"<html><body>hi</body></html>", "not a video we can use"),
    "MP4 header then garbage": (b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 4000, "cannot be played"),
}


@pytest.mark.parametrize("case", list(BAD_VIDEOS))
def test_bad_videos_are_refused(case):
    data, message = BAD_VIDEOS[case]
    error = refused(data, "clip.mp4", validate_video)
    assert message in " ".join(error.messages)


def test_truncated_mp4_is_refused(tmp_path):
    data = media.mp4_bytes(tmp_path, seconds=2)
    error = refused(data[: len(data) // 2], "clip.mp4", validate_video)
    assert "cannot be played" in error.messages[0] or "no length" in error.messages[0]


def test_video_duration_limit(tmp_path, settings):
    settings.VIDEO_MAX_SECONDS = 1
    error = refused(media.mp4_bytes(tmp_path, seconds=2), "clip.mp4", validate_video)
    assert "the limit is 0:01" in error.messages[0]


def test_video_size_limit(settings):
    settings.VIDEO_MAX_MB = 1
    error = refused(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * (1024 * 1024), "big.mp4", validate_video)
    assert "the limit is 1.0\xa0MB" in error.messages[0]


def test_no_temp_file_is_left_behind_by_a_refused_video(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    refused(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 4000, "clip.mp4", validate_video)
    assert list(tmp_path.iterdir()) == []
