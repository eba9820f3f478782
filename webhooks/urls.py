"""Portal URLs of webhooks, included in the portal's namespace by ``arv/portal_urls.py``."""

from django.urls import path

from webhooks import views

urlpatterns = [
    path("webhooks/", views.webhook_list, name="webhook_list"),
    path("webhooks/new/", views.webhook_create, name="webhook_create"),
    path("webhooks/<uuid:public_id>/", views.webhook_detail, name="webhook_detail"),
    path("webhooks/<uuid:public_id>/edit/", views.webhook_edit, name="webhook_edit"),
    path("webhooks/<uuid:public_id>/delete/", views.webhook_delete, name="webhook_delete"),
    path("webhooks/<uuid:public_id>/active/", views.webhook_active, name="webhook_active"),
    path("webhooks/<uuid:public_id>/rotate/", views.webhook_rotate, name="webhook_rotate"),
    path("webhooks/<uuid:public_id>/revoke-previous/", views.webhook_revoke_previous, name="webhook_revoke_previous"),
    path("webhooks/<uuid:public_id>/test/", views.webhook_test, name="webhook_test"),
    path("webhooks/deliveries/<uuid:public_id>/", views.delivery_detail, name="webhook_delivery"),
    path("webhooks/deliveries/<uuid:public_id>/redeliver/", views.delivery_redeliver, name="webhook_redeliver"),
]
