"""The one place that maps a company to the Django Storage holding its files.

Every file field of a tenant-owned row is a :class:`TenantFileField`: its files are read, written
and linked through ``storage_for_company(instance.company)``, so moving a company to another
storage connection changes where all of its files go without touching any caller.

Storages are built once per connection (by the backends of ``lib.storage``) and cached per
process; the cache entry is keyed by the connection's ``updated_at`` so an edited connection is
rebuilt on next use. The origins of remote connections feed the Content-Security-Policy.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.apps import apps
from django.core.files.storage import Storage
from django.db import models
from django.db.models.fields.files import FieldFile

from lib.storage import delete_quietly, local_storage, media_base_url, remember_secrets, s3_storage
from lib.yandex_storage import YandexDiskStorage

if TYPE_CHECKING:
    from companies.models import Company, StorageConnection

_lock = threading.Lock()
_storages: dict[int, tuple[object, Storage]] = {}
_default: tuple[float, StorageConnection] | None = None
# How long a process trusts its idea of which connection is the platform default.
DEFAULT_CONNECTION_TTL = 30.0
ORIGINS_TTL = 60.0
_origins: tuple[float, tuple[str, ...]] | None = None


def connection_model() -> type[StorageConnection]:
    # companies.models declares its file fields with TenantFileField from here: the model is
    # looked up through the app registry rather than imported back.
    return apps.get_model("companies", "StorageConnection")


def build_storage(connection: StorageConnection) -> Storage:
    """A fresh Storage for *connection*. Nothing is contacted until the first file operation."""
    provider = connection.Provider
    if connection.provider == provider.LOCAL:
        return local_storage(base_path=connection.base_path, base_url=media_base_url(connection.pk))
    if connection.provider == provider.S3:
        return s3_storage(
            bucket=connection.bucket,
            base_path=connection.base_path,
            options=connection.options,
            credentials=connection.credentials,
        )
    if connection.provider == provider.YANDEX_DISK:
        token = connection.credentials.get("oauth_token", "")
        remember_secrets([token])
        return YandexDiskStorage(token=token, base_path=connection.base_path, base_url=media_base_url(connection.pk))
    raise ValueError(f"Storage provider {connection.provider!r} is not supported.")


def storage_for_connection(connection: StorageConnection) -> Storage:
    marker = (connection.updated_at, connection.provider)
    with _lock:
        cached = _storages.get(connection.pk)
        if cached and cached[0] == marker:
            return cached[1]
    storage = build_storage(connection)
    with _lock:
        _storages[connection.pk] = (marker, storage)
    return storage


def default_connection() -> StorageConnection:
    global _default
    now = time.monotonic()
    with _lock:
        if _default and now - _default[0] < DEFAULT_CONNECTION_TTL:
            return _default[1]
    connection = connection_model().get_default()
    with _lock:
        _default = (now, connection)
    return connection


def connection_for_company(company: Company) -> StorageConnection:
    return company.storage_connection if company.storage_connection_id else default_connection()


def storage_for_company(company: Company) -> Storage:
    return storage_for_connection(connection_for_company(company))


def replace_output(*, company: Company, added_bytes: int, old_names: list[str], old_bytes: int) -> None:
    """After a row points at its new files: count them, give back what the old ones took, and
    delete those. The row is already committed, so a failed delete leaves an orphan, never a
    broken row (``recompute_storage_usage`` counts what rows reference)."""
    company.add_storage(added_bytes)
    if old_names:
        company.release_storage(old_bytes)
        delete_quietly(storage_for_company(company), old_names)


def forget_cached_storages() -> None:
    """Drop every cached storage (after connections change, and between tests)."""
    global _default
    with _lock:
        _storages.clear()
        _default = None


class StoredFiles:
    """A row that owns files in its company's storage: the one inventory of "which files does
    this row own", which deletes, backups, storage moves and the usage recompute all ask.

    FILE_FIELDS: its TenantFileFields; COMPANY_ID: the lookup from the row to its company's id;
    PROJECT_ID: the lookup to its project's id (None: the row belongs to no project);
    BYTES_FIELD: the counter of the bytes those files take (what the quota counts).
    """

    FILE_FIELDS: tuple[str, ...] = ()
    COMPANY_ID = "company_id"
    PROJECT_ID: str | None = None
    BYTES_FIELD = ""
    # Other fields stored_names() reads (loaded with the inventory).
    NAME_FIELDS: tuple[str, ...] = ()

    def stored_names(self) -> list[str]:
        return [file.name for file in (getattr(self, field) for field in self.FILE_FIELDS) if file]

    @classmethod
    def inventory(cls, company_id: int) -> models.QuerySet:
        """The company's rows of this model, with just what stored_names() and the counter need."""
        return cls._inventory(**{cls.COMPANY_ID: company_id})

    @classmethod
    def project_inventory(cls, project_id: int) -> models.QuerySet:
        """The project's rows of this model (none if the model's rows belong to no project)."""
        if cls.PROJECT_ID is None:
            return cls._default_manager.none()
        return cls._inventory(**{cls.PROJECT_ID: project_id})

    @classmethod
    def _inventory(cls, **lookup) -> models.QuerySet:
        fields = ("pk", *cls.FILE_FIELDS, *cls.NAME_FIELDS, *((cls.BYTES_FIELD,) if cls.BYTES_FIELD else ()))
        return cls._default_manager.filter(**lookup).only(*fields).order_by("pk")

    def stored_bytes_counted(self) -> int:
        return getattr(self, self.BYTES_FIELD) if self.BYTES_FIELD else 0


def file_owners() -> list[type[StoredFiles]]:
    """Every model whose rows own stored files, in the apps' order (companies, content, markers…)."""
    return [model for model in apps.get_models() if issubclass(model, StoredFiles)]


class TenantFieldFile(FieldFile):
    """A FieldFile whose storage is its row's company's storage, looked up on first use."""

    @property
    def storage(self) -> Storage:
        return storage_for_company(self.instance.company)

    @storage.setter
    def storage(self, value) -> None:
        # FieldFile assigns the field-wide storage on init and unpickling; the row's company
        # decides instead.
        pass


class TenantFileField(models.FileField):
    attr_class = TenantFieldFile

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 500)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        # The path migrations were written with (arv/storage.py re-exports the field for them):
        # a new path would rewrite every file field in a migration that changes nothing.
        return name, "arv.storage.TenantFileField", args, kwargs


def storage_origins() -> tuple[str, ...]:
    """Origins of remote storage connections (cached for a minute per process), which the
    Content-Security-Policy allows for images, media and fetches."""
    global _origins
    now = time.monotonic()
    with _lock:
        if _origins and now - _origins[0] < ORIGINS_TTL:
            return _origins[1]
    found = set()
    for options in (
        connection_model().objects.filter(is_active=True).exclude(provider="local").values_list("options", flat=True)
    ):
        for key in ("public_base_url", "endpoint_url"):
            parts = urlsplit((options or {}).get(key) or "")
            if parts.scheme in ("http", "https") and parts.netloc:
                found.add(f"{parts.scheme}://{parts.netloc}")
    origins = tuple(sorted(found))
    with _lock:
        _origins = (now, origins)
    return origins


def forget_storage_origins() -> None:
    global _origins
    with _lock:
        _origins = None


def set_storage_origins(origins: tuple[str, ...]) -> None:
    """Use these origins for the next minute (tests start from a known, warm state)."""
    global _origins
    with _lock:
        _origins = (time.monotonic(), tuple(origins))
