"""Portal URLs of the company itself: its projects, members, brand, domain and API key; included
into the ``portal`` namespace by ``arv/portal_urls.py``."""

from django.urls import path

from companies import invitations, tokens, views

urlpatterns = [
    path("switch/", views.switch_company, name="switch_company"),
    path("choose/", views.choose_company, name="choose_company"),
    path("invitations/<int:pk>/accept/", invitations.invitation_accept, name="invitation_accept"),
    path("invitations/<int:pk>/decline/", invitations.invitation_decline, name="invitation_decline"),
    path("projects/", views.project_list, name="project_list"),
    path("projects/new/", views.project_create, name="project_create"),
    path("projects/<slug:slug>/edit/", views.project_edit, name="project_edit"),
    path("projects/<slug:slug>/archive/", views.project_archive, name="project_archive"),
    path("members/", views.member_list, name="member_list"),
    path("members/invite/", views.member_invite, name="member_invite"),
    path("members/<int:pk>/role/", views.member_role, name="member_role"),
    path("members/<int:pk>/remove/", views.member_remove, name="member_remove"),
    path("brand/", views.brand, name="brand"),
    path("brand/domain/", views.domain_set, name="domain_set"),
    path("brand/domain/check/", views.domain_check, name="domain_check"),
    path("brand/domain/remove/", views.domain_remove, name="domain_remove"),
    path("members/leave/", views.leave_company, name="leave_company"),
    path("members/invitations/<int:pk>/resend/", views.invitation_resend, name="invitation_resend"),
    path("members/invitations/<int:pk>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("api-token/", tokens.api_token, name="api_token"),
    path("api-token/create/", tokens.api_token_create, name="api_token_create"),
    path("api-token/revoke/", tokens.api_token_revoke, name="api_token_revoke"),
]
