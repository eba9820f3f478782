"""A Django Storage on Yandex Disk: the REST API through PyPI ``yadisk``, bytes over its links.

The API (``cloud-api.yandex.net``, OAuth token) answers metadata calls and hands out short-lived
links: an upload href to PUT the bytes to, a download href to GET them from. Those links carry
their own authority, so the token is sent to the API only. Bytes are moved with ``requests``
directly rather than yadisk's helpers because:

- uploads: Yandex's uploader may answer 202 (received, still being stored on Disk) instead of 201,
  and yadisk treats anything but 201 as a failure (the file may then take a moment to appear, which
  callers already retry); yadisk also logs each upload href, a bearer link;
- downloads: serving video needs HTTP Range (seeking, iOS playback), so files are read lazily, one
  ranged GET from the current position, instead of downloaded whole.

Files are served to browsers by ``viewer.media`` under ``/media/<connection id>/<name>``: no link to
Yandex, and so no credential, ever reaches a browser.
"""

from __future__ import annotations

import contextlib
import io
import logging
import posixpath
import threading
from collections.abc import Callable
from datetime import datetime

import requests
import yadisk
from django.core.exceptions import SuspiciousFileOperation
from django.core.files import File
from django.core.files.storage import Storage
from django.utils.encoding import filepath_to_uri
from yadisk.exceptions import DirectoryExistsError, ParentNotFoundError, PathNotFoundError, YaDiskError

from lib.storage import RedactSecretsFilter, StorageUnavailable, translated_errors

logging.getLogger("yadisk").addFilter(RedactSecretsFilter())

# (connect, read) seconds. Reads of a busy Yandex node can pause; a dead one must fail fast.
API_TIMEOUT = (5.0, 30.0)
TRANSFER_TIMEOUT = (5.0, 120.0)
READ_CHUNK = 256 * 1024
SCHEMES = ("disk:", "app:")


def disk_path(root: str, name: str) -> str:
    """The Yandex Disk path of *name* under *root* ("disk:/ARV" + "a/b.jpg" → "disk:/ARV/a/b.jpg").

    Names come from URLs too (the media view), so anything that could escape *root* is refused.
    """
    parts = name.replace("\\", "/").strip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise SuspiciousFileOperation(f"Refusing the storage path {name!r}.")
    return f"{root.rstrip('/')}/{'/'.join(parts)}"


def normalise_root(base_path: str) -> str:
    """A connection's base path as a Yandex Disk folder: "ARV", "/ARV" → "disk:/ARV"; "app:/x" kept."""
    base = (base_path or "").strip()
    for scheme in SCHEMES:
        if base.startswith(scheme):
            return f"{scheme}/{base[len(scheme) :].strip('/')}"
    return f"disk:/{base.strip('/')}"


class _RangeReader(io.RawIOBase):
    """A seekable, read-only view of a remote file of known size: one ranged GET per position.

    Seeking only moves the position; the next read opens a response from there. Sequential reads
    stream one response, so a whole-file read is a single GET.
    """

    def __init__(self, *, size: int, open_at: Callable[[int], requests.Response]):
        super().__init__()
        self._size = size
        self._open_at = open_at
        self._pos = 0
        self._response: requests.Response | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        position = max(base + offset, 0)
        if position != self._pos:
            self._drop_response()
            self._pos = position
        return self._pos

    def readinto(self, buffer) -> int:
        if self._pos >= self._size:
            return 0
        if self._response is None:
            self._response = self._open_at(self._pos)
        try:
            count = self._response.raw.readinto(buffer)
        except (requests.RequestException, OSError) as exc:
            self._drop_response()
            raise StorageUnavailable(f"reading from Yandex Disk failed: {type(exc).__name__}") from None
        if not count:
            self._drop_response()
            raise StorageUnavailable("Yandex Disk ended the download early")
        self._pos += count
        return count

    def _drop_response(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None

    def close(self) -> None:
        self._drop_response()
        super().close()


class YandexDiskFile(File):
    """A file opened for reading; knows its size and modification time from the metadata call."""

    def __init__(self, file, *, name: str, size: int, modified_time: datetime | None):
        super().__init__(file, name=name)
        self.size = size
        self.modified_time = modified_time


class _SizedBody:
    """A rewound upload body with a length, so ``requests`` sends Content-Length, not chunks."""

    def __init__(self, content):
        self._content = content
        self._length = content.size
        if hasattr(content, "seek"):
            content.seek(0)

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        return self._content.read(size)


class YandexDiskStorage(Storage):
    """Files of one Yandex Disk folder. Only ``save()`` writes; ``open()`` is read-only."""

    def __init__(self, *, token: str, base_path: str, base_url: str):
        self._token = token
        self._root = normalise_root(base_path)
        self._base_url = base_url
        self._client = yadisk.Client(
            token=token,
            session="requests",
            default_args={"timeout": API_TIMEOUT, "n_retries": 2, "retry_interval": 0.3},
        )
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"<YandexDiskStorage {self._root}>"

    # --- plumbing ---

    def _errors(self):
        return translated_errors([self._token], YaDiskError, requests.RequestException)

    def _path(self, name: str) -> str:
        return disk_path(self._root, name)

    @property
    def _http(self) -> requests.Session:
        # requests.Session is not guaranteed thread-safe; web servers call storages from threads.
        session = getattr(self._local, "http", None)
        if session is None:
            session = self._local.http = requests.Session()
        return session

    def _meta(self, name: str):
        path = self._path(name)
        with self._errors():
            try:
                meta = self._client.get_meta(path, fields=["type", "size", "modified", "created"])
            except PathNotFoundError:
                raise FileNotFoundError(name) from None
        if meta.type != "file":
            raise IsADirectoryError(name)
        return meta

    # --- reading ---

    def _open(self, name, mode="rb"):
        if set(mode) - {"r", "b"}:
            raise ValueError("Files on Yandex Disk are written with save(), never opened for writing.")
        meta = self._meta(name)
        reader = _RangeReader(size=meta.size or 0, open_at=self._download_opener(name))
        return YandexDiskFile(
            io.BufferedReader(reader, READ_CHUNK), name=name, size=meta.size or 0, modified_time=meta.modified
        )

    def _download_opener(self, name: str) -> Callable[[int], requests.Response]:
        href: list[str] = []

        def open_at(position: int) -> requests.Response:
            with self._errors():
                if not href:
                    try:
                        href.append(self._client.get_download_link(self._path(name)))
                    except PathNotFoundError:
                        raise FileNotFoundError(name) from None
                # identity: the bytes are counted and sliced as stored, never as a gzip stream.
                headers = {"Accept-Encoding": "identity"}
                if position:
                    headers["Range"] = f"bytes={position}-"
                response = self._http.get(href[0], headers=headers, stream=True, timeout=TRANSFER_TIMEOUT)
            return _checked_download(response, name=name, position=position)

        return open_at

    def exists(self, name) -> bool:
        with self._errors():
            return self._client.exists(self._path(name))

    def size(self, name) -> int:
        return self._meta(name).size or 0

    def get_modified_time(self, name) -> datetime:
        return self._meta(name).modified

    def get_created_time(self, name) -> datetime:
        return self._meta(name).created

    def listdir(self, path):
        full = self._root if path in ("", ".", "/") else self._path(path)
        directories, files = [], []
        with self._errors():
            try:
                for item in self._client.listdir(full, fields=["name", "type"]):
                    (directories if item.type == "dir" else files).append(item.name)
            except PathNotFoundError:
                raise FileNotFoundError(path) from None
        return directories, files

    def url(self, name) -> str:
        return self._base_url + filepath_to_uri(name)

    # --- writing ---

    def _save(self, name, content) -> str:
        path = self._path(name)
        with self._errors():
            href = self._upload_href(path)
            response = self._http.put(
                href,
                data=_SizedBody(content),
                headers={"Content-Type": "application/octet-stream"},
                timeout=TRANSFER_TIMEOUT,
            )
            response.close()
        # 201: stored; 202: accepted and being stored (Yandex's answer for some uploads).
        if response.status_code not in (201, 202):
            raise StorageUnavailable(f"Yandex Disk refused the upload of {name} (HTTP {response.status_code})")
        return name

    def _upload_href(self, path: str) -> str:
        try:
            return self._client.get_upload_link(path, overwrite=False)
        except ParentNotFoundError:
            self._make_folders(posixpath.dirname(path))
            return self._client.get_upload_link(path, overwrite=False)

    def _make_folders(self, path: str) -> None:
        # Another upload may have created it first.
        with contextlib.suppress(DirectoryExistsError):
            self._client.makedirs(path)

    def delete(self, name) -> None:
        # Like FileSystemStorage, deleting what is not there is not an error. Permanently: the
        # trash would keep counting against the owner's Yandex quota.
        with self._errors(), contextlib.suppress(PathNotFoundError):
            self._client.remove(self._path(name), permanently=True)


def _checked_download(response: requests.Response, *, name: str, position: int) -> requests.Response:
    if response.status_code == 404:
        response.close()
        raise FileNotFoundError(name)
    if response.status_code == 206 or (response.status_code == 200 and position == 0):
        return response
    response.close()
    raise StorageUnavailable(f"Yandex Disk answered HTTP {response.status_code} for {name}")
