"""The client's address: forged X-Forwarded-For values fool no per-address limit (issue 16, item 2).

Behind the one trusted proxy the deployment declares (BEHIND_PROXY=1, NUM_PROXIES=1), nginx
appends the address it saw to whatever X-Forwarded-For the client sent. The tests send what such
a proxy forwards: a value the attacker rotates, then the real address the proxy appended.
"""

import json
import logging
import uuid

import pytest
from django.core.cache import cache
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from arv.testing.api import reset_throttles
from arv.testing.factories import PHONE
from lib.addresses import client_ip, client_key
from lib.logging import RequestIdFilter, RequestIdMiddleware
from viewer.models import ViewSession

ATTACKER = "203.0.113.66"


@pytest.fixture
def one_proxy(settings):
    settings.BEHIND_PROXY = True
    settings.NUM_PROXIES = 1
    cache.clear()
    yield settings
    cache.clear()


def _request(remote="198.51.100.1", forwarded=None):
    headers = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **headers)


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        # No proxy declared: the header is the client's own words, ignored.
        (0, "198.51.100.1", "1.2.3.4", "198.51.100.1"),
        # One proxy: the entry it appended (rightmost), never the client's leftmost ones.
        (1, "10.0.0.2", "1.2.3.4, 203.0.113.66", "203.0.113.66"),
        (1, "10.0.0.2", "203.0.113.66", "203.0.113.66"),
        (1, "10.0.0.2", " 1.2.3.4 ,5.6.7.8,  203.0.113.66 ", "203.0.113.66"),
        # Two proxies (CDN, then nginx): the second entry from the right.
        (2, "10.0.0.2", "1.2.3.4, 203.0.113.66, 192.0.2.50", "203.0.113.66"),
        # Fewer entries than proxies (a request that skipped the CDN): the one entry there is.
        (2, "10.0.0.2", "203.0.113.66", "203.0.113.66"),
        # No header at all, or garbage where the proxy's entry should be: the socket's peer.
        (1, "10.0.0.2", None, "10.0.0.2"),
        (1, "10.0.0.2", "1.2.3.4, not-an-address", "10.0.0.2"),
        # Canonical forms: IPv4 seen through a dual-stack socket, IPv6 spelled differently.
        (0, "::ffff:203.0.113.66", None, "203.0.113.66"),
        (1, "10.0.0.2", "2001:DB8:0:0:1::1", "2001:db8::1:0:0:1"),
        (0, "", None, ""),
    ],
)
def test_the_client_is_the_entry_the_trusted_proxy_appended(settings, proxies, remote, forwarded, expected):
    settings.NUM_PROXIES = proxies
    assert client_ip(_request(remote, forwarded)) == expected


def test_limits_key_ipv6_clients_on_their_64(settings):
    settings.NUM_PROXIES = 0
    one = client_key(_request("2001:db8:1234:5678::1"))
    assert one == "2001:db8:1234:5678::/64"
    assert client_key(_request("2001:db8:1234:5678:ffff:1:2:3")) == one
    assert client_key(_request("2001:db8:1234:5679::1")) != one
    assert client_key(_request("203.0.113.66")) == "203.0.113.66"
    assert client_key(_request("")) == "unknown"


def _beacon(client, portrait, forwarded, **extra):
    return client.post(
        reverse("viewer:beacon", args=[portrait.unique_id]),
        json.dumps({"session": str(uuid.uuid4())}),
        content_type="application/json",
        HTTP_USER_AGENT=PHONE,
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR=forwarded,
        **extra,
    )


@pytest.mark.django_db
def test_50_beacon_posts_with_rotating_forged_addresses_are_limited(client, ready_portrait, one_proxy):
    one_proxy.BEACON_RATE_PER_MINUTE = 2
    codes = [_beacon(client, ready_portrait, f"198.51.100.{i}, {ATTACKER}").status_code for i in range(50)]
    assert codes == [204, 204] + [429] * 48
    assert ViewSession.objects.count() == 2
    # The limit is the attacker's own: another visitor behind the same proxy still gets through.
    assert _beacon(client, ready_portrait, "198.51.100.7, 192.0.2.44").status_code == 204


@pytest.mark.django_db
def test_without_a_declared_proxy_the_forwarded_header_is_ignored(client, ready_portrait, settings):
    settings.NUM_PROXIES = 0
    settings.BEACON_RATE_PER_MINUTE = 2
    cache.clear()
    codes = [_beacon(client, ready_portrait, f"198.51.100.{i}").status_code for i in range(10)]
    assert codes == [204, 204] + [429] * 8
    cache.clear()


@pytest.mark.django_db
def test_an_ipv6_client_cannot_escape_the_beacon_limit_by_changing_address(client, ready_portrait, one_proxy):
    one_proxy.BEACON_RATE_PER_MINUTE = 3
    codes = [_beacon(client, ready_portrait, f"2001:db8:77:1::{i:x}").status_code for i in range(1, 11)]
    assert codes == [204] * 3 + [429] * 7
    assert _beacon(client, ready_portrait, "2001:db8:77:2::1").status_code == 204  # another /64
    # Stored sessions keep the address anonymised as before (/48).
    assert set(ViewSession.objects.values_list("ip_address", flat=True)) == {"2001:db8:77::"}


@pytest.mark.django_db
def test_the_login_lock_out_cannot_be_dodged_with_forged_addresses(client, tenants, one_proxy):
    one_proxy.LOGIN_FAILURES_PER_IP = 3
    one_proxy.LOGIN_FAILURES_PER_USER = 100
    for i in range(3):
        response = client.post(
            "/accounts/login/",
            {"username": f"guess{i}", "password": "nope"},
            REMOTE_ADDR="127.0.0.1",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{i}, {ATTACKER}",
        )
        assert response.status_code == 200
    locked = client.post(
        "/accounts/login/",
        {"username": "alice", "password": "pw-alice"},
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR=f"192.0.2.200, {ATTACKER}",
    )
    assert locked.status_code == 429 and "_auth_user_id" not in client.session
    # Alice, from her own address behind the same proxy, is not locked out by the attacker.
    own = client.post(
        "/accounts/login/",
        {"username": "alice", "password": "pw-alice"},
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR="198.51.100.20",
    )
    assert own.status_code == 302


@pytest.mark.django_db
def test_api_throttles_count_the_same_address(settings):
    settings.NUM_PROXIES = 1
    settings.BEHIND_PROXY = True
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "100/minute", "anon": "2/minute"},
    }
    cache.delete_many([f"throttle_anon_{ATTACKER}", f"throttle_user_{ATTACKER}"])
    client = APIClient()
    codes = [
        client.get("/api/schema/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"192.0.2.{i}, {ATTACKER}").status_code
        for i in range(4)
    ]
    assert codes == [200, 200, 429, 429]
    cache.delete_many([f"throttle_anon_{ATTACKER}", f"throttle_user_{ATTACKER}"])
    reset_throttles()


def test_drf_counts_the_same_proxies():
    from django.conf import settings

    assert api_settings.NUM_PROXIES == settings.NUM_PROXIES


def test_log_lines_of_a_request_carry_the_trusted_client_address(settings):
    settings.NUM_PROXIES = 1
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Keep()
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("arv.tests.addresses")
    logger.addHandler(handler)
    try:

        def view(request):
            logger.warning("something happened")
            return HttpResponse()

        RequestIdMiddleware(view)(_request("10.0.0.2", f"192.0.2.1, {ATTACKER}"))
        logger.warning("outside any request")
    finally:
        logger.removeHandler(handler)
    inside, outside = records
    assert inside.client_ip == ATTACKER
    assert not hasattr(outside, "client_ip")
