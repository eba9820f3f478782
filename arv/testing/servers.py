"""Real storage servers for integration tests, on 127.0.0.1, started and stopped by the tests.

- :class:`MotoS3Server`: ``moto_server`` (PyPI moto) as the S3-compatible endpoint. It keeps objects
  in memory and checks no credentials; "down and back" snapshots the objects before stopping the
  process and puts them back after restarting it on the same port, as a server with a disk would.
- :class:`WsgiDavServer`: a WsgiDAV process with Basic auth over a folder, where bytes live.
- :class:`YandexDiskStandIn`: the Yandex Disk REST endpoints ARV uses (metadata, listing, folders,
  delete, upload and download links), a WSGI app served by werkzeug in a thread. It keeps no state
  of its own: every call becomes WebDAV requests to the WsgiDAV server, and the upload and download
  hrefs it hands out point at that server, carrying their own (Basic) authority like Yandex's
  signed links do. It checks the OAuth token and, like some real servers, echoes a wrong one in its
  error, so tests can see that secrets are scrubbed.

Each helper skips the test with a reason when its PyPI package is missing.
"""

from __future__ import annotations

import json
import posixpath
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from arv.testing.processes import free_port, stop

DAV = "{DAV:}"


def _require(module: str, package: str) -> None:
    import importlib.util

    import pytest

    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{package} is not installed (pip install -r requirements-dev.txt)")


def _wait_for_http(url: str, *, timeout: float = 30, process: subprocess.Popen | None = None) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server for {url} exited with code {process.returncode}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer within {timeout} s") from None
            time.sleep(0.1)


# --- S3: moto_server -----------------------------------------------------------------------------


class MotoS3Server:
    def __init__(self, *, log_path: Path):
        self.port = free_port()
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed by the OS with it
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _wait_for_http(self.endpoint_url, process=self.process)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",  # noqa: S106 - moto checks no credentials
            config=Config(s3={"addressing_style": "path"}),
        )

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def _snapshot(self) -> dict[str, dict[str, bytes]]:
        client = self.client()
        objects: dict[str, dict[str, bytes]] = {}
        for bucket in client.list_buckets()["Buckets"]:
            name = bucket["Name"]
            objects[name] = {}
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
                for entry in page.get("Contents", ()):
                    objects[name][entry["Key"]] = client.get_object(Bucket=name, Key=entry["Key"])["Body"].read()
        return objects

    def _restore(self, objects: dict[str, dict[str, bytes]]) -> None:
        client = self.client()
        for bucket, keys in objects.items():
            client.create_bucket(Bucket=bucket)
            for key, data in keys.items():
                client.put_object(Bucket=bucket, Key=key, Body=data)

    @contextmanager
    def down(self):
        """The server process is stopped inside the block and back, with its objects, after it."""
        objects = self._snapshot()
        self.stop()
        try:
            yield
        finally:
            self.start()
            self._restore(objects)


@contextmanager
def moto_s3_server(log_path: Path):
    _require("moto.server", "moto[s3]")
    _require("flask_cors", "flask-cors")
    server = MotoS3Server(log_path=log_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- WebDAV: WsgiDAV ------------------------------------------------------------------------------


class WsgiDavServer:
    user = "dav"

    def __init__(self, *, root: Path, log_path: Path):
        self.root = root
        self.port = free_port()
        self.password = uuid.uuid4().hex
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def href(self, dav_path: str) -> str:
        """A link that carries its own authority, as Yandex's signed upload/download links do."""
        return f"http://{self.user}:{self.password}@127.0.0.1:{self.port}{quote(dav_path)}"

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.log_path.with_suffix(".json")
        config.write_text(
            json.dumps(
                {
                    "host": "127.0.0.1",
                    "port": self.port,
                    "provider_mapping": {"/": str(self.root)},
                    "http_authenticator": {
                        "domain_controller": None,
                        "accept_basic": True,
                        "accept_digest": False,
                        "default_to_digest": False,
                    },
                    "simple_dc": {"user_mapping": {"*": {self.user: {"password": self.password}}}},
                    "dir_browser": {"enable": False},
                    "verbose": 1,
                }
            )
        )
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed by the OS with it
        self.process = subprocess.Popen(
            [sys.executable, "-m", "wsgidav.server.server_cli", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _wait_for_http(self.url, process=self.process)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None

    def request(self, method: str, dav_path: str, **kwargs):
        import requests

        return requests.request(
            method, self.url + quote(dav_path), auth=(self.user, self.password), timeout=(2, 30), **kwargs
        )


# --- Yandex Disk REST stand-in --------------------------------------------------------------------


def dav_path_of(disk_path: str) -> str:
    """ "disk:/ARV/a.jpg" → "/ARV/a.jpg"; "app:/a.jpg" → "/app/a.jpg" (the app folder)."""
    if disk_path.startswith("disk:"):
        disk_path = disk_path[len("disk:") :]
    elif disk_path.startswith("app:"):
        disk_path = "/app/" + disk_path[len("app:") :].lstrip("/")
    return "/" + posixpath.normpath("/" + disk_path).strip("/")


def _iso(value: str | None) -> str:
    if not value:
        return datetime.now(UTC).isoformat(timespec="seconds")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).isoformat(timespec="seconds")
    except ValueError:
        return parsedate_to_datetime(value).isoformat(timespec="seconds")


def _resources_from_propfind(body: bytes) -> list[dict]:
    from defusedxml.ElementTree import fromstring

    resources = []
    for response in fromstring(body).iter(f"{DAV}response"):
        href = unquote(urlsplit(response.findtext(f"{DAV}href")).path)
        prop = response.find(f"{DAV}propstat/{DAV}prop")
        is_dir = prop.find(f"{DAV}resourcetype/{DAV}collection") is not None
        resources.append(
            {
                "dav_path": "/" + href.strip("/"),
                "type": "dir" if is_dir else "file",
                "size": int(prop.findtext(f"{DAV}getcontentlength") or 0),
                "created": _iso(prop.findtext(f"{DAV}creationdate")),
                "modified": _iso(prop.findtext(f"{DAV}getlastmodified")),
            }
        )
    return resources


class YandexDiskApp:
    """The WSGI app: /v1/disk/resources[/upload|/download] over a WsgiDavServer."""

    def __init__(self, *, dav: WsgiDavServer, token: str):
        self.dav = dav
        self.token = token
        self.requests: list[tuple[str, str]] = []  # (method, path) of every API call, for assertions

    def __call__(self, environ, start_response):
        from werkzeug.wrappers import Request, Response

        request = Request(environ)
        self.requests.append((request.method, request.path))
        status, payload = self.dispatch(request)
        body = b"" if payload is None else json.dumps(payload).encode()
        response = Response(body, status=status, content_type="application/json")
        return response(environ, start_response)

    def dispatch(self, request) -> tuple[int, dict | None]:
        presented = request.headers.get("Authorization", "")
        if presented != f"OAuth {self.token}":
            token = presented.removeprefix("OAuth ").strip()
            return 401, _error("UnauthorizedError", f"Unauthorized: the token “{token}” is not valid")
        path = request.args.get("path", "")
        routes = {
            ("GET", "/v1/disk/resources"): self.meta,
            ("PUT", "/v1/disk/resources"): self.mkdir,
            ("DELETE", "/v1/disk/resources"): self.delete,
            ("GET", "/v1/disk/resources/upload"): self.upload_link,
            ("GET", "/v1/disk/resources/download"): self.download_link,
        }
        handler = routes.get((request.method, request.path.rstrip("/")))
        if handler is None:
            return 404, _error("NotFoundError", "No such endpoint in the stand-in")
        return handler(path, request.args)

    # --- helpers over WebDAV ---

    def _propfind(self, dav_path: str, depth: str) -> list[dict] | None:
        response = self.dav.request("PROPFIND", dav_path, headers={"Depth": depth})
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return _resources_from_propfind(response.content)

    def _resource(self, item: dict, disk_path: str) -> dict:
        return {
            "type": item["type"],
            "name": posixpath.basename(item["dav_path"]) or "disk",
            "path": disk_path,
            "created": item["created"],
            "modified": item["modified"],
            **({"size": item["size"], "mime_type": "application/octet-stream"} if item["type"] == "file" else {}),
        }

    def _exists(self, dav_path: str) -> bool:
        return self._propfind(dav_path, "0") is not None

    # --- endpoints ---

    def meta(self, path, args):
        dav_path = dav_path_of(path)
        items = self._propfind(dav_path, "1")
        if items is None:
            return 404, _error("DiskNotFoundError", "Resource not found.")
        this, children = items[0], items[1:]
        resource = self._resource(this, path)
        if this["type"] == "dir":
            limit, offset = int(args.get("limit", 20)), int(args.get("offset", 0))
            children.sort(key=lambda item: item["dav_path"])
            page = children[offset : offset + limit]
            resource["_embedded"] = {
                "items": [self._resource(c, f"{path.rstrip('/')}/{posixpath.basename(c['dav_path'])}") for c in page],
                "limit": limit,
                "offset": offset,
                "total": len(children),
                "path": path,
                "sort": "",
            }
        return 200, resource

    def mkdir(self, path, args):
        dav_path = dav_path_of(path)
        if not self._exists(posixpath.dirname(dav_path)):
            return 409, _error("DiskPathDoesntExistsError", "Specified path doesn't exist.")
        if self._exists(dav_path):
            return 409, _error("DiskPathPointsToExistentDirectoryError", "Specified path points to existent directory.")
        self.dav.request("MKCOL", dav_path).raise_for_status()
        return 201, {"href": f"/v1/disk/resources?path={quote(path)}", "method": "GET", "templated": False}

    def delete(self, path, args):
        response = self.dav.request("DELETE", dav_path_of(path))
        if response.status_code == 404:
            return 404, _error("DiskNotFoundError", "Resource not found.")
        response.raise_for_status()
        return 204, None

    def upload_link(self, path, args):
        dav_path = dav_path_of(path)
        if not self._exists(posixpath.dirname(dav_path)):
            return 409, _error("DiskPathDoesntExistsError", "Specified path doesn't exist.")
        if args.get("overwrite") != "true" and self._exists(dav_path):
            return 409, _error("DiskResourceAlreadyExistsError", "Resource already exists.")
        return 200, {
            "operation_id": uuid.uuid4().hex,
            "href": self.dav.href(dav_path),
            "method": "PUT",
            "templated": False,
        }

    def download_link(self, path, args):
        dav_path = dav_path_of(path)
        items = self._propfind(dav_path, "0")
        if items is None or items[0]["type"] != "file":
            return 404, _error("DiskNotFoundError", "Resource not found.")
        return 200, {"href": self.dav.href(dav_path), "method": "GET", "templated": False}


def _error(name: str, description: str) -> dict:
    return {"error": name, "description": description, "message": description}


class YandexDiskStandIn:
    """The REST app in a werkzeug thread plus its WsgiDAV process; both stop for "storage down"."""

    def __init__(self, *, root: Path, token: str, log_dir: Path):
        self.dav = WsgiDavServer(root=root, log_path=log_dir / "wsgidav.log")
        self.app = YandexDiskApp(dav=self.dav, token=token)
        self.port = free_port()
        self._server = None
        self._thread: threading.Thread | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        from werkzeug.serving import WSGIRequestHandler, make_server

        class QuietHandler(WSGIRequestHandler):
            def log_request(self, *args, **kwargs):
                pass  # one line per request would drown the test's own log output

        self.dav.start()
        self._server = make_server("127.0.0.1", self.port, self.app, threaded=True, request_handler=QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="yandex-disk-stand-in", daemon=True)
        self._thread.start()
        _wait_for_http(self.api_url + "/v1/disk/resources?path=disk:/")

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=10)
            self._server = None
        self.dav.stop()

    @contextmanager
    def down(self):
        self.stop()
        try:
            yield
        finally:
            self.start()


@contextmanager
def yandex_disk_stand_in(*, root: Path, token: str, log_dir: Path):
    """A running stand-in; yadisk in this process is pointed at it for the duration."""
    _require("yadisk", "yadisk")
    _require("wsgidav", "wsgidav")
    _require("cheroot", "cheroot")
    _require("werkzeug", "werkzeug (comes with flask)")
    import yadisk.settings

    stand_in = YandexDiskStandIn(root=root, token=token, log_dir=log_dir)
    stand_in.start()
    original = yadisk.settings.BASE_API_URL
    yadisk.settings.BASE_API_URL = stand_in.api_url
    try:
        yield stand_in
    finally:
        yadisk.settings.BASE_API_URL = original
        stand_in.stop()
