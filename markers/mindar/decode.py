"""Turn an uploaded file into the RGB pixels the compiler works on.

Decoding rules (each one is tested in ``markers/tests/test_mindar_decode.py``):

* **Formats**: JPEG (camera MPO files included), PNG, WebP, AVIF, GIF, BMP and TIFF. Pillow is
  told to try only these, so a hostile upload never reaches a rarely used parser (EPS would even
  start Ghostscript). Anything else, including SVG, HTML renamed to ``.jpg`` and empty or
  truncated files, raises :class:`ImageDecodeError`. Multi-frame files use their first frame.
* **Size limits**: more than :data:`MAX_PIXELS` (50 MP) is refused from the header alone, before
  any pixel memory is allocated. A short side under :data:`MIN_SHORT_SIDE` (256 px) is refused:
  the official compiler box-resizes every target to a 256 px short side for its first tracking
  set and *upscaling* leaves that set with black lines and no tracking points.
* **EXIF orientation** is applied by default, because the product stores photos upright, the way
  they are printed. ``apply_exif=False`` reproduces the official Node compiler (node-canvas does
  not rotate), which is what the parity tests use.
* **Transparency** is composited on **white**: a print is on white paper, so a transparent area is
  white where the camera looks. (node-canvas would hand back black for fully transparent pixels,
  drawing edges that are not on the print.) The blend is ``round((c*a + 255*(255-a)) / 255)``.
* **Palette, greyscale and bilevel** images are expanded to RGB. **16-bit** samples keep their high
  byte, as libpng's ``strip_16`` (used by cairo, hence node-canvas) and Pillow's own 16-bit RGB
  reader do. **CMYK** uses Pillow's plain conversion (Adobe-inverted JPEGs are handled by Pillow's
  decoder). **ICC profiles are ignored**, like the official Node compiler; 32-bit integer and float
  images are refused (no photo studio produces them).

:func:`to_grey` is the official compiler's grey conversion, ``floor((R+G+B)/3)``, not a luma
formula: the matching data must be computed from exactly the same grey levels.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 50_000_000
MIN_SHORT_SIDE = 256

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "AVIF", "GIF", "BMP", "TIFF")

_EXIF_ORIENTATION_TAG = 0x0112
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_BAND_ROWS = 256


class ImageDecodeError(ValueError):
    """The upload cannot be used as a marker photo; ``str(error)`` is shown to the user."""


def decode_image(data: bytes, *, apply_exif: bool = True) -> np.ndarray:
    """Decode an image file into an ``H x W x 3`` uint8 RGB array (see the module rules)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"decode_image expects the file's bytes, not {type(data).__name__}")
    if not data:
        raise ImageDecodeError("The file is empty.")
    with warnings.catch_warnings():
        # Pillow only *warns* between 89 and 179 MP; make that a refusal like everything > 50 MP.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _too_many_pixels() from exc
        except UnidentifiedImageError as exc:
            raise ImageDecodeError(
                "This file is not a photo we can read. Please upload a JPEG, PNG or WebP image."
            ) from exc
        except Exception as exc:  # Pillow raises many types on malformed headers
            raise ImageDecodeError("This image file is damaged and cannot be read.") from exc

        width, height = image.size
        if width * height > MAX_PIXELS:
            raise _too_many_pixels()
        if min(width, height) < MIN_SHORT_SIDE:
            raise ImageDecodeError(
                f"This photo is too small ({width}x{height} pixels). The shorter side must be at "
                f"least {MIN_SHORT_SIDE} pixels, otherwise the camera has too few details to "
                "follow it."
            )
        try:
            with image:  # release the decoder's copy of the pixels as soon as we have ours
                image.seek(0)
                image.load()
                upright = _upright(image) if apply_exif else image
                return _to_rgb(upright)
        except ImageDecodeError:
            raise
        except Exception as exc:  # truncated data, bad compression streams, decoder errors
            raise ImageDecodeError("This image file is damaged or incomplete.") from exc


def to_grey(rgb: np.ndarray) -> np.ndarray:
    """``floor((R+G+B)/3)`` as uint8, exactly as the official compiler does."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError("to_grey expects an H x W x 3 uint8 array")
    total = rgb[:, :, 0].astype(np.uint16)
    total += rgb[:, :, 1]
    total += rgb[:, :, 2]
    return (total // 3).astype(np.uint8)


def _too_many_pixels() -> ImageDecodeError:
    return ImageDecodeError(
        f"This photo has too many pixels (more than {MAX_PIXELS // 1_000_000} megapixels). "
        "Please upload a smaller version."
    )


def _upright(image: Image.Image) -> Image.Image:
    try:
        orientation = image.getexif().get(_EXIF_ORIENTATION_TAG, 1)
    except Exception:  # a corrupt EXIF block must not make the photo unusable
        return image
    if orientation in (2, 3, 4, 5, 6, 7, 8):
        return ImageOps.exif_transpose(image)
    return image


def _to_rgb(image: Image.Image) -> np.ndarray:
    if image.mode in ("I", "F"):
        raise ImageDecodeError(
            "This image stores its pixels as 32-bit numbers, which is not a photo format we "
            "support. Please export it as an 8-bit JPEG or PNG."
        )
    transparent = image.mode in _ALPHA_MODES or "transparency" in image.info
    width, height = image.size
    rgb = np.empty((height, width, 3), dtype=np.uint8)
    # Converting band by band keeps Pillow's intermediate copies small for 50 MP photos.
    for top in range(0, height, _BAND_ROWS):
        bottom = min(top + _BAND_ROWS, height)
        rgb[top:bottom] = _band_to_rgb(image.crop((0, top, width, bottom)), transparent)
    return rgb


def _band_to_rgb(band: Image.Image, transparent: bool) -> np.ndarray:
    if band.mode.startswith("I;16"):
        return (np.asarray(band, dtype=np.uint16) >> 8).astype(np.uint8)[:, :, None]
    if transparent:
        rgba = np.asarray(band.convert("RGBA"), dtype=np.uint32)
        alpha = rgba[:, :, 3:4]
        return (rgba[:, :, :3] * alpha + 255 * (255 - alpha) + 127) // 255
    if band.mode != "RGB":
        band = band.convert("RGB")
    return np.asarray(band)
