"""Every string field of the REST API takes strings only (issue 16, item 11).

``PATCH /api/v1/portraits/{uuid}/videos/{id}/`` with ``{"title": 22144}`` answered 200 and stored
"22144". The fields to check are found, not listed: every serializer the API modules define, and
every string property of every JSON request body in the OpenAPI schema.
"""

from __future__ import annotations

import pytest
from drf_spectacular.settings import spectacular_settings
from rest_framework import serializers

from arv.testing.api import token_client
from lib.api_fields import STRICT_VERSIONS, StrictStringMixin

API_MODULES = ("arv.", "analytics.", "companies.", "content.", "markers.", "photos.", "viewer.", "webhooks.")
NOT_STRINGS = [22144, 1.5, True, [], {}, ["a"], {"a": "b"}]


def api_serializer_classes() -> list[type]:
    found, todo = [], [serializers.BaseSerializer]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith(API_MODULES) and ".tests." not in cls.__module__:
            found.append(cls)
    return sorted(set(found), key=lambda c: f"{c.__module__}.{c.__qualname__}")


def walk(field, path: str):
    yield path, field
    if isinstance(field, serializers.BaseSerializer):
        inner = field.child if isinstance(field, serializers.ListSerializer) else field
        for name, sub in inner.fields.items():
            yield from walk(sub, f"{path}.{name}")
    elif isinstance(field, (serializers.ListField, serializers.DictField)):
        yield from walk(field.child, f"{path}[]")


def test_the_serializers_use_only_strict_string_fields():
    import arv.api_urls  # noqa: F401 - imports every API module, so their serializers exist

    classes = api_serializer_classes()
    assert len(classes) > 15  # the walk found the API's serializers
    loose = []
    for cls in classes:
        for path, field in walk(cls(), cls.__qualname__):
            if isinstance(field, tuple(STRICT_VERSIONS)) and not isinstance(field, StrictStringMixin):
                loose.append(f"{cls.__module__}: {path} ({type(field).__name__})")
    assert not loose, "use the lib.api_fields version of: " + ", ".join(loose)


# --- Behaviour: every string property of every JSON request body --------------------------------------


def _schema() -> dict:
    return spectacular_settings.DEFAULT_GENERATOR_CLASS().get_schema(request=None, public=True)


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    if "allOf" in node and len(node["allOf"]) == 1:
        return _resolve(schema, node["allOf"][0])
    return node


def json_string_properties() -> list[tuple[str, str, str, bool]]:
    """(method, path, property, is an array of strings) for each string in a JSON request body."""
    schema = _schema()
    found = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if not body:
                continue
            for name, prop in _resolve(schema, body["schema"]).get("properties", {}).items():
                prop = _resolve(schema, prop)
                if prop.get("readOnly"):
                    continue
                if prop.get("type") == "string" or "enum" in prop:
                    found.append((method, path, name, False))
                elif prop.get("type") == "array" and _resolve(schema, prop["items"]).get("type") == "string":
                    found.append((method, path, name, True))
    return sorted(found)


def test_the_schema_walk_finds_the_json_string_fields():
    found = {(m, p, n) for m, p, n, _a in json_string_properties()}
    assert ("patch", "/api/v1/portraits/{uuid}/videos/{video_id}/", "title") in found
    assert ("post", "/api/v1/projects/", "tags") in found
    assert len(found) >= 15


@pytest.fixture
def objects(tenants, make_portrait, settings):
    from webhooks import services as webhooks

    portrait = make_portrait(tenants.project_a, title="Anna", with_video=True)
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True  # never called here
    endpoint, _secret = webhooks.create_endpoint(
        company=tenants.a, url="http://127.0.0.1:9/hook", event_types=["portrait.ready"]
    )
    return {
        "uuid": portrait.unique_id,
        "video_id": portrait.videos.get().pk,
        "slug": "weddings",
        "endpoint_id": endpoint.public_id,
    }


def snapshot():
    from companies.models import Project
    from content.models import Portrait, Video
    from webhooks.models import Endpoint

    return [list(m.objects.order_by("pk").values()) for m in (Project, Portrait, Video, Endpoint)]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "name", "is_array"), json_string_properties())
def test_a_string_field_refuses_every_other_json_type(tenants, objects, method, path, name, is_array):
    client = token_client(tenants.owner)
    url = path.format(**objects)
    before = snapshot()
    for value in NOT_STRINGS:
        body = {"name": "Valid name"} if (method, path) == ("post", "/api/v1/projects/") else {}
        body[name] = [value] if is_array else value
        response = getattr(client, method)(url, body, format="json")
        assert response.status_code == 400, (url, body, response.status_code, response.content[:300])
        errors = response.json()["errors"]
        key = f"{name}.0" if is_array else name
        assert key in errors, (body, errors)
    assert snapshot() == before


@pytest.mark.django_db
def test_the_review_request_gets_a_400_and_stores_nothing(tenants, objects):
    from content.models import Video

    url = "/api/v1/portraits/{uuid}/videos/{video_id}/".format(**objects)
    response = token_client(tenants.owner).patch(url, {"title": 22144}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"title": ["Not a valid string."]}
    assert Video.objects.get(pk=objects["video_id"]).title == "Clip"
    # A string is still fine.
    response = token_client(tenants.owner).patch(url, {"title": "22144"}, format="json")
    assert response.status_code == 200 and response.json()["title"] == "22144"
