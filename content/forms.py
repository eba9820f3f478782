from datetime import timedelta

from django import forms
from django.utils.translation import gettext_lazy as _

from companies.forms import DateTimeInput
from companies.models import ViewerEngine
from content.models import Rotation
from content.validators import ValidatedImage, ValidatedVideo, validate_image, validate_video


class ImageUploadField(forms.FileField):
    """A file field whose cleaned value is a ValidatedImage (decoded, normalised)."""

    widget = forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp,image/heic,image/heif"})

    def clean(self, data, initial=None) -> ValidatedImage | None:
        upload = super().clean(data, initial)
        return validate_image(upload) if upload else None


class VideoUploadField(forms.FileField):
    widget = forms.ClearableFileInput(attrs={"accept": "video/mp4,video/quicktime,video/webm"})

    def clean(self, data, initial=None) -> ValidatedVideo | None:
        upload = super().clean(data, initial)
        return validate_video(upload) if upload else None


class CleansUpVideos:
    """Forms holding a ValidatedVideo must release its temp file whatever happens next."""

    def cleanup(self) -> None:
        for value in getattr(self, "cleaned_data", {}).values():
            if isinstance(value, ValidatedVideo):
                value.cleanup()


class PortraitMetaForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200, required=False)
    description = forms.CharField(
        label=_("Description"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )
    customer_name = forms.CharField(label=_("Customer name"), max_length=200, required=False)
    customer_phone = forms.CharField(label=_("Customer phone"), max_length=40, required=False)
    customer_email = forms.EmailField(label=_("Customer e-mail"), required=False)
    order_reference = forms.CharField(label=_("Order reference"), max_length=100, required=False)
    published_at = forms.DateTimeField(label=_("Show from"), required=False, widget=DateTimeInput())
    expires_at = forms.DateTimeField(label=_("Show until"), required=False, widget=DateTimeInput())

    def clean(self):
        data = super().clean()
        start, end = data.get("published_at"), data.get("expires_at")
        if start and end and end <= start:
            self.add_error("expires_at", _("The photo must stop being shown after it starts."))
        return data


class PortraitUploadForm(CleansUpVideos, PortraitMetaForm):
    field_order = ["image", "video", "title"]
    image = ImageUploadField(
        label=_("Photo"),
        help_text=_("JPEG, PNG, WebP or HEIC; at least 480 px on the short side. This is the photo you will print."),
        error_messages={"required": _("Choose the photo to upload.")},
    )
    video = VideoUploadField(
        label=_("Video"), required=False, help_text=_("MP4, MOV or WebM. You can also add videos later.")
    )


class PortraitEditForm(PortraitMetaForm):
    is_active = forms.BooleanField(label=_("Active (visitors can see it)"), required=False)
    viewer_engine = forms.ChoiceField(
        label=_("AR engine"),
        required=False,
        choices=[("", _("The company's setting")), *ViewerEngine.choices],
        help_text=_(
            "MindAR works on most phones; the ARV tracker is lighter and faster to start, and falls back to "
            "MindAR where it cannot run; AR.js NFT is an alternative for photos MindAR finds hard."
        ),
    )


class VideoAddForm(CleansUpVideos, forms.Form):
    video = VideoUploadField(label=_("Video"), error_messages={"required": _("Choose a video to upload.")})
    title = forms.CharField(label=_("Title"), max_length=200, required=False)
    activate = forms.BooleanField(label=_("Play this video from now on"), required=False)


class VideoScheduleForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200, required=False)
    schedule_start = forms.DateTimeField(label=_("Play from"), required=False, widget=DateTimeInput())
    schedule_end = forms.DateTimeField(label=_("Play until"), required=False, widget=DateTimeInput())
    schedule_repeats_yearly = forms.BooleanField(
        label=_("Repeat every year (a birthday, an anniversary)"), required=False
    )
    unlock_at = forms.DateTimeField(
        label=_("Locked until"),
        required=False,
        widget=DateTimeInput(),
        help_text=_("A surprise: the video never plays before this moment, and plays from then on."),
    )

    def clean(self):
        data = super().clean()
        start, end = data.get("schedule_start"), data.get("schedule_end")
        if start and end and end <= start:
            self.add_error("schedule_end", _("The video must stop playing after it starts."))
        if data.get("schedule_repeats_yearly"):
            if not (start and end):
                self.add_error("schedule_repeats_yearly", _("A yearly window needs both a start and an end."))
            elif end - start > timedelta(days=365):
                self.add_error("schedule_end", _("A yearly window must be shorter than a year."))
        return data


class RotationForm(forms.ModelForm):
    class Meta:
        model = Rotation
        fields = ["kind", "every", "at", "weekday", "monthday", "cron"]
        widgets = {"at": forms.TimeInput(attrs={"type": "time"}, format="%H:%M")}
        help_texts = {"cron": _("Only for “Cron expression”, e.g. 0 9 * * 1-5 (weekdays at 9:00).")}

    def clean(self):
        data = super().clean()
        if data.get("every") == Rotation.Every.CRON and data.get("kind") != Rotation.Kind.NONE and not data.get("cron"):
            self.add_error("cron", _("Enter the cron expression."))
        return data


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=100)
