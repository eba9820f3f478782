"""REST API: tenancy for token-authenticated requests, and projects.

``TenantMiddleware`` builds ``request.tenant`` from ``request.user``, but with token auth the user
is only known once DRF has authenticated the request, inside the view. :class:`TenantApiView`
therefore replaces the tenant in ``initial()``, right after authentication, with an
:class:`ApiTenant` for the DRF user; from then on the portal's access helpers (``scoped_get``,
``check_write``, ``get_<model>_for_user``) work on the DRF request unchanged: 404 for another
company's objects, 403 with the reason for writes by viewers and by read-only companies.
"""

from __future__ import annotations

from functools import cached_property

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.response import Response

from companies import services
from companies.access import SESSION_KEY, Tenant, check_write, get_project_for_user, scoped_get
from companies.models import Membership, Project
from lib.api import ApiView, QuerySerializer
from lib.api_fields import StrictCharField, StrictChoiceField, StrictSlugField, StrictSlugRelatedField, StrictURLField
from lib.api_policies import Pagination
from lib.api_schema import COMPANY_HEADER


class CompanyRequired(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "company_required"


class ApiTenant(Tenant):
    """The tenant of an API request: the authenticated user's company named by ``X-Company``.

    Without the header: the company active in the portal session when the request came with the
    session cookie (the portal's own scripts act where the user is), else the user's only
    company. A user of several companies must name one: guessing would put an order system's
    uploads into whichever company the user was last invited to.
    """

    def __init__(self, request, *, company_slug: str | None, session_company_id: int | None):
        super().__init__(request)
        self.company_slug = company_slug
        self.session_company_id = session_company_id

    @cached_property
    def membership(self) -> Membership | None:
        if self.company_slug:
            return next((m for m in self.memberships if m.company.slug == self.company_slug), None)
        return self._select(self.session_company_id)

    def switch(self, slug: str) -> bool:  # pragma: no cover - the API selects per request
        raise NotImplementedError("API requests choose their company with the X-Company header.")


class TenantApiView(ApiView):
    """Base of every tenant-scoped endpoint: authenticated, throttled, in one company."""

    tenant_scoped = True
    #: Whether the operation writes files (documents a 503 when the storage is down).
    uses_storage = False

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication, permissions, throttles
        slug = request.headers.get(COMPANY_HEADER, "").strip() or None
        by_session = isinstance(request.successful_authenticator, SessionAuthentication)
        tenant = ApiTenant(
            request,
            company_slug=slug,
            session_company_id=request.session.get(SESSION_KEY) if by_session else None,
        )
        # Set on the Django request, which DRF's request proxies: the access helpers, services
        # and logging all see the same tenant.
        request._request.tenant = tenant
        if tenant.membership is None:
            if not slug and tenant.needs_choice:
                raise CompanyRequired(
                    _(
                        "You belong to several companies: name the one to act in with the %(header)s "
                        "header (one of: %(slugs)s)."
                    )
                    % {"header": COMPANY_HEADER, "slugs": ", ".join(m.company.slug for m in tenant.memberships)}
                )
            if slug:
                raise exceptions.PermissionDenied(
                    _("You are not a member of the company given in the %(header)s header.")
                    % {"header": COMPANY_HEADER},
                    code="company",
                )
            raise exceptions.PermissionDenied(
                _("Your account does not belong to any company yet: ask a company owner for an invitation."),
                code="no_company",
            )


def paginated(view: TenantApiView, request, queryset, serializer_class, **context):
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(queryset, request, view=view)
    data = serializer_class(page, many=True, context={"request": request, **context}).data
    return paginator.get_paginated_response(data)


# --- Projects ----------------------------------------------------------------------------------------


def validate_period(attrs: dict, instance, start: str, end: str, message: str) -> dict:
    """``end`` after ``start``, looking at stored values for the fields a PATCH leaves out."""
    first = attrs.get(start, getattr(instance, start, None))
    last = attrs.get(end, getattr(instance, end, None))
    if first and last and last <= first:
        raise serializers.ValidationError({end: message})
    return attrs


class ProjectOutputSerializer(serializers.Serializer):
    slug = StrictSlugField(help_text="The project's identifier in API URLs; never changes.")
    name = StrictCharField()
    description = StrictCharField()
    status = StrictChoiceField(choices=Project.Status.choices)
    starts_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    auto_renew = serializers.BooleanField()
    notify_days_before_expiry = serializers.IntegerField()
    tags = serializers.ListField(child=StrictCharField())
    portrait_count = serializers.IntegerField()
    album_url = StrictURLField(help_text="Public page showing every photo of the project.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ProjectInputSerializer(serializers.Serializer):
    """The portal's project form, as JSON (tags are a list instead of a comma-separated text)."""

    name = StrictCharField(max_length=200)
    description = StrictCharField(max_length=5000, allow_blank=True, required=False)
    starts_at = serializers.DateTimeField(allow_null=True, required=False)
    expires_at = serializers.DateTimeField(allow_null=True, required=False)
    auto_renew = serializers.BooleanField(required=False)
    notify_days_before_expiry = serializers.IntegerField(min_value=0, max_value=365, required=False)
    tags = serializers.ListField(
        child=StrictCharField(max_length=40), max_length=20, required=False, help_text="At most 20 tags."
    )

    def validate(self, attrs):
        return validate_period(
            attrs, self.instance, "starts_at", "expires_at", _("The project must expire after it starts.")
        )


@extend_schema_field({"type": "string", "pattern": r"^[-a-zA-Z0-9_]+$"})
class ProjectSlugField(StrictSlugRelatedField):
    """A project of the request's company, by slug; other companies' projects do not exist."""

    default_error_messages = {"does_not_exist": gettext_lazy("There is no project “{value}” in this company.")}

    def __init__(self, **kwargs):
        super().__init__(slug_field="slug", **kwargs)

    def get_queryset(self):
        return Project.objects.for_company(self.context["request"].tenant.company)


def _project_queryset(request):
    # The company comes along for album_url (its public base URL).
    return Project.objects.for_company(request.tenant.company).select_related("company").with_portrait_counts()


class ProjectListApi(TenantApiView):
    pagination_class = Pagination

    class FilterSerializer(QuerySerializer):
        status = StrictChoiceField(choices=Project.Status.choices, required=False)

    query_serializer = FilterSerializer

    @extend_schema(
        operation_id="projects_list",
        summary="List projects",
        parameters=[FilterSerializer],
        responses=ProjectOutputSerializer(many=True),
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        projects = _project_queryset(request)
        if "status" in filters.validated_data:
            projects = projects.filter(status=filters.validated_data["status"])
        return paginated(self, request, projects, ProjectOutputSerializer)


class ProjectCreateApi(TenantApiView):
    @extend_schema(
        operation_id="projects_create",
        summary="Create a project",
        description="The slug is made from the name. Refused with 400 when the plan's project limit is reached.",
        request=ProjectInputSerializer,
        responses={201: ProjectOutputSerializer},
    )
    def post(self, request):
        membership = check_write(request)
        serializer = ProjectInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        project = services.create_project(
            company=membership.company, created_by=request.user, **serializer.validated_data
        )
        project = _project_queryset(request).get(pk=project.pk)
        return Response(ProjectOutputSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetailApi(TenantApiView):
    @extend_schema(operation_id="projects_retrieve", summary="Get a project", responses=ProjectOutputSerializer)
    def get(self, request, slug):
        project = scoped_get(request, _project_queryset(request), slug=slug)
        return Response(ProjectOutputSerializer(project).data)


class ProjectUpdateApi(TenantApiView):
    @extend_schema(
        operation_id="projects_partial_update",
        summary="Change a project",
        description="Only the fields sent are changed.",
        request=ProjectInputSerializer(partial=True),
        responses=ProjectOutputSerializer,
    )
    def patch(self, request, slug):
        project = get_project_for_user(request, slug, write=True)
        serializer = ProjectInputSerializer(project, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        if serializer.validated_data:
            services.update_project(project=project, **serializer.validated_data)
        project = _project_queryset(request).get(pk=project.pk)
        return Response(ProjectOutputSerializer(project).data)
