"""The AR.js NFT marker of a photo: three files (.iset, .fset, .fset3) sharing a stem."""

from __future__ import annotations

import io

import numpy as np
from django.core.files.base import ContentFile
from django.utils.translation import gettext_noop
from PIL import Image

from companies.storage import storage_for_company
from lib.storage import delete_quietly, write_new
from markers import nft
from markers.handlers.base import Outcome, PermanentJobError, output_stem, read_input, reusable
from markers.models import Job

# NFT generation needs ~60 bytes per pixel and time in proportion; photos are tracked from a
# phone's camera at far below this resolution, so larger ones are scaled down first (the DPI is
# scaled with them, so the marker's size in millimetres stays the same).
NFT_MAX_PIXELS = 2_500_000


def nft_names(stem: str) -> dict[str, str]:
    return {ext: f"{stem}.{ext}" for ext in ("iset", "fset", "fset3")}


def compile_nft(job: Job) -> Outcome:
    portrait = job.portrait
    storage = storage_for_company(portrait.company)
    sha256 = portrait.image_sha256
    version = nft.GENERATOR_VERSION
    source = reusable(job, sha256, version)
    if source is job:
        return Outcome(input_sha256=sha256, compiler_version=version, report=job.report)
    names = nft_names(output_stem(job))
    if source is not None:
        source_stem = source.output.name.rsplit(".", 1)[0]
        files = {ext: read_input(storage, name) for ext, name in nft_names(source_stem).items()}
        report = source.report
    else:
        data = read_input(storage, portrait.image.name)
        try:
            with Image.open(io.BytesIO(data)) as img:
                dpi = nft.dpi_from_image_info(img.info)
                rgb = img.convert("RGB")
        except OSError as exc:
            raise PermanentJobError(gettext_noop("The photo could not be read to make its AR.js marker.")) from exc
        pixels = rgb.width * rgb.height
        if pixels > NFT_MAX_PIXELS:
            factor = (NFT_MAX_PIXELS / pixels) ** 0.5
            rgb = rgb.resize(
                (max(1, round(rgb.width * factor)), max(1, round(rgb.height * factor))), Image.Resampling.LANCZOS
            )
            dpi = max(1.0, float(round(dpi * factor)))
        result = nft.generate_nft(np.asarray(rgb), dpi=dpi)
        files = {"iset": result.iset, "fset": result.fset, "fset3": result.fset3}
        report = {
            "width": result.width,
            "height": result.height,
            "dpi": result.dpi,
            "scales": len(result.scales),
            "fset_points": sum(scale.fset_points for scale in result.scales),
            "fset3_points": sum(scale.fset3_points for scale in result.scales),
        }
    size = 0
    written = []
    try:
        for ext, name in names.items():
            size += write_new(storage, name, ContentFile(files[ext]))
            written.append(name)
    except BaseException:
        delete_quietly(storage, written)
        raise
    return Outcome(names["iset"], size, sha256, version, report, reused_from=source)
