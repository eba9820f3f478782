"""Portal URLs of batch uploads; included into the ``portal`` namespace by ``arv/portal_urls.py``."""

from django.urls import path

from content import batch_views

urlpatterns = [
    path("projects/<slug:slug>/batches/", batch_views.batch_list, name="batch_list"),
    path("projects/<slug:slug>/batches/new/", batch_views.batch_upload, name="batch_upload"),
    path("projects/<slug:slug>/batches/draft/", batch_views.batch_draft, name="batch_draft"),
    path("batches/<uuid:uuid>/", batch_views.batch_detail, name="batch_detail"),
    path("batches/<uuid:uuid>/status/", batch_views.batch_status, name="batch_status"),
    path("batches/<uuid:uuid>/files/", batch_views.batch_add_file, name="batch_add_file"),
    path("batches/<uuid:uuid>/submit/", batch_views.batch_submit, name="batch_submit"),
    path("batches/<uuid:uuid>/confirm/", batch_views.batch_confirm, name="batch_confirm"),
    path("batches/<uuid:uuid>/cancel/", batch_views.batch_cancel, name="batch_cancel"),
    path("batches/<uuid:uuid>/print.pdf", batch_views.batch_print, name="batch_print"),
    path("batches/<uuid:uuid>/orders.csv", batch_views.batch_csv, name="batch_csv"),
]
