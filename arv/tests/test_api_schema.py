"""The OpenAPI schema is valid, complete, and its docs page works offline."""

import json
import re

import pytest
import yaml
from django.core.management import call_command
from django.urls import URLPattern

from arv import api_urls
from arv.testing.api import reset_throttles

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def schema(tmp_path_factory, django_db_blocker):
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    with django_db_blocker.unblock():
        # drf-spectacular's own validation against the OpenAPI 3.0 specification, and no warning
        # (a warning means inference went wrong somewhere and the schema is not accurate).
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def api_operations() -> set[tuple[str, str]]:
    """(path, method) of every operation the URLconf serves under /api/v1/."""
    operations = set()
    for pattern in api_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        if pattern.name == "not_found":
            continue
        path = "/api/v1/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))
        callback = pattern.callback
        views = getattr(callback, "method_views", None)
        methods = list(views) if views else [m for m in HTTP_METHODS if hasattr(callback.view_class, m)]
        operations |= {(path, method) for method in methods}
    return operations


def test_every_api_url_and_method_is_in_the_schema(schema):
    documented = {(path, method) for path, item in schema["paths"].items() for method in item}
    served = api_operations()
    assert len(served) == 36
    assert served == documented


def test_every_operation_documents_its_errors_and_the_company_header(schema):
    operation_ids = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            operation_ids.append(operation["operationId"])
            assert operation.get("summary"), (path, method)
            # 400 at least for users of several companies who send no X-Company (company_required).
            assert {"400", "401", "403", "429"} <= set(operation["responses"]), (path, method)
            assert "company_required" in operation["responses"]["400"]["description"], (path, method)
            if "{" in path:
                assert "404" in operation["responses"], (path, method)
            headers = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
            assert headers == ["X-Company"], (path, method)
            assert operation["security"] == [{"tokenAuth": []}, {"cookieAuth": []}]
    assert len(operation_ids) == len(set(operation_ids))


def test_uploads_are_multipart_with_binary_files(schema):
    create = schema["paths"]["/api/v1/portraits/"]["post"]["requestBody"]["content"]
    assert list(create) == ["multipart/form-data"]
    component = create["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[-1]
    fields = schema["components"]["schemas"][component]
    assert fields["properties"]["image"] == {
        "type": "string",
        "format": "binary",
        "description": "JPEG, PNG, WebP or HEIC; at least 480 px on the short side.",
    }
    assert sorted(fields["required"]) == ["image", "project"]


def test_portrait_representation_has_what_integrations_need(schema):
    portrait = schema["components"]["schemas"]["PortraitOutput"]["properties"]
    for name in ["id", "status", "viewer_url", "qr_png_url", "qr_svg_url", "markers", "videos"]:
        assert name in portrait
    marker = schema["components"]["schemas"]["Marker"]["properties"]
    assert {"status", "score", "warnings", "url"} <= set(marker)


@pytest.mark.django_db
def test_schema_and_docs_are_served_without_a_cdn(client):
    reset_throttles()
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert yaml.safe_load(response.content)["info"]["title"] == "ARV API"
    assert client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["openapi"].startswith("3.")
    reset_throttles()
    html = client.get("/api/docs/").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    for asset in assets:
        assert asset.startswith("/"), asset  # nothing from another host
        assert not asset.startswith("//"), asset
        if asset.startswith("/static/"):
            assert client.get(asset).status_code == 200, asset


def test_docs_start_swagger_ui_from_a_static_script_not_an_inline_one(client):
    """The site's policy (script-src 'self') blocks inline scripts: drf-spectacular's page was
    blank in production (issue 22). Here every executable script is a same-origin file."""
    reset_throttles()
    response = client.get("/api/docs/")
    html = response.content.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts
    for attributes, body in scripts:
        if 'type="application/json"' in attributes:
            continue  # data, not code: the start-up script reads its settings from it
        assert 'src="/' in attributes and not body.strip(), attributes
    assert any("js/api-docs" in attributes for attributes, _body in scripts)
    config = json.loads(re.search(r'id="api-docs-config" type="application/json">(.*?)</script>', html, re.S)[1])
    assert config["schemaUrl"] == "/api/schema/"
    assert config["csrfCookie"] == "csrftoken" and config["csrfHeader"] == "X-CSRFTOKEN"
    # The page sets the CSRF cookie for "Try it out" with the session, but never writes a token
    # into itself: the script reads the cookie when it makes a request.
    token = response.cookies["csrftoken"].value
    assert token and token not in html
