"""A studio's viewer domain: what may be claimed, and the proof of control, checked against a real
DNS server and a real HTTP server of the test's own on 127.0.0.1."""

from __future__ import annotations

import http.server
import threading
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from companies import domains, services
from companies.hosts import verified_domains
from companies.models import Company

# --- Normalisation and hostile input ------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("ar.studio.example", "ar.studio.example"),
        ("  AR.Studio.Example.  ", "ar.studio.example"),
        ("фото.рф", "xn--n1aalg.xn--p1ai"),
        ("AR.ФОТО.РФ", "ar.xn--n1aalg.xn--p1ai"),
        ("xn--n1aalg.xn--p1ai", "xn--n1aalg.xn--p1ai"),
        ("a-b.c-d.example", "a-b.c-d.example"),
    ],
)
def test_domains_are_stored_in_one_form(typed, stored, settings):
    settings.SITE_URL = "https://arv.example.com"
    assert domains.normalize_domain(typed) == stored


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("https://ar.studio.example/", "not_a_name"),
        ("ar.studio.example:8443", "not_a_name"),
        ("ar.studio.example/v/", "not_a_name"),
        ("user@ar.studio.example", "not_a_name"),
        ("ar studio.example", "not_a_name"),
        ("*.studio.example", "wildcard"),
        ("ar.*.example", "wildcard"),
        ("127.0.0.1", "ip"),
        ("10.0.0.5", "ip"),
        ("[::1]", "ip"),
        ("::1", "ip"),
        ("169.254.169.254", "ip"),
        ("0x7f.1", "ip"),
        ("1.2.3.4.5", "ip"),
        ("localhost", "invalid"),
        ("ar.localhost", "local"),
        ("example", "invalid"),
        ("-bad.example", "invalid"),
        ("bad-.example", "invalid"),
        ("a..example", "invalid"),
        ("a" * 64 + ".example", "invalid"),
        (("a" * 62 + ".") * 4 + "example", "invalid"),
        ("x" * 400, "too_long"),
        ("ar_studio.example", "invalid"),
        ("ar.studio.example\n", "ar.studio.example"),
        ("ar.studio.example%00.evil.example", "not_a_name"),
        ("ar.studio.example\\evil", "not_a_name"),
        ("arv.example.com", "main_host"),
        ("ARV.example.com.", "main_host"),
        ("studio.arv.example.com", "main_host"),
        ("127.0.0.1.nip.io", "ok"),
    ],
)
def test_hostile_domains_are_refused_with_a_reason(typed, code, settings):
    settings.SITE_URL = "https://arv.example.com"
    if code in ("ok", "ar.studio.example"):
        domains.normalize_domain(typed)  # a public name that happens to contain digits is a name
        return
    with pytest.raises(ValidationError) as caught:
        domains.normalize_domain(typed)
    assert caught.value.code == code
    assert caught.value.messages[0]


def test_the_operators_allowed_hosts_cannot_be_claimed(settings):
    from companies.hosts import AllowedHosts

    settings.ALLOWED_HOSTS = AllowedHosts(["arv.example.com", "static.example.net"])
    with pytest.raises(ValidationError):
        domains.normalize_domain("static.example.net")


# --- Claiming ------------------------------------------------------------------------------------


def test_a_domain_belongs_to_one_company_whatever_its_spelling(tenants):
    services.claim_viewer_domain(company=tenants.a, domain="ar.studio.example")
    for spelling in ("AR.STUDIO.EXAMPLE", "ar.studio.example.", " Ar.Studio.Example "):
        with pytest.raises(ValidationError) as caught:
            services.claim_viewer_domain(company=tenants.b, domain=spelling)
        assert caught.value.code == "domain_taken"
    tenants.b.refresh_from_db()
    assert tenants.b.viewer_domain == ""


def test_the_database_refuses_a_second_claim_that_skips_the_service(tenants):
    services.claim_viewer_domain(company=tenants.a, domain="ar.studio.example")
    with pytest.raises(IntegrityError):
        Company.objects.filter(pk=tenants.b.pk).update(viewer_domain="AR.studio.example")


def test_the_database_refuses_a_colour_that_is_not_hex(tenants):
    # Seven characters, the column's length, so only the constraint can refuse it.
    for hostile in ("red;}{x", "#12345g", "#ABCDEF"):
        with pytest.raises(IntegrityError), transaction.atomic():
            Company.objects.filter(pk=tenants.a.pk).update(brand_accent_color=hostile)


def test_claiming_gives_a_code_and_changing_starts_over(tenants):
    company = services.claim_viewer_domain(company=tenants.a, domain="ar.studio.example")
    first_token = company.viewer_domain_token
    assert len(first_token) >= 32 and company.viewer_domain_verified_at is None
    same = services.claim_viewer_domain(company=tenants.a, domain="AR.studio.example")
    assert same.viewer_domain_token == first_token  # re-saving the same domain keeps the code
    Company.objects.filter(pk=company.pk).update(viewer_domain_verified_at=timezone.now())
    changed = services.claim_viewer_domain(company=tenants.a, domain="photos.studio.example")
    assert changed.viewer_domain_token != first_token
    assert changed.viewer_domain_verified_at is None
    assert changed.public_base_url == "http://127.0.0.1:8000" or changed.public_base_url.startswith("http")
    assert "photos.studio.example" not in changed.public_base_url


def test_removing_the_domain_clears_its_state(tenants):
    services.claim_viewer_domain(company=tenants.a, domain="ar.studio.example")
    company = services.remove_viewer_domain(company=tenants.a)
    assert company.viewer_domain == "" and company.viewer_domain_token == ""
    services.claim_viewer_domain(company=tenants.b, domain="ar.studio.example")  # free again


# --- DNS -------------------------------------------------------------------------------------------


def test_a_txt_record_verifies_the_domain(tenants, dns_server, serve_domains):
    company = services.claim_viewer_domain(company=tenants.a, domain="ar.studio.test")
    dns_server.set(
        "_arv-verification.ar.studio.test", "TXT", "v=spf1 -all", f"arv-verification={company.viewer_domain_token}"
    )
    checked = services.check_viewer_domain(company=company)
    assert checked.verified_domain == "ar.studio.test"
    assert checked.viewer_domain_verified_by == "dns" and checked.viewer_domain_error == ""
    assert checked.public_base_url == "https://ar.studio.test"
    assert ("_arv-verification.ar.studio.test.", "TXT") in dns_server.queries
    # Verification reaches host validation at once (the cache was invalidated on commit).
    assert verified_domains() == {"ar.studio.test": company.pk}
    assert "ar.studio.test" in list(serve_domains)


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ({}, "There is no DNS record _arv-verification.ar.studio.test."),
        ({("ar.studio.test", "A"): ["192.0.2.1"]}, "There is no DNS record"),
        ({("_arv-verification.ar.studio.test", "A"): ["192.0.2.1"]}, "has no TXT record"),
        ({("_arv-verification.ar.studio.test", "TXT"): ["arv-verification=someone-elses"]}, "does not contain"),
    ],
)
def test_a_missing_or_wrong_record_says_what_is_wrong(tenants, dns_server, records, expected, settings):
    settings.DOMAIN_CHECK_HTTP_PORT = _closed_port()
    settings.DOMAIN_CHECK_ALLOW_PRIVATE = True
    for (name, rdtype), values in records.items():
        dns_server.set(name, rdtype, *values)
    company = services.claim_viewer_domain(company=tenants.a, domain="ar.studio.test")
    checked = services.check_viewer_domain(company=company)
    assert checked.verified_domain == "" and checked.viewer_domain_verified_at is None
    assert expected in checked.viewer_domain_error
    assert checked.public_base_url == settings.SITE_URL


def test_a_silent_dns_server_times_out_quickly(tenants, dns_server, settings):
    dns_server.silent.add("_arv-verification.ar.studio.test.")
    dns_server.silent.add("ar.studio.test.")
    result = domains.check_dns("ar.studio.test", "code")
    assert not result.ok and "did not answer" in result.detail


# --- The file on the domain ----------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict = {}
    seen: list = []

    def do_GET(self):
        self.seen.append((self.headers.get("Host"), self.path))
        route = self.routes.get(self.path)
        if route is None:
            self.send_response(404)
            self.end_headers()
            return
        status, headers, body = route
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if callable(body):
            self.send_header("Content-Length", "100000")
            self.end_headers()
            body(self.wfile)
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextmanager
def _web_server(routes: dict):
    handler = type("Handler", (_Handler,), {"routes": routes, "seen": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, handler
    finally:
        server.shutdown()
        server.server_close()


def _closed_port() -> int:
    from arv.testing.processes import free_port

    return free_port()


@pytest.fixture
def web(settings, dns_server):
    """A web server that ar.studio.test resolves to (through the test's DNS server)."""
    routes: dict = {}
    with _web_server(routes) as (server, handler):
        dns_server.set("ar.studio.test", "A", "127.0.0.1")
        settings.DOMAIN_CHECK_HTTP_PORT = server.server_address[1]
        settings.DOMAIN_CHECK_ALLOW_PRIVATE = True
        yield routes, handler


def test_the_file_verifies_the_domain(tenants, web):
    routes, handler = web
    company = services.claim_viewer_domain(company=tenants.a, domain="ar.studio.test")
    routes[domains.WELL_KNOWN_PATH] = (
        200,
        {"Content-Type": "text/plain"},
        company.viewer_domain_token.encode() + b"\n",
    )
    checked = services.check_viewer_domain(company=company)
    assert checked.verified_domain == "ar.studio.test" and checked.viewer_domain_verified_by == "http"
    assert handler.seen == [("ar.studio.test", domains.WELL_KNOWN_PATH)]  # the name, not the address


def test_a_same_host_redirect_is_followed(tenants, web):
    routes, _handler = web
    company = services.claim_viewer_domain(company=tenants.a, domain="ar.studio.test")
    routes[domains.WELL_KNOWN_PATH] = (302, {"Location": "/proof.txt"}, b"")
    routes["/proof.txt"] = (200, {}, company.viewer_domain_token.encode())
    assert services.check_viewer_domain(company=company).verified_domain


@pytest.mark.parametrize(
    "location",
    [
        "http://evil.test/.well-known/arv-verification.txt",
        "http://127.0.0.1/.well-known/arv-verification.txt",
        "//evil.test/x",
        "ftp://ar.studio.test/x",
        "http://ar.studio.test.evil.test/x",
    ],
)
def test_redirects_to_another_host_are_not_followed(tenants, web, dns_server, location):
    routes, handler = web
    dns_server.set("evil.test", "A", "127.0.0.1")
    company = services.claim_viewer_domain(company=tenants.a, domain="ar.studio.test")
    routes[domains.WELL_KNOWN_PATH] = (302, {"Location": location}, b"")
    routes["/x"] = (200, {}, company.viewer_domain_token.encode())
    checked = services.check_viewer_domain(company=company)
    assert not checked.verified_domain
    assert "redirects to another site" in checked.viewer_domain_error
    assert len(handler.seen) == 1


def test_endless_redirects_stop(tenants, web):
    routes, handler = web
    company = services.claim_viewer_domain(company=tenants.a, domain="ar.studio.test")
    routes[domains.WELL_KNOWN_PATH] = (302, {"Location": domains.WELL_KNOWN_PATH}, b"")
    checked = services.check_viewer_domain(company=company)
    assert "too many times" in checked.viewer_domain_error
    assert len(handler.seen) == domains.MAX_REDIRECTS + 1


def test_only_a_few_kilobytes_are_read(tenants, web):
    routes, _handler = web
    company = services.claim_viewer_domain(company=tenants.a, domain="ar.studio.test")
    routes[domains.WELL_KNOWN_PATH] = (200, {}, company.viewer_domain_token.encode() + b" " * 10_000_000)
    result = domains.check_http("ar.studio.test", company.viewer_domain_token)
    assert result.ok  # the code came first; the 10 MB after it were never read


def test_a_slow_server_cannot_hold_the_check(tenants, web, settings):
    routes, _handler = web
    settings.DOMAIN_CHECK_TIMEOUT = 1

    def drip(out):
        for _ in range(50):
            out.write(b"x")
            out.flush()
            time.sleep(0.5)

    routes[domains.WELL_KNOWN_PATH] = (200, {}, drip)
    started = time.monotonic()
    result = domains.check_http("ar.studio.test", "code")
    assert not result.ok and "could not be fetched" in result.detail
    assert time.monotonic() - started < 10  # a bound, not a timing assertion: 50 drips take 25 s


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "192.168.0.1", "::1", "fd00::1"])
def test_private_targets_are_refused_unless_allowed(tenants, web, dns_server, settings, address):
    _routes, handler = web
    settings.DOMAIN_CHECK_ALLOW_PRIVATE = False
    dns_server.set("ar.studio.test", "AAAA" if ":" in address else "A", address)
    if ":" in address:
        dns_server.records.pop(("ar.studio.test.", "A"), None)
    result = domains.check_http("ar.studio.test", "code")
    assert not result.ok and "private or reserved address" in result.detail
    assert handler.seen == []


def test_a_name_with_one_private_address_among_public_ones_is_refused(tenants, web, dns_server, settings):
    _routes, handler = web
    settings.DOMAIN_CHECK_ALLOW_PRIVATE = False
    dns_server.set("ar.studio.test", "A", "93.184.216.34", "127.0.0.1")
    result = domains.check_http("ar.studio.test", "code")
    assert not result.ok and "private" in result.detail and handler.seen == []


def test_http_errors_and_wrong_content_are_reported(tenants, web):
    routes, _handler = web
    company = services.claim_viewer_domain(company=tenants.a, domain="ar.studio.test")
    checked = services.check_viewer_domain(company=company)
    assert "answered HTTP 404" in checked.viewer_domain_error
    routes[domains.WELL_KNOWN_PATH] = (200, {}, b"<html>hello</html>")
    Company.objects.filter(pk=company.pk).update(viewer_domain_checked_at=None)
    checked = services.check_viewer_domain(company=company)
    assert "does not contain the verification code" in checked.viewer_domain_error


# --- The service: claims, grace, the periodic job -----------------------------------------------


def test_check_now_is_throttled(tenants, dns_server):
    company = services.claim_viewer_domain(company=tenants.a, domain="ar.studio.test")
    services.check_viewer_domain(company=company)
    asked = len(dns_server.queries)
    with pytest.raises(services.CheckSkipped):
        services.check_viewer_domain(company=company)
    assert len(dns_server.queries) == asked


def test_a_result_for_a_domain_changed_meanwhile_is_dropped(tenants, dns_server, monkeypatch):
    company = services.claim_viewer_domain(company=tenants.a, domain="ar.studio.test")
    real_check = domains.check

    def check_while_the_owner_changes_it(domain, token):
        services.claim_viewer_domain(company=tenants.a, domain="other.studio.test")
        return domains.CheckResult(True, "dns", "")

    monkeypatch.setattr(domains, "check", check_while_the_owner_changes_it)
    result = services.check_viewer_domain(company=company)
    monkeypatch.setattr(domains, "check", real_check)
    assert result.viewer_domain == "other.studio.test" and result.viewer_domain_verified_at is None


def test_a_verified_domain_survives_a_short_outage_and_lapses_after_the_grace_period(
    tenants, dns_server, settings, serve_domains
):
    settings.DOMAIN_CHECK_HTTP_PORT = _closed_port()
    settings.DOMAIN_GRACE_DAYS = 7
    company = services.claim_viewer_domain(company=tenants.a, domain="ar.studio.test")
    dns_server.set("_arv-verification.ar.studio.test", "TXT", f"arv-verification={company.viewer_domain_token}")
    company = services.check_viewer_domain(company=company)
    assert company.verified_domain
    dns_server.records.clear()  # the studio removed the record (and the domain no longer points here)

    Company.objects.filter(pk=company.pk).update(viewer_domain_checked_at=None)
    company = services.check_viewer_domain(company=company)
    assert company.verified_domain and company.viewer_domain_failing_since and company.viewer_domain_error
    assert company.public_base_url == "https://ar.studio.test"

    Company.objects.filter(pk=company.pk).update(
        viewer_domain_checked_at=None, viewer_domain_failing_since=timezone.now() - timedelta(days=7, minutes=1)
    )
    company = services.check_viewer_domain(company=company)
    assert company.verified_domain == "" and company.viewer_domain_verified_at is None
    assert company.public_base_url == settings.SITE_URL
    assert "ar.studio.test" not in list(serve_domains)  # no longer served either


def test_the_periodic_job_checks_due_domains_and_isolates_failures(tenants, dns_server, monkeypatch, make_user):
    third = Company.objects.create(name="Gamma", slug="gamma")
    a = services.claim_viewer_domain(company=tenants.a, domain="a.studio.test")
    b = services.claim_viewer_domain(company=tenants.b, domain="b.studio.test")
    services.claim_viewer_domain(company=third, domain="c.studio.test")
    dns_server.set("_arv-verification.a.studio.test", "TXT", f"arv-verification={a.viewer_domain_token}")
    dns_server.set("_arv-verification.c.studio.test", "TXT", "arv-verification=wrong")
    real_check = domains.check

    def exploding_for_b(domain, token):
        if domain == b.viewer_domain:
            raise RuntimeError("a bug in one check")
        return real_check(domain, token)

    monkeypatch.setattr(domains, "check", exploding_for_b)
    counts = services.check_due_viewer_domains()
    assert counts == {"checked": 2, "verified": 1, "failed": 1, "errors": 1}
    assert Company.objects.get(pk=tenants.a.pk).verified_domain == "a.studio.test"
    assert "does not contain" in Company.objects.get(pk=third.pk).viewer_domain_error
    # Nothing is due right after: pending domains wait ten minutes, verified ones a day.
    assert services.check_due_viewer_domains() == {"checked": 0, "verified": 0, "failed": 0, "errors": 0}
    later = timezone.now() + timedelta(minutes=11)
    due = set(Company.objects.domain_checks_due(later).values_list("slug", flat=True))
    assert due == {"beta", "gamma"}  # b was claimed for checking though it crashed; a is verified
    assert set(
        Company.objects.domain_checks_due(timezone.now() + timedelta(hours=25)).values_list("slug", flat=True)
    ) == {
        "alpha",
        "beta",
        "gamma",
    }


def test_the_command_checks_one_company(tenants, dns_server, capsys):
    company = services.claim_viewer_domain(company=tenants.a, domain="ar.studio.test")
    dns_server.set("_arv-verification.ar.studio.test", "TXT", f"arv-verification={company.viewer_domain_token}")
    call_command("check_viewer_domains", "--company", "alpha")
    assert "ar.studio.test: verified (dns)" in capsys.readouterr().out
    call_command("check_viewer_domains")
    assert "checked: 0" in capsys.readouterr().out


def test_the_schedule_is_registered():
    from markers.management.commands.setup_schedules import SCHEDULES

    assert SCHEDULES["arv: check viewer domains"][0] == "companies.tasks.check_viewer_domains"
