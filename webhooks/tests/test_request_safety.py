"""Server-side request forgery: what a webhook URL may point at, checked when it is saved and at
every delivery, and the request itself (pinned address, Host and SNI, no redirects, deadlines).

No refused address is ever contacted: the checks run before any connection, and the only
servers here are the tests' own on loopback addresses.
"""

import re
import socket
import threading
import time

import pytest
from django.core.exceptions import ValidationError

from webhooks import services, transport
from webhooks.models import Delivery, Endpoint
from webhooks.tests.receiver import Receiver, make_certificates

pytestmark = pytest.mark.django_db

REFUSED = [
    ("http://127.0.0.1:{port}/hook", "loopback"),
    ("http://localhost:{port}/hook", "loopback"),
    ("http://[::1]:{port}/hook", "loopback"),
    ("http://0x7f000001:{port}/hook", "loopback"),
    ("http://2130706433:{port}/hook", "loopback"),
    ("http://0177.0.0.1:{port}/hook", "loopback"),
    ("http://127.1:{port}/hook", "loopback"),
    ("http://[::ffff:127.0.0.1]:{port}/hook", "loopback"),
    ("http://[::ffff:7f00:1]:{port}/hook", "loopback"),
    ("http://[2002:7f00:1::1]/", "loopback"),
    ("http://10.0.0.1/hook", "private"),
    ("http://10.255.255.254:8080/hook", "private"),
    ("http://172.16.0.1/", "private"),
    ("http://192.168.1.10/", "private"),
    ("http://[::ffff:10.0.0.1]/", "private"),
    ("http://[64:ff9b::a00:1]/", "private"),
    ("http://[fc00::1]/", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[::ffff:169.254.169.254]/", "link-local"),
    ("http://0.0.0.0:{port}/", "unspecified"),
    ("http://0.1.2.3/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://224.0.0.1/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://255.255.255.255/", "broadcast"),
    ("http://240.0.0.1/", "private"),
    ("http://100.64.0.1/", "non-public"),
    ("http://[::127.0.0.1]/", "reserved"),
    ("http://[2001:db8::1]/", "private"),
]


@pytest.mark.parametrize(("url", "kind"), REFUSED)
def test_non_public_addresses_are_refused_when_saved(tenants, receiver, url, kind):
    with pytest.raises(ValidationError) as caught:
        services.create_endpoint(company=tenants.a, url=url.format(port=receiver.port), event_types=["portrait.ready"])
    (message,) = caught.value.message_dict["url"]
    assert kind in message and "public addresses only" in message
    assert not Endpoint.objects.exists() and receiver.requests == []


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/", "http://[fe80::1]/", "http://0.0.0.0/", "http://[::]/", "http://224.0.0.1/"]
)
def test_some_addresses_stay_refused_with_private_targets_allowed(tenants, allow_private, url):
    with pytest.raises(ValidationError, match="public addresses only"):
        services.create_endpoint(company=tenants.a, url=url, event_types=["portrait.ready"])


def test_private_targets_are_allowed_by_the_setting(tenants, receiver, allow_private):
    for url in (receiver.url(), receiver.url(host="localhost"), "http://10.0.0.1/", "http://[fc00::1]/"):
        services.create_endpoint(company=tenants.a, url=url, event_types=["portrait.ready"])
    assert Endpoint.objects.count() == 4


@pytest.mark.parametrize(
    "url",
    [
        "https://93.184.216.34/hook",
        "http://93.184.216.34:8443/path?x=1&y=2",
        "https://[2606:4700:4700::1111]/hook",
        "http://[::ffff:93.184.216.34]/hook",
    ],
)
def test_public_addresses_are_accepted(tenants, url):
    endpoint, _secret = services.create_endpoint(company=tenants.a, url=url, event_types=["portrait.ready"])
    assert endpoint.url == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "Enter the URL"),
        ("   ", "Enter the URL"),
        ("ftp://93.184.216.34/", "Only http:// and https://"),
        ("javascript:alert(1)", "Only http:// and https://"),
        ("//93.184.216.34/hook", "Only http:// and https://"),
        ("http://", "no host name"),
        ("http:///hook", "no host name"),
        ("http://user:secret@93.184.216.34/", "no user name or password"),
        ("http://93.184.216.34/hook#part", "fragment"),
        ("http://93.184.216.34:99999/", "port number"),
        ("http://93.184.216.34:0/", "port number"),
        ("http://93.184.216.34:-1/", "port number"),
        ("http://exa mple.com/", "spaces or control characters"),
        ("http://example.com/\r\nX-Injected: 1", "spaces or control characters"),
        ("http://[fe80::1%25eth0]/", "zone"),
        ("http://[::1/", "not valid"),
        ("http://no-such-host.invalid/hook", "could not be resolved"),
        ("http://" + "a" * 64 + ".example/", "could not be resolved"),
        ("https://93.184.216.34/" + "x" * 2000, "too long"),
    ],
)
def test_malformed_urls_are_refused_with_a_clear_message(tenants, url, message):
    with pytest.raises(ValidationError) as caught:
        services.create_endpoint(company=tenants.a, url=url, event_types=["portrait.ready"])
    assert message in " ".join(caught.value.message_dict["url"])
    assert not Endpoint.objects.exists()


def test_the_address_is_checked_again_at_delivery(endpoint, receiver, settings):
    """Saved while private targets were allowed; the setting changed since: nothing is sent."""
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    event = services.send_test_event(endpoint=endpoint)
    assert services.attempt_delivery(delivery_id=event.pk) == "failed"
    delivery = Delivery.objects.get(pk=event.pk)
    assert "loopback" in delivery.error and receiver.requests == []


class Resolver:
    """A DNS stand-in that answers each lookup of a name from a list, the last answer repeating."""

    def __init__(self, answers: dict[str, list[list[str]]]):
        self.answers = answers
        self.lookups: list[str] = []
        self.real = transport.resolve

    def __call__(self, host, port):
        self.lookups.append(host)
        if host not in self.answers:
            return self.real(host, port)
        answers = self.answers[host]
        return answers.pop(0) if len(answers) > 1 else answers[0]


def test_a_name_that_starts_resolving_to_a_private_address_is_refused_at_delivery(tenants, receiver, monkeypatch):
    resolver = Resolver({"hooks.test": [["93.184.216.34"], ["127.0.0.1"]]})
    monkeypatch.setattr(transport, "resolve", resolver)
    endpoint, _secret = services.create_endpoint(
        company=tenants.a, url=f"http://hooks.test:{receiver.port}/hook", event_types=["portrait.ready"]
    )
    delivery = services.send_test_event(endpoint=endpoint)
    assert services.attempt_delivery(delivery_id=delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert "127.0.0.1, a loopback address" in delivery.error
    assert receiver.requests == []


def test_a_name_with_one_private_address_among_public_ones_is_refused(tenants, monkeypatch):
    monkeypatch.setattr(transport, "resolve", Resolver({"mixed.test": [["93.184.216.34", "10.1.2.3"]]}))
    with pytest.raises(ValidationError, match=re.escape("10.1.2.3, a private address")):
        services.create_endpoint(company=tenants.a, url="https://mixed.test/hook", event_types=["portrait.ready"])


def _second_loopback_receiver() -> tuple[Receiver, Receiver]:
    """Receivers on 127.0.0.2 and 127.0.0.1 listening on the same port number."""
    for _ in range(20):
        other = Receiver(host="127.0.0.2")
        try:
            return other, Receiver(host="127.0.0.1", port=other.port)
        except OSError:  # that port is taken on 127.0.0.1: try another
            other.close()
    pytest.skip("no port free on both 127.0.0.1 and 127.0.0.2")


def test_the_request_goes_to_the_checked_address_not_to_a_second_lookup(tenants, allow_private, monkeypatch):
    """DNS rebinding: the name answers 127.0.0.1 to the check, then 127.0.0.2. The request must go
    to the address that was checked, with the name in the Host header."""
    rebound, checked = _second_loopback_receiver()
    try:
        resolver = Resolver({"hooks.test": [["127.0.0.1"], ["127.0.0.1"], ["127.0.0.2"]]})
        monkeypatch.setattr(transport, "resolve", resolver)
        endpoint, _secret = services.create_endpoint(
            company=tenants.a, url=f"http://hooks.test:{checked.port}/hook", event_types=["portrait.ready"]
        )
        delivery = services.send_test_event(endpoint=endpoint)
        assert services.attempt_delivery(delivery_id=delivery.pk) == "succeeded"
        # One lookup when saved, one for the delivery's check, none to connect.
        assert resolver.lookups == ["hooks.test", "hooks.test"]
        (request,) = checked.requests
        assert request.headers["host"] == f"hooks.test:{checked.port}"
        assert rebound.requests == []
    finally:
        rebound.close()
        checked.close()


@pytest.fixture
def tls_receiver(tmp_path, settings, allow_private, monkeypatch):
    ca_file, context = make_certificates(tmp_path, "hooks.test")
    settings.WEBHOOK_CA_FILE = str(ca_file)
    monkeypatch.setattr(transport, "resolve", Resolver({"hooks.test": [["127.0.0.1"]], "other.test": [["127.0.0.1"]]}))
    server = Receiver(tls=context)
    yield server
    server.close()


def test_https_to_a_pinned_address_keeps_the_name_for_sni_and_the_certificate(tenants, tls_receiver):
    endpoint, _secret = services.create_endpoint(
        company=tenants.a, url=tls_receiver.url(host="hooks.test"), event_types=["portrait.ready"]
    )
    delivery = services.send_test_event(endpoint=endpoint)
    assert services.attempt_delivery(delivery_id=delivery.pk) == "succeeded"
    (request,) = tls_receiver.requests
    assert request.server_name == "hooks.test"
    assert request.headers["host"] == f"hooks.test:{tls_receiver.port}"


def test_a_certificate_for_another_name_is_refused(tenants, tls_receiver):
    endpoint, _secret = services.create_endpoint(
        company=tenants.a, url=tls_receiver.url(host="other.test"), event_types=["portrait.ready"]
    )
    delivery = services.send_test_event(endpoint=endpoint)
    assert services.attempt_delivery(delivery_id=delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert delivery.error.startswith("TLS certificate not accepted") and tls_receiver.requests == []


def test_an_untrusted_certificate_is_refused(tenants, tls_receiver, settings):
    settings.WEBHOOK_CA_FILE = ""
    endpoint, _secret = services.create_endpoint(
        company=tenants.a, url=tls_receiver.url(host="hooks.test"), event_types=["portrait.ready"]
    )
    delivery = services.send_test_event(endpoint=endpoint)
    assert services.attempt_delivery(delivery_id=delivery.pk) == "failed"
    assert Delivery.objects.get(pk=delivery.pk).error.startswith("TLS certificate not accepted")


class Trickler:
    """A server that answers one byte of header every 50 ms, for at most 10 s: never slow enough
    for a read timeout, far too slow for the whole-request deadline."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.sent = 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        conn, _ = self.sock.accept()
        with conn:
            conn.recv(65536)
            line = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000
            for byte in line[:200]:
                if self.stop.wait(0.05):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return
                self.sent += 1

    def close(self):
        self.stop.set()
        self.sock.close()


def test_a_receiver_that_trickles_bytes_is_cut_off_by_the_deadline(allow_private, settings):
    server = Trickler()
    try:
        target = transport.check_url(f"http://127.0.0.1:{server.port}/", allow_private=True)
        started = time.monotonic()
        with pytest.raises(transport.TransportError, match="Timed out"):
            transport.post(
                target,
                body=b"{}",
                headers={},
                timeouts=transport.Timeouts(connect=1, read=0.5, total=0.6),
                max_body=4096,
            )
        assert time.monotonic() - started < 5  # a bound, not a timing measurement
        assert 0 < server.sent < 200
    finally:
        server.close()


def test_only_the_first_bytes_of_a_huge_answer_are_read(allow_private, receiver):
    from webhooks.tests.receiver import Answer

    receiver.answer(Answer(200, b"z" * 5_000_000))
    target = transport.check_url(receiver.url(), allow_private=True)
    response = transport.post(target, body=b"{}", headers={}, timeouts=transport.Timeouts(), max_body=4096)
    assert response.status == 200 and response.body == b"z" * 4096 and response.truncated


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("93.184.216.34", True),
        ("2606:4700:4700::1111", True),
        ("::ffff:93.184.216.34", True),
        ("2002:5db8:d822::1", True),
        ("64:ff9b::5db8:d822", True),
        ("127.0.0.1", False),
        ("::ffff:192.168.0.1", False),
        ("2002:c0a8:1::1", False),
        ("fec0::1", False),
    ],
)
def test_embedded_ipv4_addresses_are_judged_by_the_ipv4_inside(address, allowed):
    assert (transport.address_problem(address, allow_private=False) is None) is allowed
