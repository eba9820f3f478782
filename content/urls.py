"""Portal URLs for portraits and videos; included into the ``portal`` namespace."""

from django.urls import path

from content import batch_views, views

urlpatterns = [
    path("projects/<slug:slug>/", views.project_detail, name="project_detail"),
    path("projects/<slug:slug>/upload/", views.portrait_upload, name="portrait_upload"),
    path("projects/<slug:slug>/album-qr.png", views.project_album_qr, name="project_album_qr"),
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
    path("portraits/<uuid:uuid>/", views.portrait_detail, name="portrait_detail"),
    path("portraits/<uuid:uuid>/status/", views.portrait_status, name="portrait_status"),
    path("portraits/<uuid:uuid>/edit/", views.portrait_edit, name="portrait_edit"),
    path("portraits/<uuid:uuid>/delete/", views.portrait_delete, name="portrait_delete"),
    path("portraits/<uuid:uuid>/regenerate/", views.portrait_regenerate, name="portrait_regenerate"),
    path("portraits/<uuid:uuid>/retry/", views.portrait_retry, name="portrait_retry"),
    path("portraits/<uuid:uuid>/rotation/", views.portrait_rotation, name="portrait_rotation"),
    path("portraits/<uuid:uuid>/qr.png", views.portrait_qr_png, name="portrait_qr_png"),
    path("portraits/<uuid:uuid>/qr.svg", views.portrait_qr_svg, name="portrait_qr_svg"),
    path("portraits/<uuid:uuid>/print.pdf", views.portrait_print_sheet, name="portrait_print_sheet"),
    path("portraits/<uuid:uuid>/videos/add/", views.video_add, name="video_add"),
    path("portraits/<uuid:uuid>/videos/<int:pk>/activate/", views.video_activate, name="video_activate"),
    path("portraits/<uuid:uuid>/videos/<int:pk>/edit/", views.video_edit, name="video_edit"),
    path("portraits/<uuid:uuid>/videos/<int:pk>/move/", views.video_move, name="video_move"),
    path("portraits/<uuid:uuid>/videos/<int:pk>/delete/", views.video_delete, name="video_delete"),
]
