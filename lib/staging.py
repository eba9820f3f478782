"""The platform's private staging storage: batch uploads wait here until they become portraits.

A batch is uploaded through one web machine and unpacked, checked and turned into portraits by
workers on any machine, so its files must be where every machine sees them: a directory that all
of them mount (the default, ``BATCH_STAGING_DIR``, is ``VAR_DIR/staging``, which is enough when web
and worker share a disk, as in the embedded setup), or an S3 bucket (``BATCH_STAGING_S3_BUCKET``
and its ``BATCH_STAGING_S3_*`` settings). It is never a company's storage and never under
``MEDIA_ROOT``: nothing here has a public URL, and the app only ever streams a staged file to a
member of the batch's company after the access checks.

Names are chosen by the batch code (``batches/<uuid>/…``), never taken from an upload, so the
same name is written again when a step is retried: the storage overwrites instead of renaming.
Failures are :class:`~lib.storage.StorageUnavailable` (transient) or ``FileNotFoundError``, as for
company storages.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage

from lib.storage import StorageUnavailable, remember_secrets, s3_settings, s3_storage_class

PREFIX = "batches"


class LocalStagingStorage(FileSystemStorage):
    """A private directory: no base URL, owner-only permissions, overwrite on retry."""

    def __init__(self, location: Path):
        super().__init__(
            location=location,
            base_url=None,
            file_permissions_mode=0o600,
            directory_permissions_mode=0o700,
            allow_overwrite=True,
        )

    def url(self, name):  # pragma: no cover - nothing here may ever be linked to
        raise ValueError("staged files have no URL")

    def local_path(self, name: str) -> Path | None:
        return Path(self.path(name))

    def delete_tree(self, prefix: str) -> None:
        shutil.rmtree(self.path(prefix), ignore_errors=True)

    def list_dirs(self, prefix: str) -> list[str]:
        try:
            return self.listdir(prefix)[0]
        except FileNotFoundError:
            return []


@functools.cache
def _s3_class():
    class S3StagingStorage(s3_storage_class()):
        def local_path(self, name: str) -> Path | None:
            return None

        def delete_tree(self, prefix: str) -> None:
            with self._errors():
                bucket = self.bucket
                key = self._normalize_name(prefix.rstrip("/") + "/")
                bucket.objects.filter(Prefix=key).delete()

        def list_dirs(self, prefix: str) -> list[str]:
            return self.listdir(prefix)[0]

    return S3StagingStorage


def _build() -> Storage:
    s3 = settings.BATCH_STAGING_S3
    if s3["bucket"]:
        secrets = [s3["secret_access_key"]]
        remember_secrets(secrets)
        options = s3_settings(
            bucket=s3["bucket"],
            base_path=s3["prefix"],
            options={
                "endpoint_url": s3["endpoint_url"],
                "region": s3["region"],
                "addressing_style": s3["addressing_style"],
            },
            credentials={"access_key_id": s3["access_key_id"], "secret_access_key": s3["secret_access_key"]},
        )
        # Private and overwritten on retry: no public domain, no cache headers for browsers.
        options.update(file_overwrite=True, custom_domain=None, object_parameters={})
        return _s3_class()(secrets=secrets, **options)
    return LocalStagingStorage(Path(settings.BATCH_STAGING_DIR))


@functools.cache
def _cached(key: tuple) -> Storage:
    return _build()


def staging_storage() -> Storage:
    """The staging storage for the current settings (rebuilt when tests change them)."""
    s3 = settings.BATCH_STAGING_S3
    return _cached((str(settings.BATCH_STAGING_DIR), s3["bucket"], s3["endpoint_url"], s3["prefix"]))


def batch_prefix(batch_uuid) -> str:
    return f"{PREFIX}/{batch_uuid}"


def save(name: str, content) -> None:
    """Write *content* (a File) at exactly *name*; a local temporary upload is moved, not copied."""
    storage = staging_storage()
    try:
        saved = storage.save(name, content)
    except (FileNotFoundError, StorageUnavailable):
        raise
    except Exception as exc:
        raise StorageUnavailable(f"{type(exc).__name__}: {exc}") from exc
    if saved != name:  # pragma: no cover - overwrite is on; a rename would lose track of the file
        raise StorageUnavailable(f"staging renamed {name} to {saved}")


def delete_tree(prefix: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        staging_storage().delete_tree(prefix)


def stored_batch_dirs() -> list[str]:
    """UUIDs (as text) of every batch that has something in staging."""
    try:
        return staging_storage().list_dirs(PREFIX)
    except FileNotFoundError:
        return []


def open_local(name: str, workdir: Path) -> Path:
    """A local path holding the staged file: the file itself on a local staging directory, else
    a copy downloaded into *workdir* in chunks (never whole into memory)."""
    storage = staging_storage()
    path = storage.local_path(name)
    if path is not None:
        if not path.exists():
            raise FileNotFoundError(name)
        return path
    target = workdir / Path(name).name
    try:
        with storage.open(name, "rb") as remote, open(target, "wb") as local:
            shutil.copyfileobj(remote, local, 1024 * 1024)
    except (FileNotFoundError, StorageUnavailable):
        raise
    except Exception as exc:
        raise StorageUnavailable(f"{type(exc).__name__}: {exc}") from exc
    return target
