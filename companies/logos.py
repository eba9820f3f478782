"""The studio's logo: checked and re-encoded (nothing of the uploaded file's bytes is kept), then
stored through the company's storage and quota like any upload. The portal's brand page and the
back office both call these."""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, ImageOps

from companies.models import Company
from companies.quota import release_files, staged, unique_name
from lib.images import DECODE_ERRORS, damaged_image, icc_to_srgb, read_head, sniff_image
from lib.storage import write_new

logger = logging.getLogger(__name__)

LOGO_MAX_BYTES = 2 * 1024 * 1024
LOGO_MAX_SIDE = 4096
LOGO_MIN_SIDE = 16
# Stored logos fit this box: plenty for a phone screen and a print sheet's corner.
LOGO_BOX = 512


@dataclass(frozen=True)
class ValidatedLogo:
    data: bytes  # PNG, re-encoded by us: nothing of the uploaded file's bytes survives
    width: int
    height: int

    @property
    def size(self) -> int:
        return len(self.data)


def _looks_like_markup(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return text.startswith((b"<?xml", b"<svg", b"<!doctype", b"<html", b"<!--"))


def validate_logo(upload: UploadedFile) -> ValidatedLogo:
    """A PNG, JPEG or WebP logo, decoded and re-encoded as a PNG that fits LOGO_BOX.

    SVG is refused: it is a document that can carry scripts and links, and re-encoding it safely
    would need a renderer. Transparency is kept (logos sit on coloured pages).
    """
    if not upload.size:
        raise ValidationError(_("The file is empty."), code="empty")
    if upload.size > LOGO_MAX_BYTES:
        raise ValidationError(
            _("The logo is %(size)s; the limit is %(limit)s.")
            % {"size": filesizeformat(upload.size), "limit": filesizeformat(LOGO_MAX_BYTES)},
            code="too_large",
        )
    head = read_head(upload, 256)
    kind = sniff_image(head)
    if kind is None and _looks_like_markup(head):
        raise ValidationError(
            _("SVG and other markup files are not accepted as logos: export the logo as PNG."), code="svg"
        )
    if kind not in ("PNG", "JPEG", "WEBP"):
        raise ValidationError(_("Upload the logo as a PNG, JPEG or WebP image."), code="not_image")
    upload.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(upload)
            width, height = img.size
            if max(width, height) > LOGO_MAX_SIDE or width * height > LOGO_MAX_SIDE * LOGO_MAX_SIDE // 4:
                raise ValidationError(
                    _("The logo is %(w)d×%(h)d px; it may be at most %(max)d px on its long side.")
                    % {"w": width, "h": height, "max": LOGO_MAX_SIDE // 2},
                    code="too_big",
                )
            if min(width, height) < LOGO_MIN_SIDE:
                raise ValidationError(
                    _("The logo is %(w)d×%(h)d px; it must be at least %(min)d px on each side.")
                    % {"w": width, "h": height, "min": LOGO_MIN_SIDE},
                    code="too_small",
                )
            if getattr(img, "n_frames", 1) > 1:
                raise ValidationError(_("Animated logos are not supported: upload a still image."), code="animated")
            img.load()
            img = ImageOps.exif_transpose(img)
            has_alpha = img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in img.info
            icc = img.info.get("icc_profile")
            img = img.convert("RGBA" if has_alpha else "RGB")
            img = icc_to_srgb(img, icc, img.mode)
            img.thumbnail((LOGO_BOX, LOGO_BOX), Image.Resampling.LANCZOS)
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationError(_("The logo has far too many pixels."), code="too_many_pixels") from None
    except DECODE_ERRORS:
        raise damaged_image() from None
    out = io.BytesIO()
    img.save(out, "PNG", optimize=True)
    return ValidatedLogo(data=out.getvalue(), width=img.width, height=img.height)


def set_company_logo(*, company: Company, logo: ValidatedLogo) -> Company:
    """Store a validated logo as the company's, through its storage and quota like any upload;
    the previous logo's file goes once the row points at the new one."""
    name = unique_name(f"{company.path_prefix}/brand", "logo", "png")
    with staged(company, {name: logo.size}) as (pending, storage):
        write_new(storage, name, ContentFile(logo.data))
        with transaction.atomic():
            old = Company.objects.select_for_update().only("brand_logo", "brand_logo_bytes").get(pk=company.pk)
            Company.objects.filter(pk=company.pk).update(
                brand_logo=name,
                brand_logo_width=logo.width,
                brand_logo_height=logo.height,
                brand_logo_bytes=logo.size,
                updated_at=timezone.now(),
            )
            pending.delete()
            old_name, old_bytes = old.brand_logo.name, old.brand_logo_bytes
            if old_name:
                transaction.on_commit(lambda: release_files(company, [old_name], old_bytes))
    company.refresh_from_db()
    return company


def remove_company_logo(*, company: Company) -> Company:
    with transaction.atomic():
        old = Company.objects.select_for_update().only("brand_logo", "brand_logo_bytes").get(pk=company.pk)
        Company.objects.filter(pk=company.pk).update(
            brand_logo="", brand_logo_width=0, brand_logo_height=0, brand_logo_bytes=0, updated_at=timezone.now()
        )
        old_name, old_bytes = old.brand_logo.name, old.brand_logo_bytes
        if old_name:
            transaction.on_commit(lambda: release_files(company, [old_name], old_bytes))
    company.refresh_from_db()
    return company
