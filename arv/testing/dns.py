"""A real, tiny authoritative DNS server on 127.0.0.1 for tests of domain verification.

It answers UDP queries with dnspython's own message code (the same library the checker uses to
ask), from a dict the test edits while it runs: ``records[("name.", "TXT")] = ["value"]``. Names
it holds no record of get NXDOMAIN; a name with records of other types gets an empty answer
(NOERROR), as a real server does. Point the checker at it with ``settings.DOMAIN_CHECK_NAMESERVERS
= ["127.0.0.1"]`` and ``DOMAIN_CHECK_DNS_PORT = server.port``.
"""

from __future__ import annotations

import socket
import threading
from contextlib import contextmanager

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


class DnsStandIn:
    def __init__(self):
        self.records: dict[tuple[str, str], list[str]] = {}
        self.queries: list[tuple[str, str]] = []
        # Names whose queries are dropped, to test the checker's timeouts.
        self.silent: set[str] = set()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="dns-stand-in", daemon=True)

    def set(self, name: str, rdtype: str, *values: str) -> None:
        self.records[(name.rstrip(".").lower() + ".", rdtype.upper())] = list(values)

    def _answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text().lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, rdtype))
        values = self.records.get((name, rdtype))
        if values:
            if rdtype == "TXT":
                values = ['"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values]
            response.answer.append(dns.rrset.from_text_list(question.name, 60, dns.rdataclass.IN, rdtype, values))
        elif not any(key[0] == name for key in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                query = dns.message.from_wire(data)
            except Exception:  # noqa: S112 - a malformed packet is dropped, as servers do
                continue
            if query.question and query.question[0].name.to_text().lower() in self.silent:
                continue
            self._sock.sendto(self._answer(query).to_wire(), peer)

    def start(self) -> DnsStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()


@contextmanager
def dns_stand_in():
    server = DnsStandIn().start()
    try:
        yield server
    finally:
        server.stop()
