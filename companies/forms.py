from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import SetPasswordForm
from django.utils.translation import gettext_lazy as _

from companies.branding import normalize_colour
from companies.domains import normalize_domain
from companies.logos import validate_logo
from companies.models import Invitation, Membership, Project


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class TagsField(forms.CharField):
    """Comma-separated tags, returned as a list of short strings."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 500)
        kwargs.setdefault("help_text", _("Separate tags with commas."))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        text = super().to_python(value)
        tags = [t.strip() for t in text.split(",") if t.strip()]
        if any(len(t) > 40 for t in tags):
            raise forms.ValidationError(_("A tag can be at most 40 characters long."))
        if len(tags) > 20:
            raise forms.ValidationError(_("At most 20 tags."))
        return tags


class ProjectForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    description = forms.CharField(
        label=_("Description"), widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=5000
    )
    starts_at = forms.DateTimeField(label=_("Starts"), required=False, widget=DateTimeInput())
    expires_at = forms.DateTimeField(label=_("Expires"), required=False, widget=DateTimeInput())
    auto_renew = forms.BooleanField(label=_("Renew automatically"), required=False)
    notify_days_before_expiry = forms.IntegerField(
        label=_("Remind me this many days before it expires"), min_value=0, max_value=365, initial=7
    )
    tags = TagsField(label=_("Tags"))

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Give the project a name."))
        return name

    def clean(self):
        data = super().clean()
        starts, expires = data.get("starts_at"), data.get("expires_at")
        if starts and expires and expires <= starts:
            self.add_error("expires_at", _("The project must expire after it starts."))
        return data

    @classmethod
    def initial_for(cls, project: Project) -> dict:
        return {f: getattr(project, f) for f in cls.base_fields}


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"), max_length=254)
    role = forms.ChoiceField(label=_("Role"), choices=Membership.Role.choices, initial=Membership.Role.EDITOR)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Membership.Role.choices)


class SwitchCompanyForm(forms.Form):
    company = forms.SlugField()
    next = forms.CharField(required=False)


class BrandForm(forms.Form):
    brand_name = forms.CharField(
        label=_("Display name"),
        max_length=100,
        required=False,
        help_text=_("What your customers see; empty: the company name."),
    )
    brand_accent_color = forms.CharField(
        label=_("Accent colour"),
        max_length=20,
        required=False,
        help_text=_("Buttons and headings on your customers' pages, as a hex code such as #1f6feb; empty: none."),
        widget=forms.TextInput(attrs={"placeholder": "#1f6feb", "autocomplete": "off", "spellcheck": "false"}),
    )
    logo = forms.FileField(
        label=_("Logo"),
        required=False,
        help_text=_("PNG, JPEG or WebP up to 2 MB; a transparent PNG looks best. SVG is not accepted."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
    )

    def clean_brand_name(self):
        return " ".join(self.cleaned_data["brand_name"].split())

    def clean_brand_accent_color(self):
        return normalize_colour(self.cleaned_data["brand_accent_color"])

    def clean_logo(self):
        upload = self.cleaned_data.get("logo")
        return validate_logo(upload) if upload else None


class ViewerDomainForm(forms.Form):
    domain = forms.CharField(
        label=_("Domain"),
        max_length=300,
        help_text=_("A name of your studio's own, such as ar.your-studio.com."),
        widget=forms.TextInput(
            attrs={"placeholder": "ar.your-studio.com", "autocomplete": "off", "spellcheck": "false"}
        ),
    )

    def clean_domain(self):
        return normalize_domain(self.cleaned_data["domain"])
class AcceptInvitationForm(SetPasswordForm):
    """A new member's name and password, checked by the site's password validators."""

    full_name = forms.CharField(label=_("Your name"), max_length=150, required=False)
    field_order = ["full_name", "new_password1", "new_password2"]

    def __init__(self, invitation: Invitation, *args, **kwargs):
        # The account being made (or completed), so that validators compare the password with it.
        user = invitation.invitee() or get_user_model()(username=invitation.email, email=invitation.email)
        super().__init__(user, *args, **kwargs)
        self.order_fields(self.field_order)
