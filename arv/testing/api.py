"""Helpers for the REST API tests of every app."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from companies.models import ApiToken


def reset_throttles(*users) -> None:
    """Forget the throttle history of *users* and of anonymous local clients.

    The history lives in the shared cache (a directory that outlives the test run, and user ids
    repeat between tests), so without this a long run could be throttled by earlier tests.
    """
    # DRF's user throttle counts anonymous clients by address too.
    local = ["throttle_anon_127.0.0.1", "throttle_user_127.0.0.1"]
    cache.delete_many([f"throttle_user_{user.pk}" for user in users] + local)


# Keys this process issued, by user id: only hashes are stored, so a second client for the same
# user reuses the key (a new one would revoke the first client's).
_keys: dict[int, str] = {}


def api_key(user) -> str:
    """*user*'s API key: the one issued earlier in this test if it still works, else a new one."""
    key = _keys.get(user.pk)
    if key is None or not ApiToken.objects.for_key(key).filter(user=user).exists():
        token, key = ApiToken.issue(user)
        # As a token in steady use: its "last used" was written in the last few minutes, so
        # requests do not write it again (the query counts asserted are a running client's).
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        _keys[user.pk] = key
    return key


def token_client(user, *, company: str | None = None) -> APIClient:
    """An API client authenticated with *user*'s token, acting in *company* (a slug) if given."""
    key = api_key(user)
    client = APIClient()
    headers = {"HTTP_AUTHORIZATION": f"Token {key}"}
    if company:
        headers["HTTP_X_COMPANY"] = company
    client.credentials(**headers)
    reset_throttles(user)
    return client


def stored_files() -> list[Path]:
    """Every file under MEDIA_ROOT (the tests' isolated media directory)."""
    root = Path(settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def errors_of(response) -> dict[str, list[str]]:
    """The field errors of a 400, after checking the documented error shape."""
    assert response.status_code == 400, (response.status_code, response.content[:500])
    body = response.json()
    assert body["code"] == "invalid" and body["detail"]
    return body["errors"]
