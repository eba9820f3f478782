import json
import logging

import pytest

from lib.logging import JsonFormatter, RequestIdFilter, _request_id


def test_json_formatter_writes_one_object_per_line_with_the_request_id():
    token = _request_id.set("abc123def456")
    try:
        record = logging.makeLogRecord(
            {"name": "arv.test", "levelname": "WARNING", "msg": "hello %s", "args": ("world",), "portrait": 42}
        )
        RequestIdFilter().filter(record)
        line = JsonFormatter().format(record)
    finally:
        _request_id.reset(token)
    data = json.loads(line)
    assert "\n" not in line
    assert data["message"] == "hello world"
    assert data["request_id"] == "abc123def456"
    assert data["level"] == "WARNING"
    assert data["portrait"] == 42


@pytest.mark.django_db
def test_every_response_carries_a_request_id(client):
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]
    assert len(first) == 32 and first != second


@pytest.mark.django_db
def test_a_sane_incoming_request_id_is_kept_and_a_hostile_one_replaced(client):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="proxy-1234abcd")["X-Request-ID"] == "proxy-1234abcd"
    hostile = client.get("/healthz", HTTP_X_REQUEST_ID="x\ninjected log line")["X-Request-ID"]
    assert "\n" not in hostile and hostile != "x\ninjected log line"
