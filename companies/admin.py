from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from companies import domains, logos
from companies.branding import normalize_colour
from companies.models import (
    ApiToken,
    Company,
    Invitation,
    Membership,
    Notification,
    PendingUpload,
    Project,
    StorageConnection,
    StorageMove,
)
from companies.notifications import send_again
from companies.services import (
    CheckSkipped,
    change_viewer_engine,
    check_viewer_domain,
    claim_viewer_domain,
    delete_project,
    make_default_storage,
    remove_viewer_domain,
    revoke_invitation,
)
from companies.storage_moves import check_storage_connection, queue_storage_move, start_storage_move


class ExpiryFilter(admin.SimpleListFilter):
    title = _("expiry")
    parameter_name = "expiry"
    field = "expires_at"

    def lookups(self, request, model_admin):
        return [("expired", _("Expired")), ("30d", _("Expires within 30 days")), ("never", _("Never expires"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "expired":
            return queryset.filter(**{f"{self.field}__lte": now})
        if self.value() == "30d":
            return queryset.filter(**{f"{self.field}__gt": now, f"{self.field}__lte": now + timedelta(days=30)})
        if self.value() == "never":
            return queryset.filter(**{f"{self.field}__isnull": True})
        return queryset


class SubscriptionExpiryFilter(ExpiryFilter):
    field = "subscription_expires_at"


class ExtendForm(forms.Form):
    months = forms.IntegerField(label=_("Months"), min_value=1, max_value=120, initial=12)


def _extend_action(modeladmin, request, queryset, *, method: str, what: str):
    """An intermediate page asking for N months, then `method(months)` on every selected row."""
    form = ExtendForm(request.POST if "apply" in request.POST else None)
    if form.is_valid():
        months = form.cleaned_data["months"]
        with transaction.atomic():
            for obj in queryset:
                getattr(obj, method)(months)
        modeladmin.message_user(
            request,
            ngettext(
                "Extended %(n)d %(what)s by %(m)d months.", "Extended %(n)d %(what)s by %(m)d months.", queryset.count()
            )
            % {"n": queryset.count(), "what": what, "m": months},
            messages.SUCCESS,
        )
        return None
    return render(
        request,
        "admin/extend_action.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": _("Extend by how many months?"),
            "objects": queryset,
            "form": form,
            "action": request.POST["action"],
            "opts": modeladmin.model._meta,
        },
    )


class MoveStorageForm(forms.Form):
    target = forms.ModelChoiceField(
        label=_("Move the files to"), queryset=StorageConnection.objects.filter(is_active=True), empty_label=None
    )


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


class ProjectInline(admin.TabularInline):
    model = Project
    extra = 0
    fields = ["name", "status", "expires_at"]
    readonly_fields = ["name", "status", "expires_at"]
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class CompanyForm(forms.ModelForm):
    """Brand fields go through the same checks as the portal: the logo is validated and
    re-encoded, the colour normalised, the domain normalised (and verified before it is used)."""

    logo_upload = forms.FileField(
        label=_("New logo"), required=False, help_text=_("PNG, JPEG or WebP up to 2 MB; SVG is not accepted.")
    )
    logo_clear = forms.BooleanField(label=_("Remove the logo"), required=False)

    class Meta:
        model = Company
        # The admin adds the other fields of its fieldsets; the logo file only through logo_upload.
        fields = ["brand_name", "brand_accent_color", "viewer_domain"]

    def clean_brand_accent_color(self):
        return normalize_colour(self.cleaned_data["brand_accent_color"])

    def clean_viewer_domain(self):
        value = self.cleaned_data["viewer_domain"]
        return domains.normalize_domain(value) if value.strip() else ""

    def clean_logo_upload(self):
        upload = self.cleaned_data.get("logo_upload")
        return logos.validate_logo(upload) if upload else None


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    form = CompanyForm
    list_display = [
        "name",
        "slug",
        "usage",
        "project_count",
        "subscription_tier",
        "subscription_expires_at",
        "is_active",
    ]
    list_filter = ["is_active", "subscription_tier", SubscriptionExpiryFilter]
    search_fields = ["name", "slug", "contact_email", "contact_phone"]
    list_select_related = ["storage_connection"]
    prepopulated_fields = {"slug": ["name"]}
    raw_id_fields = ["created_by"]
    readonly_fields = ["storage_used_bytes", "created_at", "updated_at", "logo_preview", "domain_status"]
    inlines = [MembershipInline, ProjectInline]
    actions = ["activate", "deactivate", "extend_subscription", "move_storage", "check_domains"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "is_active", "notes"]}),
        (_("Contact"), {"fields": ["contact_email", "contact_phone", "telegram_chat_id", "timezone", "language"]}),
        (
            _("Subscription and limits"),
            {
                "fields": [
                    "subscription_tier",
                    "subscription_expires_at",
                    "subscription_period_months",
                    "subscription_auto_renew",
                    "notify_days_before_expiry",
                    "monthly_report_opt_out",
                    "projects_limit",
                    "storage_quota_bytes",
                    "storage_used_bytes",
                ]
            },
        ),
        (
            _("Storage"),
            {
                "fields": ["storage_connection", "storage_prefix"],
                "description": _(
                    "Once a company has files, its storage changes only through the action "
                    "“Move to another storage…”, which copies the files first."
                ),
            },
        ),
        (_("Viewer"), {"fields": ["viewer_engine"]}),
        (
            _("Brand and viewer domain"),
            {
                "fields": [
                    "brand_name",
                    "brand_accent_color",
                    "logo_preview",
                    "logo_upload",
                    "logo_clear",
                    "viewer_domain",
                    "domain_status",
                ],
                "description": _(
                    "Shown to the company's customers instead of the platform's name. A viewer domain is used "
                    "(QR codes, links, served pages) only once verified; changing it starts verification again."
                ),
            },
        ),
        (_("Record"), {"fields": ["created_by", "created_at", "updated_at"]}),
    ]

    @admin.display(description=_("logo"))
    def logo_preview(self, obj):
        if not obj or not obj.brand_logo:
            return "—"
        return format_html(
            '<img src="{}" alt="" style="max-height:64px;background:#111;padding:4px;border-radius:4px">',
            obj.brand_logo.url,
        )

    @admin.display(description=_("domain status"))
    def domain_status(self, obj):
        if not obj or not obj.viewer_domain:
            return "—"
        if obj.verified_domain:
            state = _("verified %(date)s (%(how)s)") % {
                "date": date_format(timezone.localtime(obj.viewer_domain_verified_at), "DATETIME_FORMAT"),
                "how": domains.VERIFIED_BY.get(obj.viewer_domain_verified_by, ""),
            }
        else:
            state = _("not verified: not used")
        return format_html(
            "{}<br>TXT <code>{}</code> = <code>{}</code><br>{} <code>{}</code>{}",
            state,
            domains.txt_record_name(obj.viewer_domain),
            domains.txt_record_value(obj.viewer_domain_token),
            _("or a file"),
            f"http://{obj.viewer_domain}{domains.WELL_KNOWN_PATH}",
            format_html("<br>{}", obj.viewer_domain_error) if obj.viewer_domain_error else "",
        )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_project_count=Count("projects", distinct=True))

    @admin.display(description=_("projects"), ordering="_project_count")
    def project_count(self, obj):
        return obj._project_count

    @admin.display(description=_("storage used"), ordering="storage_used_bytes")
    def usage(self, obj):
        pct = obj.storage_used_percent
        colour = "#b3261e" if pct >= 90 else "#1f3a5f"
        return format_html(
            '<div title="{} / {}" style="width:120px;height:8px;background:#e5e7eb;border-radius:4px;overflow:hidden">'
            '<div style="width:{}%;height:100%;background:{}"></div></div><small>{} / {} ({}%)</small>',
            filesizeformat(obj.storage_used_bytes),
            filesizeformat(obj.storage_quota_bytes),
            pct,
            colour,
            filesizeformat(obj.storage_used_bytes),
            filesizeformat(obj.storage_quota_bytes),
            pct,
        )

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        # Repointing a company with files would leave them behind: its rows would name files the
        # new storage does not have.
        if obj is not None and (obj.portraits.exists() or obj.storage_moves.exclude(status="done").exists()):
            fields.append("storage_connection")
        return fields

    def save_model(self, request, obj, form, change):
        if not change and not obj.created_by_id:
            obj.created_by = request.user
        # The domain changes only through its service (new code, verification starts over).
        new_domain = obj.viewer_domain
        obj.viewer_domain = form.initial.get("viewer_domain", "") if change else ""
        super().save_model(request, obj, form, change)
        if new_domain != obj.viewer_domain:
            try:
                if new_domain:
                    claim_viewer_domain(company=obj, domain=new_domain)
                else:
                    remove_viewer_domain(company=obj)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
        if form.cleaned_data.get("logo_upload"):
            logos.set_company_logo(company=obj, logo=form.cleaned_data["logo_upload"])
        elif form.cleaned_data.get("logo_clear") and obj.brand_logo:
            logos.remove_company_logo(company=obj)
        obj.refresh_from_db()
        if change and "viewer_engine" in form.changed_data:
            change_viewer_engine(company=obj, engine=obj.viewer_engine)

    def has_delete_permission(self, request, obj=None):
        # Deleting a company would orphan its stored files; deactivate it, or delete its projects first.
        return super().has_delete_permission(request, obj) and not (obj and obj.portraits.exists())

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # bulk deletion would bypass the check above
        return actions

    def has_move_storage_permission(self, request) -> bool:
        # Its own permission: it copies every file of a company and deletes the old copies.
        return request.user.has_perm("companies.move_company_storage")

    @admin.action(description=_("Activate selected companies"), permissions=["change"])
    def activate(self, request, queryset):
        n = queryset.update(is_active=True, updated_at=timezone.now())
        self.message_user(request, ngettext("%d company activated.", "%d companies activated.", n) % n)

    @admin.action(
        description=_("Deactivate selected companies (portal read-only, nothing served)"), permissions=["change"]
    )
    def deactivate(self, request, queryset):
        n = queryset.update(is_active=False, updated_at=timezone.now())
        self.message_user(request, ngettext("%d company deactivated.", "%d companies deactivated.", n) % n)

    @admin.action(description=_("Extend the subscription by N months…"), permissions=["change"])
    def extend_subscription(self, request, queryset):
        return _extend_action(self, request, queryset, method="extend_subscription", what=_("subscriptions"))

    @admin.action(description=_("Check viewer domains now"), permissions=["change"])
    def check_domains(self, request, queryset):
        for company in queryset.exclude(viewer_domain=""):
            try:
                result = check_viewer_domain(company=company)
            except CheckSkipped:
                self.message_user(request, _("%(company)s: checked seconds ago.") % {"company": company})
                continue
            if result.verified_domain and not result.viewer_domain_error:
                self.message_user(
                    request,
                    _("%(company)s: %(domain)s verified.") % {"company": company, "domain": result.viewer_domain},
                )
            else:
                self.message_user(
                    request,
                    _("%(company)s: %(domain)s — %(error)s")
                    % {"company": company, "domain": result.viewer_domain, "error": result.viewer_domain_error},
                    messages.WARNING,
                )

    @admin.action(description=_("Move to another storage…"), permissions=["move_storage"])
    def move_storage(self, request, queryset):
        """Ask for the target, then start (or resume) each company's move in a worker."""
        form = MoveStorageForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return render(
                request,
                "admin/companies/move_storage.html",
                {
                    **self.admin_site.each_context(request),
                    "title": _("Move the files of these companies"),
                    "objects": queryset.select_related("storage_connection"),
                    "form": form,
                    "action": request.POST["action"],
                    "opts": self.model._meta,
                },
            )
        target = form.cleaned_data["target"]
        for company in queryset:
            try:
                move = start_storage_move(company=company, target=target, requested_by=request.user)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
                continue
            queue_storage_move(move)
            self.message_user(
                request,
                _("%(company)s: moving to %(target)s in the background; progress is under “Storage moves”.")
                % {"company": company, "target": target},
                messages.SUCCESS,
            )
        return None


class StorageConnectionForm(forms.ModelForm):
    """Secrets are write-only: never rendered back; leaving a field empty keeps the stored value."""

    SECRET_FIELDS = {
        "access_key_id": _("Access key ID (S3)"),
        "secret_access_key": _("Secret access key (S3)"),
        "oauth_token": _("OAuth token (Yandex Disk)"),
    }
    OPTION_FIELDS = ["endpoint_url", "region", "addressing_style", "public_base_url", "url_expiry_seconds"]

    access_key_id = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False))
    secret_access_key = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False))
    oauth_token = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False))
    clear_credentials = forms.BooleanField(label=_("Forget the stored credentials"), required=False)
    endpoint_url = forms.URLField(label=_("Endpoint URL (S3)"), required=False, assume_scheme="https")
    region = forms.CharField(label=_("Region (S3)"), required=False, max_length=50)
    addressing_style = forms.ChoiceField(
        label=_("Addressing style (S3)"),
        required=False,
        choices=[("path", _("path")), ("virtual", _("virtual host")), ("auto", _("auto"))],
    )
    public_base_url = forms.URLField(label=_("Public base URL / CDN (S3)"), required=False, assume_scheme="https")
    url_expiry_seconds = forms.IntegerField(
        label=_("Signed URL lifetime, seconds (S3)"), required=False, min_value=60, max_value=7 * 24 * 3600
    )

    class Meta:
        model = StorageConnection
        fields = ["name", "provider", "base_path", "bucket", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, label in self.SECRET_FIELDS.items():
            self.fields[name].label = label
            self.fields[name].help_text = (
                _("Stored (encrypted). Leave empty to keep it.") if self.instance.has_credentials else ""
            )
        for name in self.OPTION_FIELDS:
            self.fields[name].initial = self.instance.options.get(name)
        self.fields["base_path"].help_text = _(
            "Local disk: a folder inside MEDIA_ROOT (a relative one is taken from there) or inside one "
            "of the LOCAL_STORAGE_ROOTS setting. S3: a key prefix inside the bucket. Yandex Disk: a "
            "folder such as disk:/ARV, or app:/ for the application's folder."
        )

    def clean(self):
        data = super().clean()
        provider = data.get("provider")
        if provider == StorageConnection.Provider.S3 and not data.get("bucket"):
            self.add_error("bucket", _("An S3-compatible connection needs a bucket."))
        if provider == StorageConnection.Provider.YANDEX_DISK and not self._will_have_secret("oauth_token"):
            self.add_error("oauth_token", _("A Yandex Disk connection needs an OAuth token."))
        return data

    def _will_have_secret(self, key: str) -> bool:
        if self.cleaned_data.get(key):
            return True
        if self.cleaned_data.get("clear_credentials") or not self.instance.has_credentials:
            return False
        try:
            return bool(self.instance.credentials.get(key))
        except Exception:
            return False  # unreadable with the current keys: it has to be entered again

    def save(self, commit=True):
        connection = super().save(commit=False)
        connection.options = {
            k: self.cleaned_data[k] for k in self.OPTION_FIELDS if self.cleaned_data.get(k) not in (None, "")
        }
        if self.cleaned_data["clear_credentials"]:
            connection.set_credentials({})
        else:
            entered = {k: self.cleaned_data[k] for k in self.SECRET_FIELDS if self.cleaned_data.get(k)}
            if entered:
                current = connection.credentials if connection.has_credentials else {}
                connection.set_credentials({**current, **entered})
        if commit:
            connection.save()
        return connection


@admin.register(StorageConnection)
class StorageConnectionAdmin(admin.ModelAdmin):
    form = StorageConnectionForm
    list_display = [
        "name",
        "provider",
        "bucket",
        "base_path",
        "is_default",
        "is_active",
        "test_status",
        "last_tested_at",
        "company_count",
    ]
    list_filter = ["provider", "is_active", "test_status"]
    search_fields = ["name", "bucket", "base_path"]
    readonly_fields = ["is_default", "test_status", "test_error", "last_tested_at", "created_at", "updated_at"]
    actions = ["test_connection", "make_default"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_company_count=Count("companies"))

    def get_fieldsets(self, request, obj=None):
        return [
            (None, {"fields": ["name", "provider", "is_active", "is_default"]}),
            (
                _("Location"),
                {
                    "fields": [
                        "base_path",
                        "bucket",
                        "endpoint_url",
                        "region",
                        "addressing_style",
                        "public_base_url",
                        "url_expiry_seconds",
                    ]
                },
            ),
            (_("Credentials"), {"fields": ["access_key_id", "secret_access_key", "oauth_token", "clear_credentials"]}),
            (_("Last test"), {"fields": ["test_status", "test_error", "last_tested_at"]}),
        ]

    @admin.display(description=_("companies"), ordering="_company_count")
    def company_count(self, obj):
        return obj._company_count

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request, obj=None):
        # The platform default stays; companies using a connection protect it via PROTECT.
        return super().has_delete_permission(request, obj) and not (obj and obj.is_default)

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset.filter(is_default=False))

    @admin.action(description=_("Test connection (write, read and delete a probe file)"), permissions=["change"])
    def test_connection(self, request, queryset):
        for connection in queryset:
            error = check_storage_connection(connection)
            if error:
                self.message_user(
                    request, _("%(name)s: failed — %(error)s") % {"name": connection, "error": error}, messages.ERROR
                )
            else:
                self.message_user(request, _("%(name)s: working.") % {"name": connection}, messages.SUCCESS)

    @admin.action(description=_("Make the platform default"), permissions=["change"])
    def make_default(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, _("Choose exactly one connection."), messages.ERROR)
            return
        connection = queryset.get()
        previous, pinned = make_default_storage(connection=connection)
        self.message_user(request, _("%(name)s is now the platform default.") % {"name": connection})
        if pinned:
            self.message_user(
                request,
                ngettext(
                    "%(n)d company keeps its files on %(old)s; use “Move to another storage…” to move them.",
                    "%(n)d companies keep their files on %(old)s; use “Move to another storage…” to move them.",
                    pinned,
                )
                % {"n": pinned, "old": previous},
                messages.WARNING,
            )


@admin.register(StorageMove)
class StorageMoveAdmin(admin.ModelAdmin):
    """Progress of moves; read-only: moves are started and resumed by the Company action or the
    `move_company_storage` command."""

    list_display = ["company", "source", "target", "status", "progress", "error", "created_at", "finished_at"]
    list_filter = ["status"]
    list_select_related = ["company", "source", "target"]
    search_fields = ["company__name", "company__slug"]
    fields = [
        "company",
        "source",
        "target",
        "status",
        "progress",
        "error",
        "requested_by",
        "created_at",
        "switched_at",
        "finished_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                _files=Count("files"),
                _copied=Count("files", filter=Q(files__state__in=["copied", "deleted"])),
            )
        )

    @admin.display(description=_("files copied"))
    def progress(self, obj):
        return f"{obj._copied} / {obj._files}"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "company", "status", "starts_at", "expires_at", "auto_renew", "portrait_count"]
    list_filter = [("company", admin.RelatedOnlyFieldListFilter), "status", ExpiryFilter, "auto_renew"]
    search_fields = ["name", "slug", "company__name"]
    list_select_related = ["company"]
    raw_id_fields = ["company", "created_by"]
    readonly_fields = ["created_at", "updated_at", "last_notification_sent_at"]
    actions = ["extend"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_portrait_count=Count("portraits"))

    @admin.display(description=_("photos"), ordering="_portrait_count")
    def portrait_count(self, obj):
        return obj._portrait_count

    def delete_model(self, request, obj):
        # Through the service, so the photos' files are deleted and the quota comes back.
        delete_project(project=obj)

    def delete_queryset(self, request, queryset):
        for project in queryset.select_related("company"):
            self.delete_model(request, project)

    @admin.action(description=_("Extend by N months…"), permissions=["change"])
    def extend(self, request, queryset):
        return _extend_action(self, request, queryset, method="extend", what=_("projects"))


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "company", "role", "created_at"]
    list_filter = ["role", ("company", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__username", "user__email", "company__name"]
    list_select_related = ["user", "company"]
    raw_id_fields = ["user", "company"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = [
        "subject",
        "company",
        "kind",
        "email_sent",
        "telegram_sent",
        "is_complete",
        "attempts",
        "created_at",
    ]
    list_filter = ["kind", "is_complete", "email_sent", "telegram_sent"]
    search_fields = ["subject", "company__name"]
    list_select_related = ["company"]
    readonly_fields = [f.name for f in Notification._meta.fields]
    actions = ["send_again"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Send the failed channels again"), permissions=["change"])
    def send_again(self, request, queryset):
        sent = 0
        for notification in queryset.filter(is_complete=False).select_related("company"):
            sent += send_again(notification)
        self.message_user(request, ngettext("%d notification sent again.", "%d notifications sent again.", sent) % sent)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Invitations are made and answered in the portal; staff can see them and withdraw one."""

    list_display = ["email", "company", "role", "state", "invited_by", "created_at", "expires_at", "responded_at"]
    list_filter = ["status", "role"]
    search_fields = ["email", "company__name", "company__slug"]
    list_select_related = ["company", "invited_by"]
    raw_id_fields = ["company", "user", "invited_by"]
    readonly_fields = [f.name for f in Invitation._meta.fields if f.name != "nonce"]
    actions = ["revoke"]

    @admin.display(description=_("status"), ordering="status")
    def state(self, obj):
        return obj.state_label

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Withdraw the selected invitations"), permissions=["change"])
    def revoke(self, request, queryset):
        n = sum(revoke_invitation(invitation=invitation) for invitation in queryset)
        self.message_user(request, ngettext("%d invitation withdrawn.", "%d invitations withdrawn.", n) % n)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Who has an API token, and when it was used; the key itself is not stored, so never shown.
    Deleting a token revokes it."""

    list_display = ["user", "key_start", "created_at", "last_used_at"]
    search_fields = ["user__username", "user__email", "prefix"]
    list_select_related = ["user"]
    fields = ["user", "key_start", "created_at", "last_used_at"]
    readonly_fields = fields

    @admin.display(description=_("key starts with"))
    def key_start(self, obj):
        return f"{obj.prefix}…"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PendingUpload)
class PendingUploadAdmin(admin.ModelAdmin):
    list_display = ["company", "reserved_bytes", "created_at"]
    readonly_fields = ["company", "names", "reserved_bytes", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
