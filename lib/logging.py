"""Request ids on every log line, and JSON lines for log collectors when DEBUG is off."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from datetime import UTC, datetime

from lib.addresses import client_ip

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
# The client's address (lib.addresses: the one the trusted proxy saw), for log lines of a request.
_client_ip: contextvars.ContextVar[str] = contextvars.ContextVar("client_ip", default="")
# Ids from a proxy are trusted only if they look like ids: they end up in logs verbatim.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Take the proxy's X-Request-ID (if sane) or make one; echo it back in the response. Log
    lines written while the request runs carry both the id and the client's address."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = _request_id.set(request_id)
        client = _client_ip.set(client_ip(request))
        try:
            response = self.get_response(request)
        finally:
            _client_ip.reset(client)
            _request_id.reset(token)
        response["X-Request-ID"] = request_id
        return response


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _request_id.get()
        if not hasattr(record, "client_ip") and _client_ip.get():
            record.client_ip = _client_ip.get()
        return True


_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line; extra= fields are kept, except the request object itself."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", _request_id.get()),
        }
        for key, value in vars(record).items():
            if key in _STANDARD_ATTRS or key == "request" or key.startswith("_"):
                continue
            payload[key] = value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)
