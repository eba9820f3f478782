"""Portal URLs of projects' photo pages, a photo and its videos; included into the ``portal``
namespace by ``arv/portal_urls.py``."""

from django.urls import path

from photos import views

urlpatterns = [
    path("projects/<slug:slug>/", views.project_detail, name="project_detail"),
    path("projects/<slug:slug>/upload/", views.portrait_upload, name="portrait_upload"),
    path("projects/<slug:slug>/album-qr.png", views.project_album_qr, name="project_album_qr"),
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
