"""Fixtures of the webhook tests: a real receiver on 127.0.0.1 and endpoints pointing at it."""

import pytest

from webhooks import services
from webhooks.models import EventType
from webhooks.tests.receiver import Receiver

ALL_EVENTS = [value for value, _label in EventType.subscribable()]


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def allow_private(settings):
    """Like an on-premises install: the tests' receiver is on a loopback address."""
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    return settings


@pytest.fixture
def fast_timeouts(settings):
    """Short enough that a receiver that never answers costs the test a fraction of a second."""
    settings.WEBHOOK_CONNECT_TIMEOUT = 2
    settings.WEBHOOK_READ_TIMEOUT = 0.3
    settings.WEBHOOK_TOTAL_TIMEOUT = 2
    return settings


@pytest.fixture
def make_endpoint(tenants, allow_private):
    def make(url, *, company=None, event_types=ALL_EVENTS, **fields):
        endpoint, secret = services.create_endpoint(
            company=company or tenants.a, url=url, event_types=event_types, **fields
        )
        endpoint.secret = secret
        return endpoint

    return make


@pytest.fixture
def endpoint(make_endpoint, receiver):
    """Company A's endpoint at the receiver, listening to every event."""
    return make_endpoint(receiver.url())
