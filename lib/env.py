"""Strict readers for configuration from environment variables.

Every setting the operator can change goes through one of these helpers, so a typo such as
``DEBUG=ture`` or ``UPLOAD_MAX_MB=20MB`` stops the process at start-up with a message naming the
variable, instead of silently running with a default.

A ``.env`` file in the project directory is read first (``KEY=VALUE`` lines, ``#`` comments);
variables already set in the real environment win, so deployments can ignore the file.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def load_dotenv(path: Path, environ: dict[str, str] | None = None) -> None:
    """Copy ``KEY=VALUE`` lines of *path* into *environ* without overriding existing keys."""
    environ = os.environ if environ is None else environ
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :]
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ImproperlyConfigured(f"{path}:{lineno}: expected KEY=VALUE, got {raw!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        environ.setdefault(key, value)


def _raw(name: str, environ: dict[str, str] | None) -> str | None:
    """The stripped value, or None when unset or empty (``KEY=`` in .env means "the default")."""
    environ = os.environ if environ is None else environ
    value = (environ.get(name) or "").strip()
    return value or None


def env_str(name: str, default: str = "", *, environ: dict[str, str] | None = None) -> str:
    value = _raw(name, environ)
    return default if value is None else value


def env_bool(name: str, default: bool, *, environ: dict[str, str] | None = None) -> bool:
    value = _raw(name, environ)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean: use one of 1/0, true/false, yes/no, on/off.")


def env_int(
    name: str,
    default: int,
    *,
    min_value: int | None = None,
    max_value: int | None = None,
    environ: dict[str, str] | None = None,
) -> int:
    value = _raw(name, environ)
    if value is None:
        result = default
    else:
        try:
            result = int(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None
    if min_value is not None and result < min_value:
        raise ImproperlyConfigured(f"{name}={result} is too small: the minimum is {min_value}.")
    if max_value is not None and result > max_value:
        raise ImproperlyConfigured(f"{name}={result} is too large: the maximum is {max_value}.")
    return result


def env_list(name: str, default: list[str], *, environ: dict[str, str] | None = None) -> list[str]:
    value = _raw(name, environ)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_url(
    name: str,
    default: str,
    *,
    schemes: tuple[str, ...] = ("http", "https"),
    environ: dict[str, str] | None = None,
) -> str:
    """A URL with one of *schemes* and a host; returned without a trailing slash."""
    value = _raw(name, environ) or default
    if not value:
        return value
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        allowed = ", ".join(f"{s}://" for s in schemes)
        raise ImproperlyConfigured(f"{name}={value!r} is not a URL starting with {allowed}.")
    return value.rstrip("/")


def env_path(name: str, default: Path, *, base: Path, environ: dict[str, str] | None = None) -> Path:
    """A filesystem path; relative values are taken relative to *base* (the project directory)."""
    value = _raw(name, environ)
    path = Path(value) if value else default
    return path if path.is_absolute() else base / path


def env_timezone(name: str, default: str, *, environ: dict[str, str] | None = None) -> str:
    value = _raw(name, environ) or default
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(f"{name}={value!r} is not a known time zone (e.g. Europe/Moscow, UTC).") from None
    return value


def env_secret(
    name: str,
    *,
    required: bool,
    default: str = "",
    min_length: int = 0,
    environ: dict[str, str] | None = None,
) -> str:
    """A secret from ``NAME`` or from the file named by ``NAME_FILE`` (Docker/K8s secrets)."""
    value = _raw(name, environ)
    file_name = _raw(f"{name}_FILE", environ)
    if not value and file_name:
        try:
            value = Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_name!r} cannot be read: {exc}") from None
    if not value:
        if required:
            raise ImproperlyConfigured(
                f"{name} is not set. It is required when DEBUG is off: generate one with "
                '`python -c "import secrets; print(secrets.token_urlsafe(50))"` '
                f"and put it in the environment or in .env."
            )
        return default
    if len(value) < min_length:
        raise ImproperlyConfigured(f"{name} is too short: use at least {min_length} characters.")
    return value


WILDCARD_HOSTS = {"0.0.0.0", "::", "[::]", ""}  # noqa: S104 - names, compared with, never bound here


def lan_address() -> str:
    """This machine's address on its local network, as a phone on the same Wi-Fi reaches it;
    127.0.0.1 when there is none. Connecting a UDP socket sends nothing: it only picks the
    interface that routes to the (documentation-only) address."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
            return probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def local_site_url(serve_url: str) -> str:
    """The site URL for a local server listening at *serve_url* (``http://HOST:PORT``, what
    ``make run`` serves): the same, except that a server on every interface (0.0.0.0) is named by
    its network address, so QR codes open on a phone in the same network."""
    parts = urlsplit(serve_url)
    host = parts.hostname or ""
    if host in WILDCARD_HOSTS or f"[{host}]" in WILDCARD_HOSTS:
        host = lan_address()
    elif ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"
