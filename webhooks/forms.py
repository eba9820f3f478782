from datetime import timedelta

from django import forms
from django.utils.translation import gettext_lazy as _

from webhooks.models import Delivery, EventType


class EndpointForm(forms.Form):
    """The checks that need the network (resolving the host) are the service's: its errors come
    back onto these fields."""

    url = forms.CharField(
        label=_("URL"),
        max_length=2000,
        widget=forms.URLInput(attrs={"placeholder": "https://orders.example.com/arv-webhook", "spellcheck": "false"}),
        help_text=_("Where ARV sends a POST with the event as JSON. https:// is strongly recommended."),
    )
    description = forms.CharField(label=_("Description"), max_length=200, required=False)
    event_types = forms.MultipleChoiceField(
        label=_("Events"),
        choices=EventType.subscribable,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one event.")},
    )
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    @classmethod
    def initial_for(cls, endpoint) -> dict:
        return {f: getattr(endpoint, f) for f in cls.base_fields}


KEEP_PREVIOUS_CHOICES = [
    ("0", _("End it now")),
    ("1", _("1 hour")),
    ("24", _("24 hours")),
    ("72", _("3 days")),
    ("168", _("7 days")),
]


class RotateForm(forms.Form):
    keep_previous = forms.TypedChoiceField(
        label=_("Keep the current secret valid for"),
        choices=KEEP_PREVIOUS_CHOICES,
        coerce=lambda hours: timedelta(hours=int(hours)),
        initial="24",
        help_text=_("Meanwhile every delivery is signed with both secrets, so receivers can switch without a gap."),
    )


class ActiveForm(forms.Form):
    active = forms.TypedChoiceField(choices=[("1", "on"), ("0", "off")], coerce=lambda v: v == "1")


class DeliveryFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=[("", _("All")), *Delivery.Status.choices], required=False)
