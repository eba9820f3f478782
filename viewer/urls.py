from django.urls import path

from viewer import beacon, views

app_name = "viewer"

urlpatterns = [
    path("v/<uuid:uuid>/", views.page, name="page"),
    path("v/<uuid:uuid>/beacon", beacon.beacon, name="beacon"),
    path("p/<uuid:uuid>/", views.album, name="album"),
]
