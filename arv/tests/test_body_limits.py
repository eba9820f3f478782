"""Oversized bodies are refused by their Content-Length before anything reads them (issue 16,
"also noted"): the CSRF middleware parses multipart bodies before any login check."""

import socket

import pytest
from django.urls import reverse

from lib.bodylimit import ANONYMOUS_MAX_BODY_BYTES, max_body_bytes

# Anyone gets a CSRF cookie from the log-in page; with one, the CSRF check parses the body.
CSRF_COOKIE = "csrftoken=" + "a" * 32


def raw_post(live_server, path: str, *, length: int, cookie: str = "", body: bytes = b"") -> tuple[int, str]:
    """POST over a real socket declaring *length* bytes but sending only *body*: a server that
    tried to read the body would wait for the rest, and the read below would time out."""
    host, port = live_server.thread.host, live_server.thread.port
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}",
        "Content-Type: multipart/form-data; boundary=x",
        f"Content-Length: {length}",
        f"Cookie: {'; '.join(filter(None, [CSRF_COOKIE, cookie]))}",
        "Connection: close",
    ]
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.split(b"\r\n\r\n", 1)[1]:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _sep, content = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, content.decode(errors="replace")


@pytest.mark.django_db(transaction=True)
def test_an_anonymous_10_gb_upload_is_refused_before_its_body_is_read(live_server):
    status, text = raw_post(live_server, reverse("portal:portrait_upload", args=["weddings"]), length=10 * 2**30)
    assert status == 413
    assert "The request is 10.0\xa0GB; at most" in text


@pytest.mark.django_db(transaction=True)
def test_an_anonymous_body_over_the_anonymous_cap_is_refused(live_server):
    status, text = raw_post(live_server, "/accounts/login/", length=ANONYMOUS_MAX_BODY_BYTES + 1)
    assert status == 413
    assert "more than is accepted before logging in (64.0\xa0KB). Log in first." in text


@pytest.mark.django_db(transaction=True)
def test_the_api_answers_in_its_own_error_shape(live_server):
    status, text = raw_post(live_server, "/api/v1/portraits/", length=max_body_bytes() + 1)
    assert status == 413
    import json

    body = json.loads(text)
    assert body["code"] == "too_large" and body["detail"].startswith("The request is")


@pytest.mark.django_db(transaction=True)
def test_a_logged_in_user_may_send_an_upload_but_not_more(live_server, tenants, client):
    client.force_login(tenants.owner)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    path = reverse("portal:portrait_upload", args=[tenants.project_a.slug])
    status, _text = raw_post(live_server, path, length=max_body_bytes() + 1, cookie=cookie)
    assert status == 413
    # Within the limit the body is read: here the CSRF check finds no token in it and refuses (403).
    small = b"--x--\r\n"
    status, _text = raw_post(live_server, path, length=len(small), cookie=cookie, body=small)
    assert status == 403


@pytest.mark.django_db(transaction=True)
def test_a_batch_upload_may_be_as_large_as_a_batch_and_no_larger(live_server, tenants, client, settings):
    """The batch pages accept BATCH_MAX_MB; every other page keeps the photo-and-video limit."""
    from lib.bodylimit import view_limit

    settings.BATCH_MAX_MB = 2048
    client.force_login(tenants.owner)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    batch = reverse("portal:batch_upload", args=[tenants.project_a.slug])
    assert view_limit(batch) == (2048 + 1) * 2**20
    assert view_limit("/api/v1/batches/") == (2048 + 1) * 2**20
    assert view_limit(reverse("portal:portrait_upload", args=[tenants.project_a.slug])) == max_body_bytes()
    assert view_limit("/no/such/page/") == max_body_bytes()
    # Above the batch limit: refused before the body is read, like everything else.
    status, text = raw_post(live_server, batch, length=view_limit(batch) + 1, cookie=cookie)
    assert status == 413 and "at most 2.0\xa0GB" in text
    status, _text = raw_post(live_server, "/api/v1/batches/", length=view_limit(batch) + 1)
    assert status == 413
    # Anonymous: still the anonymous cap, whatever the page accepts from its users.
    status, text = raw_post(live_server, batch, length=max_body_bytes() + 1)
    assert status == 413 and "Log in first." in text


@pytest.mark.django_db
def test_small_anonymous_posts_and_the_beacon_pass(client, ready_portrait):
    import json
    import uuid

    from arv.testing.factories import PHONE

    assert client.post("/accounts/login/", {"username": "x", "password": "y"}).status_code == 200
    response = client.post(
        reverse("viewer:beacon", args=[ready_portrait.unique_id]),
        json.dumps({"session": str(uuid.uuid4())}),
        content_type="application/json",
        HTTP_USER_AGENT=PHONE,
    )
    assert response.status_code == 204


def test_the_cap_follows_the_upload_limits(settings):
    settings.UPLOAD_MAX_MB, settings.VIDEO_MAX_MB = 20, 200
    assert max_body_bytes() == 221 * 2**20


@pytest.mark.django_db
def test_the_api_asks_for_credentials_before_it_judges_a_forms_size(client):
    """A request without credentials gets the API's 401 (DRF reads no body before authenticating),
    as its schema promises; only the cap for everyone applies there."""
    body = b"x" * (ANONYMOUS_MAX_BODY_BYTES + 1)
    response = client.post("/api/v1/projects/", body, content_type="application/json")
    assert response.status_code == 401
