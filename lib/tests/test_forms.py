"""A service's refusal lands on the portal form that asked for the change (lib/forms.py: one helper
for the companies, photos and webhooks pages, which had three)."""

from django import forms
from django.core.exceptions import ValidationError

from lib.forms import add_service_errors
from lib.storage import StorageUnavailable, storage_error_message


class NameForm(forms.Form):
    name = forms.CharField()


def bound() -> NameForm:
    form = NameForm({"name": "x"})
    assert form.is_valid()
    return form


def test_an_error_about_a_field_of_the_form_is_shown_next_to_it():
    form = bound()
    add_service_errors(form, ValidationError({"name": "Taken.", "slug": "Reserved."}))
    assert form.errors == {"name": ["Taken."], "__all__": ["Reserved."]}


def test_an_error_about_nothing_in_particular_is_shown_above_the_form():
    form = bound()
    add_service_errors(form, ValidationError(["First.", "Second."]))
    assert form.non_field_errors() == ["First.", "Second."]


def test_an_unreachable_storage_says_so_without_its_internals():
    form = bound()
    add_service_errors(form, StorageUnavailable("s3://bucket: connection refused, key AKIA…"))
    assert form.non_field_errors() == [storage_error_message()]
