"""What every portal form does with a service's refusal."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from lib.storage import StorageUnavailable, storage_error_message


def add_service_errors(form, exc: ValidationError | StorageUnavailable) -> None:
    """Show a service's refusal on the form that asked for the change: an error about one of the
    form's fields next to that field, anything else above the form, an unreachable storage as the
    message that says so (never its internals)."""
    if isinstance(exc, StorageUnavailable):
        form.add_error(None, storage_error_message())
        return
    by_field = exc.error_dict if hasattr(exc, "error_dict") else {None: exc.error_list}
    for field, errors in by_field.items():
        for error in errors:
            form.add_error(field if field in form.fields else None, error)
