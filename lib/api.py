"""REST API plumbing shared by the apps' ``api`` modules: errors, pagination, throttles, schema.

The endpoints themselves live next to their services (``companies/api.py``, ``photos/api.py``,
``content/batch_api.py``, ``analytics/api.py``, ``webhooks/api.py``); their URLs are in
``arv/api_urls.py``. Everything here is about *how* the API speaks, never *what* it does:

- one error format: ``{"detail": …, "code": …}``, plus ``"errors": {field: [messages]}`` when the
  input was invalid (Django ``ValidationError``\\s raised by services included);
- :func:`route`: a REST path (``GET`` and ``POST`` on ``projects/``) served by one ``APIView`` per
  operation, as the house style asks, with the schema generator taught to follow it;
- the pagination and throttle classes the settings name are in ``arv/api_policies.py``, which
  must not import DRF's views (APIView reads those settings when it is defined).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from lib.storage import StorageUnavailable, storage_error_message

# --- Errors -----------------------------------------------------------------------------------------


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = gettext_lazy("The service is temporarily unavailable. Please try again later.")
    default_code = "unavailable"


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = gettext_lazy("The request is too large.")
    default_code = "too_large"


def _flatten(errors, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error structure as ``{"field": [...], "tags.0": [...]}``."""
    flat: dict[str, list[str]] = {}
    if isinstance(errors, Mapping):
        for key, value in errors.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for k, v in _flatten(value, name).items():
                flat.setdefault(k, []).extend(v)
    elif isinstance(errors, list) and any(isinstance(e, (list, Mapping)) for e in errors):
        for index, value in enumerate(errors):
            if value:
                flat.update(_flatten(value, f"{prefix}.{index}" if prefix else str(index)))
    else:
        items = errors if isinstance(errors, list) else [errors]
        flat[prefix or api_settings.NON_FIELD_ERRORS_KEY] = [str(e) for e in items]
    return flat


def _django_error_dict(exc: DjangoValidationError) -> dict:
    """A service's ValidationError keyed like a serializer's errors (``__all__`` → non-field)."""
    detail = as_serializer_error(exc)
    if "__all__" in detail:
        detail.setdefault(api_settings.NON_FIELD_ERRORS_KEY, []).extend(detail.pop("__all__"))
    return detail


def exception_handler(exc, context):
    """DRF's handler, with service errors mapped and every body in the one documented shape."""
    if isinstance(exc, Http404):
        # get_object_or_404's "No Portrait matches the given query." says more than clients need.
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(_django_error_dict(exc))
    elif isinstance(exc, StorageUnavailable):
        exc = ServiceUnavailable(storage_error_message())
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django logs it and answers 500
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"detail": _("Invalid input."), "code": "invalid", "errors": _flatten(exc.detail)}
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data.get("detail", "")
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        response.data = {"detail": str(detail), "code": code}
    return response


class QuerySerializer(serializers.Serializer):
    """Query parameters of an endpoint, read strictly: each at most once (a repeated one is
    ambiguous), and an empty value is invalid rather than absent (DRF's HTML-form leniency)."""

    def to_internal_value(self, data):
        if hasattr(data, "getlist"):
            repeated = {
                name: [_("Give this parameter only once.")] for name in self.fields if len(data.getlist(name)) > 1
            }
            if repeated:
                raise exceptions.ValidationError(repeated)
            data = {name: data[name] for name in self.fields if name in data}
        return super().to_internal_value(data)


# --- Views -------------------------------------------------------------------------------------------


BODY_METHODS = {"POST", "PUT", "PATCH"}


class ApiView(APIView):
    """Base of every API view: refuses bodies over ``max_body_bytes`` before anything reads them
    (before authentication too: SessionAuthentication's CSRF check may parse the body)."""

    #: JSON bodies are small; upload views raise this to their files' limits.
    max_body_bytes = 1024 * 1024

    def initial(self, request, *args, **kwargs):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if request.method in BODY_METHODS and length > self.get_max_body_bytes():
            raise RequestTooLarge(
                _("The request is %(size)d MB; at most %(limit)d MB are accepted here.")
                % {"size": -(-length // 2**20), "limit": self.get_max_body_bytes() // 2**20}
            )
        super().initial(request, *args, **kwargs)

    def get_max_body_bytes(self) -> int:
        return self.max_body_bytes


def route(**views: type[APIView]):
    """One URL whose HTTP methods are served by separate views, one ``APIView`` per operation.

    ``path("projects/", route(get=ProjectListApi, post=ProjectCreateApi))``. Each view keeps its
    own serializers, parsers and schema; a method nobody serves is a JSON 405 listing the others.
    """
    handlers = {method.upper(): view.as_view() for method, view in views.items()}
    if "GET" in handlers:
        handlers.setdefault("HEAD", handlers["GET"])
    allowed = sorted(handlers)

    class MethodNotAllowedApi(ApiView):
        permission_classes = [AllowAny]
        throttle_classes = []

        @property
        def allowed_methods(self):
            return allowed

    # The schema generator lists the methods this class has, then builds each operation from the
    # view in ``method_views`` (see ApiSchemaGenerator).
    for method in views:
        setattr(MethodNotAllowedApi, method.lower(), _never_called)
    MethodNotAllowedApi.__name__ = "Route(" + ", ".join(f"{m.upper()}={v.__name__}" for m, v in views.items()) + ")"
    fallback = MethodNotAllowedApi.as_view()

    def view(request, *args, **kwargs):
        handler = handlers.get(request.method)
        if handler is None:
            return fallback(request, *args, **kwargs)
        return handler(request, *args, **kwargs)

    view.cls = MethodNotAllowedApi
    view.initkwargs = {}
    # For lib.bodylimit: the largest body any of its operations accepts (each still checks its own).
    view.max_body_bytes = lambda: max(
        (v().get_max_body_bytes() for v in views.values() if issubclass(v, ApiView)), default=0
    )
    view.method_views = {method.lower(): v for method, v in views.items()}
    # Like APIView.as_view(): CSRF is enforced by SessionAuthentication only, so token requests
    # pass and cookie-authenticated ones must send the CSRF token.
    view.csrf_exempt = True
    return view


def _never_called(self, request, *args, **kwargs):  # pragma: no cover - route() dispatches by method
    raise exceptions.MethodNotAllowed(request.method)


@extend_schema(exclude=True)
class NotFoundApi(ApiView):
    """Any other path under the API: a JSON 404 rather than the site's HTML page."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = []

    def _not_found(self, request, *args, **kwargs):
        raise exceptions.NotFound()

    get = post = put = patch = delete = head = options = _not_found
