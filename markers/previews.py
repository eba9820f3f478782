"""Preview images: pure functions from pixels to WebP bytes (no Django, no storage)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

PREVIEW_SIZE = 300


def _fit(img: Image.Image, size: int) -> Image.Image:
    """*img* scaled to fit a size×size square without distortion, centred on transparency."""
    img = img.convert("RGB")
    img.thumbnail((size, size), Image.Resampling.LANCZOS)
    canvas = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    canvas.paste(img, ((size - img.width) // 2, (size - img.height) // 2))
    return canvas


def _webp(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "WEBP", quality=82, method=4)
    return out.getvalue()


def image_preview(data: bytes, *, size: int = PREVIEW_SIZE) -> bytes:
    with Image.open(io.BytesIO(data)) as img:
        img.draft("RGB", (size * 2, size * 2))  # JPEG: decode at reduced scale, much faster
        return _webp(_fit(img, size))


def video_poster(frame_rgb: np.ndarray, *, size: int = PREVIEW_SIZE) -> bytes:
    """A poster from a decoded frame (H×W×3 RGB), with a play button drawn on it."""
    canvas = _fit(Image.fromarray(frame_rgb), size)
    overlay = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    r = size // 7
    cx = cy = size // 2
    draw.ellipse(
        (cx - r, cy - r, cx + r, cy + r), fill=(0, 0, 0, 140), outline=(255, 255, 255, 230), width=max(2, r // 10)
    )
    t = r * 0.55
    draw.polygon([(cx - t * 0.6, cy - t), (cx - t * 0.6, cy + t), (cx + t, cy)], fill=(255, 255, 255, 240))
    return _webp(Image.alpha_composite(canvas, overlay))
