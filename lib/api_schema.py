"""The API's OpenAPI schema: how drf-spectacular describes ARV's views.

Kept apart from ``lib.api``: ``@extend_schema`` loads ``DEFAULT_SCHEMA_CLASS`` (from here) when a
view module is imported, so this module must not import any view.
"""

from __future__ import annotations

import inspect

from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from lib.api_fields import StrictCharField

COMPANY_HEADER = "X-Company"


class ErrorSerializer(serializers.Serializer):
    detail = StrictCharField(help_text="What went wrong, in plain language.")
    code = StrictCharField(help_text="A stable machine-readable code, e.g. `not_found`, `permission_denied`.")


class ValidationErrorSerializer(ErrorSerializer):
    errors = serializers.DictField(
        child=serializers.ListField(child=StrictCharField()),
        required=False,
        help_text="Messages per input field; `non_field_errors` for the request as a whole, `tags.0` for an "
        "item of a list. Absent when the body could not be parsed at all (`code`: `parse_error`).",
    )


class ApiSchemaGenerator(SchemaGenerator):
    """Builds each operation of a :func:`route` from the view that really serves it."""

    def create_view(self, callback, method, request=None):
        views = getattr(callback, "method_views", None)
        if not views:
            return super().create_view(callback, method, request)
        served_by = views[method.lower()].as_view()
        return super().create_view(served_by, method, request)


def _company_header() -> OpenApiParameter:
    return OpenApiParameter(
        COMPANY_HEADER,
        str,
        OpenApiParameter.HEADER,
        required=False,
        # Empty is the same as absent.
        pattern=r"^[-a-zA-Z0-9_]*$",
        description="Slug of the company to act in. Required for users who belong to several companies "
        "(else 400, `code`: `company_required`); optional for users of one company, and with session auth "
        "the company chosen in the portal is used.",
    )


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema plus what every ARV operation shares: the company header and
    the error responses, so the schema documents every status a client can get."""

    def get_description(self):
        # drf-spectacular falls back to the view's docstring, which inspect.getdoc() inherits from
        # base classes: every endpoint would be described as "Base of every … endpoint".
        own = self.view.__class__.__dict__.get("__doc__")
        return inspect.cleandoc(own) if own else ""

    def get_override_parameters(self):
        params = super().get_override_parameters()
        if getattr(self.view, "tenant_scoped", False):
            params = [*params, _company_header()]
        return params

    def _error_responses(self) -> dict[str, OpenApiResponse]:
        view = self.view
        takes_body = self.method in ("POST", "PUT", "PATCH")
        has_body = takes_body and bool(self.get_request_serializer())
        has_query = bool(getattr(view, "query_serializer", None)) or self._is_list_view()
        has_path_params = "{" in self.path
        errors = {}
        company_required = "`company_required`: the user belongs to several companies and sent no X-Company."
        if has_body or has_query:
            errors["400"] = OpenApiResponse(
                ValidationErrorSerializer,
                "The input is invalid; see `errors`."
                + (f" Or {company_required}" if getattr(view, "tenant_scoped", False) else ""),
            )
        elif getattr(view, "tenant_scoped", False):
            errors["400"] = OpenApiResponse(ErrorSerializer, company_required[0].upper() + company_required[1:])
        if getattr(view, "tenant_scoped", False):
            errors["401"] = OpenApiResponse(ErrorSerializer, "No or invalid credentials.")
            errors["403"] = OpenApiResponse(
                ErrorSerializer,
                "Not allowed: not a member of the company named in X-Company, a viewer trying to change "
                "something, or a deactivated or expired company trying to change something (`detail` says which).",
            )
        if has_path_params or self._is_list_view():
            errors["404"] = OpenApiResponse(ErrorSerializer, "Not found in your company (or no such page of results).")
        if takes_body:
            errors["413"] = OpenApiResponse(ErrorSerializer, "The request body is over the limit.")
        if has_body:
            errors["415"] = OpenApiResponse(ErrorSerializer, "Unsupported content type.")
        if getattr(view, "tenant_scoped", False):
            errors["429"] = OpenApiResponse(ErrorSerializer, "Too many requests; retry after `Retry-After` seconds.")
        if getattr(view, "uses_storage", False):
            errors["503"] = OpenApiResponse(ErrorSerializer, "The file storage is unreachable; nothing was saved.")
        return errors

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, response in self._error_responses().items():
            if code not in responses:
                responses[code] = self._get_response_for_code(response, code, direction=direction)
        return responses
