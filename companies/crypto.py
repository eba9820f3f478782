"""Encryption at rest for storage credentials and webhook signing secrets.

Credentials are a JSON object encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from the
`cryptography` package). Keys come from ``FIELD_ENCRYPTION_KEYS`` (comma-separated Fernet keys);
the first one encrypts and every one decrypts, which is what makes rotation possible:

1. generate a key: ``python manage.py rotate_credentials --generate-key``;
2. put it FIRST in ``FIELD_ENCRYPTION_KEYS`` and keep the old ones after it; restart;
3. ``python manage.py rotate_credentials`` re-encrypts every stored secret (storage credentials
   and webhook signing secrets) with the new key;
4. drop the old keys from the setting.

Without ``FIELD_ENCRYPTION_KEYS`` a key is derived from ``SECRET_KEY`` (HKDF), so the embedded
setup works out of the box; changing ``SECRET_KEY`` then needs the old value listed in
``FIELD_ENCRYPTION_KEYS`` as ``secret:<old SECRET_KEY>`` during the rotation.
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class CredentialsUnreadable(Exception):
    """Stored credentials could not be decrypted with any configured key."""


def _derive(secret: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"arv-credentials", info=b"fernet")
    return base64.urlsafe_b64encode(hkdf.derive(secret.encode()))


def _keys() -> list[bytes]:
    configured = getattr(settings, "FIELD_ENCRYPTION_KEYS", []) or []
    keys = []
    for item in configured:
        if item.startswith("secret:"):
            keys.append(_derive(item.removeprefix("secret:")))
        else:
            keys.append(item.encode())
    if not keys:
        keys.append(_derive(settings.SECRET_KEY))
    return keys


@lru_cache(maxsize=8)
def _fernet(keys: tuple[bytes, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"FIELD_ENCRYPTION_KEYS holds a malformed key ({exc}); generate one with "
            "`python manage.py rotate_credentials --generate-key`."
        ) from None


def fernet() -> MultiFernet:
    return _fernet(tuple(_keys()))


def encrypt_json(data: dict) -> str:
    if not data:
        return ""
    return fernet().encrypt(json.dumps(data, sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> dict:
    if not token:
        return {}
    try:
        return json.loads(fernet().decrypt(token.encode()))
    except (InvalidToken, ValueError):
        raise CredentialsUnreadable(
            "The stored credentials cannot be decrypted with the configured keys "
            "(FIELD_ENCRYPTION_KEYS / SECRET_KEY changed?). Enter them again."
        ) from None


def rotate(token: str) -> str:
    """Re-encrypt *token* with the current first key."""
    return fernet().rotate(token.encode()).decode() if token else token


def generate_key() -> str:
    return Fernet.generate_key().decode()
