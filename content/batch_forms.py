"""Portal forms of batch uploads."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from content import batches
from content.models import Batch

ACCEPT = (
    *("image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"),
    *("video/mp4", "video/quicktime", "video/webm", ".csv"),
)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(d, initial) for d in data if d]
        return [super().clean(data, initial)] if data else []


class BatchUploadForm(forms.Form):
    archive = forms.FileField(
        label=_("ZIP archive"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".zip,application/zip"}),
        help_text=_("Photos, their videos and, optionally, orders.csv, in one ZIP."),
    )
    files = MultipleFileField(
        label=_("…or the files themselves"),
        required=False,
        widget=MultipleFileInput(attrs={"accept": ",".join(ACCEPT)}),
        help_text=_("Select or drop many photos and videos at once (and orders.csv, if you have one)."),
    )
    sheet_format = forms.ChoiceField(
        label=_("Print layout"), choices=Batch.SheetFormat.choices, initial=Batch.SheetFormat.A4, required=False
    )

    def clean_sheet_format(self):
        return self.cleaned_data["sheet_format"] or Batch.SheetFormat.A4

    def clean(self):
        data = super().clean()
        archive, files = data.get("archive"), data.get("files") or []
        if archive and files:
            raise ValidationError(_("Upload either one ZIP archive or the files themselves, not both."))
        if not archive and not files and not self.errors:
            raise ValidationError(_("Choose a ZIP archive or the files to upload."))
        try:
            if archive:
                batches.validate_archive_upload(archive)
            elif files:
                batches.validate_file_uploads(files)
        except ValidationError as exc:
            self.add_error("archive" if archive else "files", exc)
        return data


class BatchDraftForm(forms.Form):
    sheet_format = forms.ChoiceField(choices=Batch.SheetFormat.choices, required=False)

    def clean_sheet_format(self):
        return self.cleaned_data["sheet_format"] or Batch.SheetFormat.A4


class BatchFileForm(forms.Form):
    file = forms.FileField(error_messages={"required": _("Choose a file.")})

    def clean_file(self):
        upload = self.cleaned_data["file"]
        batches.validate_file_uploads([upload])
        return upload


class BatchConfirmForm(forms.Form):
    """The valid rows to make; every other valid row is skipped."""

    rows = forms.TypedMultipleChoiceField(coerce=int, required=False)

    def __init__(self, *args, numbers: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.numbers = numbers
        self.fields["rows"].choices = [(n, str(n)) for n in numbers]

    @property
    def skip(self) -> set[int]:
        return set(self.numbers) - set(self.cleaned_data.get("rows") or [])
