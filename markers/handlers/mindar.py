"""The MindAR marker (.mind) of a photo, compiled by our own compiler (markers/mindar)."""

from __future__ import annotations

from django.core.files.base import ContentFile

from companies.storage import storage_for_company
from lib.storage import write_new
from markers import mindar
from markers.handlers.base import Outcome, PermanentJobError, output_name, read_input, reusable
from markers.models import Job


def compile_mindar(job: Job) -> Outcome:
    portrait = job.portrait
    storage = storage_for_company(portrait.company)
    sha256 = portrait.image_sha256
    version = mindar.COMPILER_VERSION
    source = reusable(job, sha256, version)
    if source is job:
        return Outcome(input_sha256=sha256, compiler_version=version, report=job.report)
    if source is not None:
        data = read_input(storage, source.output.name)
        name = output_name(job, "mind")
        size = write_new(storage, name, ContentFile(data))
        return Outcome(name, size, sha256, version, source.report, reused_from=source)
    image = read_input(storage, portrait.image.name)
    try:
        rgb = mindar.decode_image(image)
    except mindar.ImageDecodeError as exc:
        raise PermanentJobError(str(exc)) from exc
    result = mindar.compile_mind([mindar.to_grey(rgb)])
    name = output_name(job, "mind")
    size = write_new(storage, name, ContentFile(result.data))
    return Outcome(name, size, sha256, version, result.reports[0].as_dict())
