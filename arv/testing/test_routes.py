"""The page tour's route list and classifier (arv/testing/routes.py), without a browser."""

import pytest
from django.contrib.auth.admin import UserAdmin
from django.test import Client

from arv.testing import routes as r
from markers.admin import JobAdmin


def route(label: str) -> r.Route:
    return next(x for x in r.routes() if x.label == label)


def test_every_leaf_of_the_url_configuration_with_its_parameters():
    found = {x.label: x for x in r.routes()}
    assert found["portal:video_edit"].pattern == "portal/portraits/<uuid:uuid>/videos/<int:pk>/edit/"
    assert dict(found["portal:video_edit"].converters) == {"uuid": "uuid", "pk": "int"}
    app_list = found["admin:app_list"]
    assert dict(app_list.converters) == {"app_label": "regex"}
    assert app_list.fill({"app_label": "content"}) == "/admin/content/"
    assert found["viewer:page"].fill({"uuid": "x"}) == "/v/x/"


def test_back_office_routes_know_their_model_admin_even_for_custom_views():
    assert isinstance(route("admin:markers_job_inspect").model_admin, JobAdmin)
    assert isinstance(route("admin:auth_user_password_change").model_admin, UserAdmin)
    assert isinstance(route("admin:markers_job_changelist").model_admin, JobAdmin)
    assert route("admin:index").model_admin is None
    assert route("portal:dashboard").model_admin is None


def test_a_route_shadowed_by_an_earlier_one_is_named_as_such():
    shadowed = [x for x in r.routes() if x.label == "login"][1]  # Django's, after our own
    assert r.combinations(shadowed, {}) == ([], r.SHADOWED + "login")


def test_parameters_come_from_the_candidates_and_must_resolve_back():
    edit = route("portal:video_edit")
    paths, why = r.combinations(edit, {"uuid": ["7d3c6b57-3f1a-4d7e-9d43-3e2c8a6a1f00"], "int": [3, 4]})
    assert why == "" and len(paths) == 2
    assert r.combinations(edit, {"uuid": ["not-a-uuid"], "int": [3]}) == (
        [],
        "no candidate value makes a URL of this route",
    )
    assert r.combinations(edit, {"int": [3]})[1] == "no value for <uuid:uuid>"


@pytest.mark.django_db
def test_each_kind_of_route_is_classified(tenants, make_user):
    clients = {role: Client(raise_request_exception=False) for role in r.ROLES}
    clients[r.VIEWER].force_login(tenants.viewer)
    clients[r.OWNER].force_login(tenants.owner)
    clients[r.STAFF].force_login(make_user("staff", is_staff=True, is_superuser=True))
    labels = ["landing", "portal:project_create", "admin:index", "favicon", "logout", "media", "portal:project_edit"]
    result = {
        c.route.label: c
        for c in r.classify(
            [route(label) for label in labels], clients, {"slug": ["weddings"]}, {"media": "stored files"}
        )
    }
    assert [(v.role, v.status) for v in result["landing"].visits] == [(r.ANONYMOUS, 200)]
    # A form members may open: the viewer's visit expects the 403 page.
    assert [(v.role, v.status) for v in result["portal:project_create"].visits] == [(r.VIEWER, 403), (r.OWNER, 200)]
    assert [v.path for v in result["portal:project_edit"].visits] == ["/portal/projects/weddings/edit/"] * 2
    assert [(v.role, v.status) for v in result["admin:index"].visits] == [(r.STAFF, 200)]
    assert (result["favicon"].kind, result["favicon"].reason) == ("not a page", "serves image/vnd.microsoft.icon")
    assert result["logout"].reason == "an action: answers GET with 405 (POST only)"
    assert (result["media"].kind, result["media"].reason) == ("excluded", "stored files")


@pytest.mark.django_db
def test_a_server_error_is_reported_not_toured(tenants, monkeypatch):
    from arv import views

    def broken(request):
        raise RuntimeError("boom")

    monkeypatch.setattr(views, "_favicon", broken)
    clients = {role: Client(raise_request_exception=False) for role in r.ROLES}
    (result,) = r.classify([route("favicon")], clients, {}, {})
    assert result.kind == "server error" and "GET /favicon.ico as anonymous: 500" in result.reason
