"""The storage backends (local disk, S3-compatible, Yandex Disk), their errors, and the helpers
every caller reads, writes and deletes stored files with.

Which storage holds a company's files is decided in ``companies.storage``; this module knows
nothing of companies, only of the settings a connection is made of.

Whatever the backend, callers see the same two failure modes: ``FileNotFoundError`` for a file that
is not there (permanent), and :class:`StorageUnavailable` for everything else the backend can throw
(transient: network, credentials, a full disk). Messages never carry a stored secret.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage
from django.utils.translation import gettext as _

_lock = threading.Lock()
# Presigned S3 links live this long unless the connection says otherwise.
DEFAULT_URL_EXPIRY_SECONDS = 3600
# Files are immutable under random names, so any cache may keep them forever.
IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable"
# An S3 object read for processing stays in memory up to this size, then spills to a temp file.
S3_READ_MEMORY_BYTES = 16 * 1024 * 1024
REDACTED = "********"
# Content types by extension, for serving and for the objects written to S3: a whitelist, so an
# uploaded name can never become HTML or script.
SAFE_TYPES = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
    "mind": "application/octet-stream",
    "arvm": "application/octet-stream",
    "iset": "application/octet-stream",
    "fset": "application/octet-stream",
    "fset3": "application/octet-stream",
    "pdf": "application/pdf",
}


def content_type_for(name: str) -> str:
    return SAFE_TYPES.get(name.rsplit(".", 1)[-1].lower(), "application/octet-stream")


class StorageUnavailable(Exception):
    """The storage backend could not be reached or refused the operation (transient)."""


def storage_error_message() -> str:
    """What a user is told when :class:`StorageUnavailable` stopped a change."""
    return _("The file storage is not reachable right now, so nothing was saved. Please try again in a few minutes.")


# --- Secrets never leave in messages ------------------------------------------------------------


def redact_secrets(text: str, secrets: Iterable[str]) -> str:
    """*text* with every secret of at least 4 characters replaced (shorter ones match too much)."""
    for secret in sorted((s for s in secrets if isinstance(s, str) and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


_known_secrets: set[str] = set()


def remember_secrets(values: Iterable[str]) -> None:
    """Secrets of every storage this process built, for :class:`RedactSecretsFilter`."""
    with _lock:
        _known_secrets.update(v for v in values if isinstance(v, str) and len(v) >= 4)


class RedactSecretsFilter(logging.Filter):
    """Scrub stored credentials from records of chatty client libraries (yadisk logs the error
    descriptions servers send back, and some servers echo the token they were given)."""

    def filter(self, record: logging.LogRecord) -> bool:
        with _lock:
            secrets = list(_known_secrets)
        if secrets:
            message = record.getMessage()
            cleaned = redact_secrets(message, secrets)
            if cleaned != message:
                record.msg, record.args = cleaned, None
        return True


@contextmanager
def translated_errors(secrets: Iterable[str], *library_errors: type[BaseException]) -> Iterator[None]:
    """Turn *library_errors* and OSError (except a missing file) into StorageUnavailable.

    ``from None``: the library's exception, whose text may hold a secret, must not ride along in
    tracebacks that end up in logs and in jobs' error details.
    """
    try:
        yield
    except (FileNotFoundError, StorageUnavailable):
        raise
    except (OSError, *library_errors) as exc:
        raise StorageUnavailable(redact_secrets(f"{type(exc).__name__}: {exc}", secrets)) from None


# --- Backends -------------------------------------------------------------------------------------


class UnsafeLocation(StorageUnavailable):
    """A local connection's folder lies outside the folders files may live in."""


def local_roots() -> list[Path]:
    """The folders local connections may use: MEDIA_ROOT and the operator's LOCAL_STORAGE_ROOTS."""
    return [Path(root).resolve() for root in (settings.MEDIA_ROOT, *settings.LOCAL_STORAGE_ROOTS)]


def local_location(base_path: str) -> Path:
    """The folder of a local connection, resolved (symlinks and '..' included).

    Raises :class:`UnsafeLocation` unless it is inside MEDIA_ROOT or one of LOCAL_STORAGE_ROOTS:
    everything under a local connection's folder is served at /media/<id>/ (what rows reference
    of it), so a folder such as the app's own directory must never become one.
    """
    base = Path(base_path) if base_path else Path()
    location = (base if base.is_absolute() else Path(settings.MEDIA_ROOT) / base).resolve()
    if not any(location.is_relative_to(root) for root in local_roots()):
        raise UnsafeLocation(
            f"The folder {location} is outside MEDIA_ROOT ({Path(settings.MEDIA_ROOT).resolve()}). Use a folder "
            "inside it, or list the parent folder in the LOCAL_STORAGE_ROOTS setting."
        )
    return location


def local_storage(*, base_path: str, base_url: str) -> Storage:
    return FileSystemStorage(location=local_location(base_path), base_url=base_url)


def media_base_url(connection_id: int) -> str:
    """Where ``viewer.media`` serves the files of a connection it streams (local disk, Yandex Disk)."""
    return f"{settings.MEDIA_URL}{connection_id}/"


def split_public_base_url(url: str) -> tuple[str, str]:
    """S3Storage's (url_protocol, custom_domain) for a public base URL: ("https:", "cdn.example.com/p")."""
    scheme, _, rest = url.partition("://")
    if not rest:
        raise ValueError(f"{url!r} is not an absolute URL")
    return f"{scheme}:", rest.rstrip("/")


def s3_settings(*, bucket: str, base_path: str, options: dict, credentials: dict) -> dict:
    """Keyword arguments for django-storages' S3Storage from a connection's fields."""
    from botocore.config import Config

    public = options.get("public_base_url") or ""
    protocol, domain = split_public_base_url(public) if public else ("https:", None)
    return {
        "bucket_name": bucket,
        # The connection's base path is a key prefix; company prefixes come after it.
        "location": base_path.strip("/"),
        "endpoint_url": options.get("endpoint_url") or None,
        "region_name": options.get("region") or None,
        "access_key": credentials.get("access_key_id") or None,
        "secret_key": credentials.get("secret_access_key") or None,
        # A public base URL (CDN) gives plain links; without one every link is presigned.
        "custom_domain": domain,
        "url_protocol": protocol,
        "querystring_auth": True,
        "querystring_expire": int(options.get("url_expiry_seconds") or DEFAULT_URL_EXPIRY_SECONDS),
        # Names are random and callers check the name they get back: never overwrite silently.
        "file_overwrite": False,
        "default_acl": None,
        "max_memory_size": S3_READ_MEMORY_BYTES,
        "object_parameters": {"CacheControl": IMMUTABLE_CACHE_CONTROL},
        "client_config": Config(
            s3={"addressing_style": options.get("addressing_style") or "auto"},
            signature_version="s3v4",
            # A dead endpoint must fail an upload in seconds, not after botocore's long default back-off.
            connect_timeout=5,
            read_timeout=60,
            retries={"mode": "standard", "max_attempts": 3},
        ),
    }


@functools.cache
def s3_storage_class():
    # Imported on first use: boto3 costs a fifth of a second at start-up of every process.
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError
    from s3transfer import exceptions as transfer
    from storages.backends.s3 import S3Storage

    library_errors = (
        BotoCoreError,
        ClientError,
        Boto3Error,
        transfer.RetriesExceededError,
        transfer.S3DownloadFailedError,
        transfer.S3UploadFailedError,
    )

    class CompanyS3Storage(S3Storage):
        """S3Storage whose failures are FileNotFoundError or StorageUnavailable, never botocore's."""

        def __init__(self, *, secrets: Iterable[str] = (), **kwargs):
            self._secrets = tuple(secrets)
            super().__init__(**kwargs)

        def _errors(self):
            return translated_errors(self._secrets, *library_errors)

        def _open(self, name, mode="rb"):
            with self._errors():
                fh = super()._open(name, mode)
                if "r" in mode:
                    # Download now, so a failure surfaces here (translated), not in a later read().
                    fh.file  # noqa: B018
                return fh

        def _save(self, name, content):
            with self._errors():
                return super()._save(name, content)

        def _get_write_parameters(self, name, content=None):
            # The same whitelist as local serving: an uploaded name can never become HTML.
            return {**super()._get_write_parameters(name, content), "ContentType": content_type_for(name)}

        def delete(self, name):
            with self._errors():
                return super().delete(name)

        def exists(self, name):
            with self._errors():
                return super().exists(name)

        def listdir(self, path):
            with self._errors():
                return super().listdir(path)

        def size(self, name):
            with self._errors():
                return super().size(name)

        def get_modified_time(self, name):
            with self._errors():
                try:
                    return super().get_modified_time(name)
                except ClientError as exc:
                    if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                        raise FileNotFoundError(name) from None
                    raise

        def url(self, name, parameters=None, expire=None, http_method=None):
            with self._errors():
                return super().url(name, parameters, expire, http_method)

    return CompanyS3Storage


def s3_storage(*, bucket: str, base_path: str, options: dict, credentials: dict) -> Storage:
    secrets = [v for v in credentials.values() if isinstance(v, str)]
    remember_secrets(secrets)
    return s3_storage_class()(
        secrets=secrets,
        **s3_settings(bucket=bucket, base_path=base_path, options=options, credentials=credentials),
    )



# --- Helpers: how every caller reads, writes and deletes stored files -------------------------------

logger = logging.getLogger(__name__)


def read(storage: Storage, name: str) -> bytes:
    """*name*'s bytes: ``FileNotFoundError`` if it is not there, :class:`StorageUnavailable` for
    whatever else the backend raised."""
    try:
        with storage.open(name, "rb") as fh:
            return fh.read()
    except (FileNotFoundError, StorageUnavailable):
        raise
    except Exception as exc:
        raise StorageUnavailable(f"{type(exc).__name__}: {exc}") from exc


def write_new(storage: Storage, name: str, content) -> int:
    """Write *content* (a File) at exactly *name*, a fresh random name; returns its size.

    A backend that renamed it means something else wrote there: that file is never overwritten,
    ours is removed and the write fails as :class:`StorageUnavailable`, like any backend error.
    """
    try:
        saved = storage.save(name, content)
    except StorageUnavailable:
        raise
    except Exception as exc:
        # Remote backends raise their own types (botocore, yadisk); callers see one.
        raise StorageUnavailable(f"{type(exc).__name__}: {exc}") from exc
    if saved != name:
        delete_quietly(storage, [saved])
        raise StorageUnavailable(f"storage renamed {name} to {saved}")
    return content.size


def delete_quietly(storage: Storage, names: Iterable[str], *, why: str = "") -> None:
    """Delete *names*, logging (not raising) what could not be: the row no longer names them, so
    the worst case is an orphan file, never a broken row. *why*: what the log line adds."""
    for name in names:
        try:
            storage.delete(name)
        except Exception:
            logger.exception("could not delete %s%s", name, f" {why}" if why else "")
