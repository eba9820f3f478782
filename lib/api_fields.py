"""String fields of the REST API that take strings only.

DRF's ``CharField`` turns a number into its text (``{"title": 22144}`` was stored as ``"22144"``,
though the schema says string), and its ``ChoiceField`` and ``SlugRelatedField`` compare
``str(value)``. Every string field of the API is one of these instead (a test walks the
serializers to keep it so), and refuses anything but a string with the same message.

Kept free of DRF's views, like ``lib.api_schema``: both are imported while views are defined.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

logger = logging.getLogger(__name__)


class StrictStringMixin:
    """Refuses a value that is not a string before the field converts it."""

    default_error_messages = {"not_a_string": _("Not a valid string.")}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class StrictCharField(StrictStringMixin, serializers.CharField):
    pass


class StrictEmailField(StrictStringMixin, serializers.EmailField):
    pass


class StrictSlugField(StrictStringMixin, serializers.SlugField):
    pass


class StrictURLField(StrictStringMixin, serializers.URLField):
    pass


class StrictChoiceField(StrictStringMixin, serializers.ChoiceField):
    pass


class StrictSlugRelatedField(StrictStringMixin, serializers.SlugRelatedField):
    pass


#: DRF's string fields and their strict versions: the test refuses the left side in API serializers.
STRICT_VERSIONS = {
    serializers.CharField: StrictCharField,
    serializers.ChoiceField: StrictChoiceField,
    serializers.SlugRelatedField: StrictSlugRelatedField,
}


# --- Links in representations (the API answers and the webhook payloads) ---------------------------


def absolute_url(url: str, request) -> str:
    """*url* made absolute: on the request's host, or on SITE_URL outside a request (the same
    representations go into webhook payloads)."""
    if request is not None:
        return request.build_absolute_uri(url)
    return settings.SITE_URL.rstrip("/") + url if url.startswith("/") else url


def stored_file_url(fieldfile, request) -> str | None:
    """Absolute URL of a stored file (``storage.url``); None when there is none or it is unknown."""
    if not fieldfile:
        return None
    try:
        url = fieldfile.url
    except Exception:
        # A remote storage that cannot sign a URL right now must not break the whole answer.
        logger.exception("no URL for stored file %s", fieldfile.name)
        return None
    return absolute_url(url, request)


class StoredFileUrlField(serializers.FileField):
    """A stored file's absolute URL, or null."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, allow_null=True, **kwargs)

    def to_representation(self, value):
        return stored_file_url(value, self.context.get("request"))
