"""The one place that maps a company to the Django Storage holding its files.

Every file field of a tenant-owned row is a :class:`TenantFileField`: its files are read, written
and linked through ``storage_for_company(instance.company)``, so moving a company to another
storage connection changes where all of its files go without touching any caller.

Storages are built once per connection and cached per process; the cache entry is keyed by the
connection's ``updated_at`` so an edited connection is rebuilt on next use.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage
from django.db import models
from django.db.models.fields.files import FieldFile

if TYPE_CHECKING:
    from companies.models import Company, StorageConnection

_lock = threading.Lock()
_storages: dict[int, tuple[object, Storage]] = {}
_default: tuple[float, StorageConnection] | None = None
# How long a process trusts its idea of which connection is the platform default.
DEFAULT_CONNECTION_TTL = 30.0


class StorageUnavailable(Exception):
    """The storage backend could not be reached or refused the operation (transient)."""


def build_storage(connection: StorageConnection) -> Storage:
    """A fresh Storage for *connection*; raises ValueError for a provider this build lacks."""
    from companies.models import StorageConnection

    if connection.provider == StorageConnection.Provider.LOCAL:
        base = Path(connection.base_path) if connection.base_path else Path()
        location = base if base.is_absolute() else Path(settings.MEDIA_ROOT) / base
        return FileSystemStorage(location=location, base_url=f"{settings.MEDIA_URL}{connection.pk}/")
    raise ValueError(f"Storage provider {connection.provider!r} is not supported yet.")


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
    from companies.models import StorageConnection

    now = time.monotonic()
    with _lock:
        if _default and now - _default[0] < DEFAULT_CONNECTION_TTL:
            return _default[1]
    connection = StorageConnection.get_default()
    with _lock:
        _default = (now, connection)
    return connection


def connection_for_company(company: Company) -> StorageConnection:
    return company.storage_connection if company.storage_connection_id else default_connection()


def storage_for_company(company: Company) -> Storage:
    return storage_for_connection(connection_for_company(company))


def forget_cached_storages() -> None:
    """Drop every cached storage (after connections change, and between tests)."""
    global _default
    with _lock:
        _storages.clear()
        _default = None


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
        return name, "arv.storage.TenantFileField", args, kwargs
