"""The print sheet: the photo, its QR code, one line of instructions and the short URL.

Vector PDF from reportlab (crisp QR modules and text at any printer resolution) with an embedded
DejaVu Sans, which covers Cyrillic. Pure: bytes in, bytes out.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from django.utils.translation import gettext_lazy
from PIL import Image
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from content.qr import qr_matrix

FONT_PATH = Path(__file__).resolve().parent / "fonts" / "DejaVuSans.ttf"
FONT = "DejaVuSans"
# The line printed next to the QR code, on single sheets and on a batch's sheets alike.
INSTRUCTION = gettext_lazy("Scan the QR code, then point your camera at the photo.")


@dataclass(frozen=True)
class SheetFormat:
    key: str
    width: float  # points
    height: float
    margin: float
    qr: float
    font_size: float


FORMATS = {
    "a4": SheetFormat("a4", 210 * mm, 297 * mm, 15 * mm, 40 * mm, 12),
    # The common 10×15 cm photo card.
    "card": SheetFormat("card", 100 * mm, 150 * mm, 6 * mm, 24 * mm, 7.5),
}


def _register_font() -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT, str(FONT_PATH)))


def _draw_qr(pdf: canvas.Canvas, url: str, x: float, y: float, size: float) -> None:
    matrix = qr_matrix(url)
    n = len(matrix)
    cell = size / n
    pdf.setFillColorRGB(1, 1, 1)
    pdf.rect(x, y, size, size, stroke=0, fill=1)
    pdf.setFillColorRGB(0, 0, 0)
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                # Slight overlap so no hairline gaps appear between modules when printed.
                pdf.rect(x + c * cell, y + size - (r + 1) * cell, cell * 1.02, cell * 1.02, stroke=0, fill=1)


def _fits(text: str, width: float, size: float) -> bool:
    return pdfmetrics.stringWidth(text, FONT, size) <= width


def _split_long(word: str, width: float, size: float) -> list[str]:
    """Break a word wider than the line (a URL) into pieces that fit."""
    pieces, piece = [], ""
    for char in word:
        if piece and not _fits(piece + char, width, size):
            pieces.append(piece)
            piece = ""
        piece += char
    return [*pieces, piece] if piece else pieces


def _wrap(text: str, width: float, size: float) -> list[str]:
    words, lines, line = [], [], ""
    for word in text.split():
        words.extend(_split_long(word, width, size) if not _fits(word, width, size) else [word])
    for word in words:
        candidate = f"{line} {word}".strip()
        if pdfmetrics.stringWidth(candidate, FONT, size) <= width or not line:
            line = candidate
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines


def _draw_brand(pdf: canvas.Canvas, spec: SheetFormat, *, name: str, logo: bytes | None, top: float, h: float) -> None:
    """The studio's logo (fitted to the strip's height) and name, left-aligned in a strip whose
    top edge is *top*."""
    x = spec.margin
    if logo:
        try:
            reader = ImageReader(io.BytesIO(logo))
            lw, lh = reader.getSize()
            scale = min(h / lh, (spec.width - 2 * spec.margin) / 2 / lw)
            pdf.drawImage(reader, x, top - lh * scale, lw * scale, lh * scale, mask="auto")
            x += lw * scale + spec.margin * 0.5
        except (OSError, ValueError):
            pass  # an unreadable logo leaves the name alone on the sheet
    if name:
        size = spec.font_size * 1.2
        pdf.setFont(FONT, size)
        pdf.setFillColorRGB(0, 0, 0)
        width = spec.width - spec.margin - x
        line = _wrap(name, width, size)[0] if name else ""
        pdf.drawString(x, top - h / 2 - size / 3, line)


def print_sheet_pdf(
    *,
    image: bytes,
    url: str,
    instruction: str,
    title: str = "",
    fmt: str = "a4",
    creator: str = "ARV",
    brand_name: str = "",
    brand_logo: bytes | None = None,
) -> bytes:
    """The sheet; with a brand name or logo, a strip across the top carries them and the PDF's
    creator is the studio (*creator*), so nothing on or in it names the platform."""
    spec = FORMATS[fmt]
    _register_font()
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=(spec.width, spec.height), pageCompression=1)
    pdf.setTitle(title or url)
    pdf.setCreator(creator)
    pdf.setAuthor(creator)
    pdf.setProducer(creator)

    inner_w = spec.width - 2 * spec.margin
    footer_h = spec.qr + spec.margin
    header_h = spec.qr * 0.35 if (brand_name or brand_logo) else 0.0
    if header_h:
        _draw_brand(pdf, spec, name=brand_name, logo=brand_logo, top=spec.height - spec.margin, h=header_h)
        header_h += spec.margin * 0.5
    photo_box_h = spec.height - 2 * spec.margin - footer_h - header_h
    with Image.open(io.BytesIO(image)) as img:
        iw, ih = img.size
    scale = min(inner_w / iw, photo_box_h / ih)
    pw, ph = iw * scale, ih * scale
    px = (spec.width - pw) / 2
    py = spec.margin + footer_h + (photo_box_h - ph) / 2
    pdf.drawImage(ImageReader(io.BytesIO(image)), px, py, pw, ph)

    qx, qy = spec.margin, spec.margin
    _draw_qr(pdf, url, qx, qy, spec.qr)
    text_x = qx + spec.qr + spec.margin * 0.6
    text_w = spec.width - spec.margin - text_x
    pdf.setFillColorRGB(0, 0, 0)
    lines = _wrap(instruction, text_w, spec.font_size)
    y = qy + spec.qr - spec.font_size
    pdf.setFont(FONT, spec.font_size)
    for line in lines:
        pdf.drawString(text_x, y, line)
        y -= spec.font_size * 1.3
    small = spec.font_size * 0.8
    pdf.setFont(FONT, small)
    pdf.setFillColorRGB(0.25, 0.25, 0.25)
    for line in _wrap(url, text_w, small):
        y -= small * 0.3
        pdf.drawString(text_x, y, line)
        y -= small * 1.3
    pdf.showPage()
    pdf.save()
    return out.getvalue()
