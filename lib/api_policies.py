"""API policies named in ``REST_FRAMEWORK`` settings.

Kept apart from ``lib.api``: DRF's ``APIView`` imports these classes from the settings when its
own module loads, so this module must not import ``rest_framework.views`` itself.
"""

from django.utils.translation import gettext as _
from rest_framework import exceptions, throttling
from rest_framework.pagination import PageNumberPagination
from rest_framework.settings import api_settings

from lib.addresses import client_key


class Pagination(PageNumberPagination):
    """Page numbers, strictly: a page or page size that is not a whole number in range is a 400
    naming the parameter, where DRF would silently use another value."""

    page_size_query_param = "page_size"
    max_page_size = 100

    def paginate_queryset(self, queryset, request, view=None):
        errors = {}
        for name, maximum in ((self.page_query_param, None), (self.page_size_query_param, self.max_page_size)):
            values = request.query_params.getlist(name)
            if len(values) > 1:
                errors[name] = [_("Give this parameter only once.")]
            elif values and not (values[0].isascii() and values[0].isdigit() and int(values[0]) >= 1):
                errors[name] = [_("Must be a whole number from 1.")]
            elif values and maximum and int(values[0]) > maximum:
                errors[name] = [_("At most %(max)d.") % {"max": maximum}]
        if errors:
            raise exceptions.ValidationError(errors)
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["maximum"] = self.max_page_size
        return parameters


class _RateFromSettings:
    """Read the rate when a request comes: DRF's class attribute would freeze it at import.

    Anonymous clients are counted by the address every other limit uses (lib.addresses): DRF's
    own get_ident keys on the whole X-Forwarded-For header when NUM_PROXIES is unset, so a client
    rotating that header would get a fresh allowance per request, and it counts IPv6 addresses
    one by one where a client owns a /64.
    """

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_ident(self, request):
        return client_key(request)


class UserRateThrottle(_RateFromSettings, throttling.UserRateThrottle):
    pass


class AnonRateThrottle(_RateFromSettings, throttling.AnonRateThrottle):
    pass
