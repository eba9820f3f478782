"""The portal's first page and its analytics; included into the ``portal`` namespace by
``arv/portal_urls.py``."""

from django.urls import path

from analytics import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("analytics/", views.company_analytics, name="analytics"),
    path("analytics.csv", views.company_analytics_csv, name="analytics_csv"),
    path("projects/<slug:slug>/analytics/", views.project_analytics, name="project_analytics"),
    path("projects/<slug:slug>/analytics.csv", views.project_analytics_csv, name="project_analytics_csv"),
    path("portraits/<uuid:uuid>/analytics/", views.portrait_analytics, name="portrait_analytics"),
    path("portraits/<uuid:uuid>/analytics.csv", views.portrait_analytics_csv, name="portrait_analytics_csv"),
]
