"""URLs of the REST API, mounted at /api/v1/ (namespace ``api``).

Projects are addressed by slug (as in the portal, unique per company, never changed by an
update), portraits by their UUID, videos by id within their portrait. Paths shared by several
operations are served by one view per operation through :func:`lib.api.route`.
"""

from django.urls import path, re_path

from analytics import api as analytics
from companies import api as companies
from content import batch_api as batches
from lib.api import NotFoundApi, route
from photos import api as photos
from webhooks import api as webhooks

app_name = "api"

urlpatterns = [
    path("projects/", route(get=companies.ProjectListApi, post=companies.ProjectCreateApi), name="projects"),
    path(
        "projects/<slug:slug>/",
        route(get=companies.ProjectDetailApi, patch=companies.ProjectUpdateApi),
        name="project",
    ),
    path("projects/<slug:slug>/analytics/", analytics.ProjectAnalyticsApi.as_view(), name="project_analytics"),
    path("portraits/", route(get=photos.PortraitListApi, post=photos.PortraitCreateApi), name="portraits"),
    path(
        "portraits/<uuid:uuid>/",
        route(get=photos.PortraitDetailApi, patch=photos.PortraitUpdateApi, delete=photos.PortraitDeleteApi),
        name="portrait",
    ),
    path("portraits/<uuid:uuid>/markers/", photos.PortraitMarkersApi.as_view(), name="portrait_markers"),
    path("portraits/<uuid:uuid>/regenerate/", photos.PortraitRegenerateApi.as_view(), name="portrait_regenerate"),
    path("portraits/<uuid:uuid>/qr.png", photos.PortraitQrPngApi.as_view(), name="portrait_qr_png"),
    path("portraits/<uuid:uuid>/qr.svg", photos.PortraitQrSvgApi.as_view(), name="portrait_qr_svg"),
    path("portraits/<uuid:uuid>/analytics/", analytics.PortraitAnalyticsApi.as_view(), name="portrait_analytics"),
    path("portraits/<uuid:uuid>/videos/", photos.VideoAddApi.as_view(), name="videos"),
    path(
        "portraits/<uuid:uuid>/videos/<int:video_id>/",
        route(patch=photos.VideoUpdateApi, delete=photos.VideoDeleteApi),
        name="video",
    ),
    path("batches/", route(get=batches.BatchListApi, post=batches.BatchCreateApi), name="batches"),
    path("batches/<uuid:uuid>/", batches.BatchDetailApi.as_view(), name="batch"),
    path("batches/<uuid:uuid>/rows/", batches.BatchRowsApi.as_view(), name="batch_rows"),
    path("batches/<uuid:uuid>/confirm/", batches.BatchConfirmApi.as_view(), name="batch_confirm"),
    path("batches/<uuid:uuid>/cancel/", batches.BatchCancelApi.as_view(), name="batch_cancel"),
    path("batches/<uuid:uuid>/print.pdf", batches.BatchPrintApi.as_view(), name="batch_print"),
    path("batches/<uuid:uuid>/orders.csv", batches.BatchCsvApi.as_view(), name="batch_csv"),
    path(
        "webhooks/endpoints/",
        route(get=webhooks.EndpointListApi, post=webhooks.EndpointCreateApi),
        name="webhook_endpoints",
    ),
    path(
        "webhooks/endpoints/<uuid:endpoint_id>/",
        route(get=webhooks.EndpointDetailApi, patch=webhooks.EndpointUpdateApi, delete=webhooks.EndpointDeleteApi),
        name="webhook_endpoint",
    ),
    path(
        "webhooks/endpoints/<uuid:endpoint_id>/rotate-secret/",
        webhooks.EndpointRotateSecretApi.as_view(),
        name="webhook_endpoint_rotate_secret",
    ),
    path(
        "webhooks/endpoints/<uuid:endpoint_id>/test/",
        webhooks.EndpointTestApi.as_view(),
        name="webhook_endpoint_test",
    ),
    path(
        "webhooks/endpoints/<uuid:endpoint_id>/deliveries/",
        webhooks.DeliveryListApi.as_view(),
        name="webhook_endpoint_deliveries",
    ),
    path("webhooks/deliveries/<uuid:delivery_id>/", webhooks.DeliveryDetailApi.as_view(), name="webhook_delivery"),
    path(
        "webhooks/deliveries/<uuid:delivery_id>/redeliver/",
        webhooks.RedeliverApi.as_view(),
        name="webhook_delivery_redeliver",
    ),
    # Anything else under /api/v1/ (a mistyped path, an id of the wrong shape, even with a newline in
    # it): a JSON 404.
    re_path(r"^[\s\S]*\Z", NotFoundApi.as_view(), name="not_found"),
]
