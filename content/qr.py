"""QR codes for a portrait's public URL, made on request (they are tiny and always reflect
SITE_URL). Error correction level Q survives about 25% damage: prints get scratched, folded and
photographed at an angle."""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_Q


def _code(url: str) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, border=4)
    code.add_data(url)
    code.make(fit=True)
    return code


def qr_matrix(url: str) -> list[list[bool]]:
    """Modules including the quiet zone, row-major; True = dark."""
    return _code(url).get_matrix()


def qr_png(url: str, *, box_size: int = 12) -> bytes:
    code = _code(url)
    code.box_size = box_size
    out = io.BytesIO()
    code.make_image(fill_color="black", back_color="white").save(out, format="PNG")
    return out.getvalue()


def qr_svg(url: str) -> bytes:
    code = _code(url)
    out = io.BytesIO()
    code.make_image(image_factory=qrcode.image.svg.SvgPathImage).save(out)
    return out.getvalue()
