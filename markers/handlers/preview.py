"""A photo's preview (WebP thumbnail), for the portal, the API and the viewer's loading screen."""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.db.models import F
from django.utils.translation import gettext_noop

from companies.storage import replace_output, storage_for_company
from content.models import Portrait
from lib.storage import write_new
from markers import previews
from markers.handlers.base import Outcome, PermanentJobError, output_name, read_input
from markers.models import Job


def make_preview(job: Job) -> Outcome:
    portrait = job.portrait
    storage = storage_for_company(portrait.company)
    image = read_input(storage, portrait.image.name)
    try:
        data = previews.image_preview(image)
    except OSError as exc:
        raise PermanentJobError(gettext_noop("The photo could not be read to make its preview.")) from exc
    name = output_name(job, "webp")
    size = write_new(storage, name, ContentFile(data))
    old = portrait.preview.name
    Portrait.objects.filter(pk=portrait.pk).update(preview=name, stored_bytes=F("stored_bytes") + size)
    replace_output(company=portrait.company, added_bytes=size, old_names=[old] if old else [], old_bytes=0)
    return Outcome()
