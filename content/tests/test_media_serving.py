import pytest
from django.core.files.base import ContentFile

from arv.storage import storage_for_company


@pytest.fixture
def stored(tenants):
    storage = storage_for_company(tenants.a)
    data = bytes(range(256)) * 40
    name = storage.save("alpha/weddings/x/video-abc.mp4", ContentFile(data))
    return storage, name, data


@pytest.mark.django_db
def test_full_and_range_requests(client, stored):
    storage, name, data = stored
    url = storage.url(name)
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert response["Accept-Ranges"] == "bytes" and response["Content-Type"] == "video/mp4"
    assert "immutable" in response["Cache-Control"] and response["X-Content-Type-Options"] == "nosniff"
    response = client.get(url, HTTP_RANGE="bytes=100-199")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert b"".join(response.streaming_content) == data[100:200]
    response = client.get(url, HTTP_RANGE="bytes=-10")
    assert b"".join(response.streaming_content) == data[-10:]
    response = client.get(url, HTTP_RANGE="bytes=10000-")
    assert b"".join(response.streaming_content) == data[10000:]
    response = client.get(url, HTTP_RANGE=f"bytes={len(data)}-")
    assert response.status_code == 416 and response["Content-Range"] == f"bytes */{len(data)}"


@pytest.mark.django_db
def test_unknown_types_are_downloads_never_html(client, tenants):
    storage = storage_for_company(tenants.a)
    name = storage.save("alpha/x/evil.html", ContentFile(b"<script>alert(1)</script>"))
    response = client.get(storage.url(name))
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_traversal_and_missing_files_are_404(client, stored):
    storage, name, _ = stored
    base = storage.url(name).rsplit("/alpha/", 1)[0]
    assert client.get(base + "/../../etc/passwd").status_code == 404
    assert client.get(base + "/alpha/nothing.mp4").status_code == 404
    assert client.get("/media/999999/alpha/x.mp4").status_code == 404
    assert client.post(storage.url(name)).status_code == 405


@pytest.mark.django_db
@pytest.mark.parametrize("state", ["inactive", "expired"])
def test_nothing_of_an_inactive_or_expired_company_is_served(client, stored, tenants, state):
    from datetime import timedelta

    from django.utils import timezone

    storage, name, _ = stored
    assert client.get(storage.url(name)).status_code == 200
    if state == "inactive":
        tenants.a.is_active = False
    else:
        tenants.a.subscription_expires_at = timezone.now() - timedelta(minutes=1)
    tenants.a.save()
    assert client.get(storage.url(name)).status_code == 404
