"""String fields of the REST API that take strings only.

DRF's ``CharField`` turns a number into its text (``{"title": 22144}`` was stored as ``"22144"``,
though the schema says string), and its ``ChoiceField`` and ``SlugRelatedField`` compare
``str(value)``. Every string field of the API is one of these instead (a test walks the
serializers to keep it so), and refuses anything but a string with the same message.

Kept free of DRF's views, like ``lib.api_schema``: both are imported while views are defined.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


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
