"""A studio's own viewer domain (``ar.studio.example``): what may be claimed, and proof of control.

A domain is stored normalised (lower-case ASCII, IDNA "xn--" form, no trailing dot), so one
comparison decides uniqueness and host matching. It is used for nothing — not a QR code, not a
host name we answer to — until its owner proved control of it, either way:

- **DNS:** a TXT record ``_arv-verification.<domain>`` holding ``arv-verification=<token>``. A
  separate name, because a viewer domain is usually a CNAME, and a CNAME cannot carry other
  records.
- **File:** ``http://<domain>/.well-known/arv-verification.txt`` answering the token. Fetched
  without trusting the network: every address the name resolves to must be public (unless
  ``DOMAIN_CHECK_ALLOW_PRIVATE``), the connection goes to the address that was checked (no
  second lookup to rebind), redirects are followed only on the same host, timeouts are short and
  at most a few KB are read.

Lookups use dnspython against ``DOMAIN_CHECK_NAMESERVERS`` (the system resolver when empty), so a
test can point the checker at a DNS server of its own.
"""

from __future__ import annotations

import ipaddress
import re
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import dns.exception
import dns.resolver
import idna
import urllib3
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from companies.hosts import static_hosts

TXT_LABEL = "_arv-verification"
TXT_PREFIX = "arv-verification="
WELL_KNOWN_PATH = "/.well-known/arv-verification.txt"
MAX_BODY = 4096
MAX_REDIRECTS = 3
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


# --- What may be claimed ----------------------------------------------------------------------------


def main_hosts() -> set[str]:
    """Host names of the platform itself: SITE_URL's and the configured ALLOWED_HOSTS."""
    hosts = {h.lstrip(".").lower() for h in static_hosts() if h and h != "*"}
    site = urlsplit(settings.SITE_URL).hostname
    if site:
        hosts.add(site.lower())
    return hosts


def normalize_domain(value: str) -> str:
    """The stored form of a domain a company claims, or ValidationError saying what is wrong.

    Unicode names become their IDNA ASCII form (``фото.рф`` → ``xn--n1aalg.xn--p1ai``) with UTS #46
    mapping, so ``AR.Studio.Example.`` and ``ar.studio.example`` are one domain.
    """
    text = (value or "").strip()
    if not text:
        raise ValidationError(_("Enter a domain name."), code="empty")
    if len(text) > 300:
        raise ValidationError(_("That domain name is too long."), code="too_long")
    just_the_name = _("Enter just the domain name, such as ar.your-studio.com — no http://, port, path or spaces.")
    if "://" in text or any(c in text for c in "/\\?#@ :\t\r\n%"):
        if text.startswith("[") or is_ip(text):
            raise ValidationError(_("Enter a domain name, not an IP address."), code="ip")
        raise ValidationError(just_the_name, code="not_a_name")
    if "*" in text:
        raise ValidationError(_("Wildcard domains cannot be used: enter one exact domain name."), code="wildcard")
    if text.endswith("."):
        text = text[:-1]
    if is_ip(text):
        raise ValidationError(_("Enter a domain name, not an IP address."), code="ip")
    try:
        ascii_name = idna.encode(text, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError, ValueError):
        raise ValidationError(
            _("“%(value)s” is not a valid domain name.") % {"value": text[:100]}, code="invalid"
        ) from None
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise ValidationError(
            _("“%(value)s” is not a valid domain name.") % {"value": text[:100]}, code="invalid"
        ) from None
    if labels[-1].isdigit() or is_ip(ascii_name):
        raise ValidationError(_("Enter a domain name, not an IP address."), code="ip")
    if labels[-1] == "localhost" or ascii_name == "localhost":
        raise ValidationError(_("“%(value)s” is not a public domain name.") % {"value": text[:100]}, code="local")
    for host in main_hosts():
        if ascii_name == host or ascii_name.endswith("." + host):
            raise ValidationError(
                _("This is the platform's own address; use a domain of your studio."), code="main_host"
            )
    return ascii_name


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def display_domain(ascii_name: str) -> str:
    """The Unicode form for people (``xn--n1aalg.xn--p1ai`` → ``фото.рф``), the stored one if odd."""
    try:
        return idna.decode(ascii_name)
    except (idna.IDNAError, UnicodeError, ValueError):
        return ascii_name


def txt_record_name(domain: str) -> str:
    return f"{TXT_LABEL}.{domain}"


def txt_record_value(token: str) -> str:
    return f"{TXT_PREFIX}{token}"


# --- Proof of control -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    method: str  # "dns" or "http"
    detail: str  # why not, in words a studio can act on; empty when ok


def resolver() -> dns.resolver.Resolver:
    nameservers = settings.DOMAIN_CHECK_NAMESERVERS
    res = dns.resolver.Resolver(configure=not nameservers)
    if nameservers:
        res.nameservers = list(nameservers)
        res.port = settings.DOMAIN_CHECK_DNS_PORT
    res.lifetime = settings.DOMAIN_CHECK_TIMEOUT
    res.timeout = settings.DOMAIN_CHECK_TIMEOUT
    return res


def check_dns(domain: str, token: str) -> CheckResult:
    name = txt_record_name(domain)
    expected = txt_record_value(token)
    try:
        answer = resolver().resolve(name, "TXT", search=False)
    except dns.resolver.NXDOMAIN:
        return CheckResult(False, "dns", _("There is no DNS record %(name)s.") % {"name": name})
    except dns.resolver.NoAnswer:
        return CheckResult(False, "dns", _("%(name)s has no TXT record.") % {"name": name})
    except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.resolver.LifetimeTimeout):
        return CheckResult(False, "dns", _("The DNS servers did not answer for %(name)s.") % {"name": name})
    except dns.exception.DNSException as exc:
        return CheckResult(False, "dns", _("DNS lookup failed: %(error)s") % {"error": type(exc).__name__})
    values = {b"".join(rdata.strings).decode("utf-8", "replace").strip() for rdata in answer}
    if expected in values:
        return CheckResult(True, "dns", "")
    return CheckResult(
        False, "dns", _("The TXT record %(name)s does not contain %(value)s.") % {"name": name, "value": expected}
    )


class _Refused(Exception):
    pass


def _addresses(host: str) -> list[str]:
    """Every A and AAAA address of *host*; _Refused if any is not a public address."""
    res = resolver()
    found: list[str] = []
    for rdtype in ("A", "AAAA"):
        try:
            found += [rdata.address for rdata in res.resolve(host, rdtype, search=False)]
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            continue
        except dns.exception.DNSException:
            raise _Refused(_("The DNS servers did not answer for %(name)s.") % {"name": host}) from None
    if not found:
        raise _Refused(_("%(name)s does not resolve to any address.") % {"name": host})
    if not settings.DOMAIN_CHECK_ALLOW_PRIVATE:
        for address in found:
            if not ipaddress.ip_address(address).is_global:
                # One private answer is enough to refuse: which one a client picks is not ours to choose.
                raise _Refused(_("%(name)s points to a private or reserved address.") % {"name": host})
    return found


def _get(url: str, host: str) -> urllib3.BaseHTTPResponse:
    """GET *url* on one pinned, checked address of *host* (which is the URL's host)."""
    parts = urlsplit(url)
    address = _addresses(host)[0]
    https = parts.scheme == "https"
    port = parts.port or (settings.DOMAIN_CHECK_HTTPS_PORT if https else settings.DOMAIN_CHECK_HTTP_PORT)
    timeout = urllib3.Timeout(connect=settings.DOMAIN_CHECK_TIMEOUT, read=settings.DOMAIN_CHECK_TIMEOUT)
    if https:
        # Connect to the checked address, but verify the certificate (and send SNI) for the name.
        pool = urllib3.HTTPSConnectionPool(
            address, port, timeout=timeout, retries=False, server_hostname=host, assert_hostname=host, maxsize=1
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False, maxsize=1)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host_header = host if parts.port is None else f"{host}:{parts.port}"
    try:
        return pool.urlopen(
            "GET",
            path,
            headers={"Host": host_header, "User-Agent": "arv-domain-check/1", "Accept": "text/plain"},
            redirect=False,
            preload_content=False,
            retries=False,
        )
    finally:
        pool.close()


def _read_capped(response, deadline: float) -> bytes:
    body = b""
    while len(body) < MAX_BODY:
        if time.monotonic() > deadline:
            raise TimeoutError("the answer took too long")
        chunk = response.read1(MAX_BODY - len(body))
        if not chunk:
            break
        body += chunk
    return body


def check_http(domain: str, token: str) -> CheckResult:
    url = f"http://{domain}{WELL_KNOWN_PATH}"
    shown = url
    # A server dripping bytes must not hold the check (or the owner's "check now") for long.
    deadline = time.monotonic() + 3 * settings.DOMAIN_CHECK_TIMEOUT
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            response = _get(url, domain)
            try:
                if response.status in (301, 302, 303, 307, 308):
                    target = urljoin(url, response.headers.get("Location", ""))
                    parts = urlsplit(target)
                    if parts.scheme not in ("http", "https") or (parts.hostname or "").rstrip(".").lower() != domain:
                        return CheckResult(
                            False,
                            "http",
                            _("%(url)s redirects to another site, which is not followed.") % {"url": shown},
                        )
                    url = target
                    continue
                if response.status != 200:
                    return CheckResult(
                        False,
                        "http",
                        _("%(url)s answered HTTP %(status)d.") % {"url": shown, "status": response.status},
                    )
                body = _read_capped(response, deadline)
            finally:
                response.release_conn()
            text = body.decode("utf-8", "replace").strip()
            if text in (token, txt_record_value(token)):
                return CheckResult(True, "http", "")
            return CheckResult(False, "http", _("%(url)s does not contain the verification code.") % {"url": shown})
        return CheckResult(False, "http", _("%(url)s redirects too many times.") % {"url": shown})
    except _Refused as exc:
        return CheckResult(False, "http", str(exc))
    except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
        return CheckResult(
            False, "http", _("%(url)s could not be fetched (%(error)s).") % {"url": shown, "error": type(exc).__name__}
        )


def check(domain: str, token: str) -> CheckResult:
    """DNS first (it works before the domain points here); then the file."""
    dns_result = check_dns(domain, token)
    if dns_result.ok:
        return dns_result
    http_result = check_http(domain, token)
    if http_result.ok:
        return http_result
    return CheckResult(False, "", f"{dns_result.detail} {http_result.detail}")


VERIFIED_BY = {"dns": gettext_lazy("DNS TXT record"), "http": gettext_lazy("file on the domain")}
