"""The back office speaks the visitor's language down to its column and filter titles: every field of
a model it shows (as a list, a form or an inline) has a translated name. Issue 22's page tour found
~180 English titles on Russian pages: fields without an explicit ``verbose_name``. A new field
without one fails here."""

import pytest
from django.contrib import admin
from django.db.models import ForeignObjectRel
from django.utils import translation

OUR_APPS = {"companies", "content", "markers", "viewer", "webhooks"}
# Written the same way in Russian.
SAME_IN_RUSSIAN = {"ID", "URL"}


def shown_models():
    models = set()
    for model, model_admin in admin.site._registry.items():
        models.add(model)
        models.update(inline.model for inline in model_admin.inlines)
    return sorted((m for m in models if m._meta.app_label in OUR_APPS), key=lambda m: m._meta.label)


def test_the_walk_sees_the_back_office_models_and_their_inlines():
    labels = {model._meta.label for model in shown_models()}
    assert {"companies.Company", "content.Portrait", "content.BatchRow", "markers.Job", "webhooks.Attempt"} <= labels


@pytest.mark.parametrize("model", shown_models(), ids=lambda model: model._meta.label)
def test_every_field_has_a_russian_name(model):
    english = []
    for field in model._meta.get_fields():
        if isinstance(field, ForeignObjectRel) or not (field.concrete or field.many_to_many):
            continue
        with translation.override("en"):
            en = str(field.verbose_name)
        with translation.override("ru"):
            ru = str(field.verbose_name)
        if ru == en and en not in SAME_IN_RUSSIAN:
            english.append(f"{field.name} ({en!r})")
    assert not english, "give these fields a translated verbose_name: " + ", ".join(english)
    with translation.override("ru"):
        assert str(model._meta.verbose_name) != model._meta.verbose_name_raw  # the model's own name too
