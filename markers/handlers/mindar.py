"""The MindAR marker (.mind) of a photo, compiled by our own compiler (markers/mindar)."""

from __future__ import annotations

from companies.storage import storage_for_company
from markers import arvm, mindar
from markers.handlers.base import Outcome, PermanentJobError, output_name, read_input, reusable
from markers.models import Job


def compile_mindar(job: Job) -> Outcome:
    portrait = job.portrait
    storage = storage_for_company(portrait.company)
    sha256 = portrait.image_sha256
    version = mindar.COMPILER_VERSION
    compact = arvm.current_version()
    source = reusable(job, sha256, version)
    if source is job and job.compact_version == compact:
        return Outcome(input_sha256=sha256, compiler_version=version, report=job.report, compact_version=compact)
    if source is not None:  # (our own .mind without its current .arvm: rewritten as a pair)
        data = read_input(storage, source.output.name)
        name = output_name(job, "mind")
        size = arvm.write_marker_files(storage, name, data)
        reused = None if source is job else source
        return Outcome(name, size, sha256, version, source.report, reused_from=reused, compact_version=compact)
    image = read_input(storage, portrait.image.name)
    try:
        rgb = mindar.decode_image(image)
    except mindar.ImageDecodeError as exc:
        raise PermanentJobError(str(exc)) from exc
    result = mindar.compile_mind([mindar.to_grey(rgb)])
    name = output_name(job, "mind")
    size = arvm.write_marker_files(storage, name, result.data)
    return Outcome(name, size, sha256, version, result.reports[0].as_dict(), compact_version=compact)
