"""Where the local server answers and how to log in: printed by `make run` and `make dev` once
the server is up, after the start-up lines that would otherwise bury it."""

import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from arv.management.commands.seed_demo import DEMO_COMPANY, demo_logins
from lib.env import WILDCARD_HOSTS, local_site_url


def _reachable(serve_url: str) -> str:
    """The URL this machine itself can reach the server at (a server on 0.0.0.0 is on loopback)."""
    parts = urlsplit(serve_url)
    if (parts.hostname or "") in WILDCARD_HOSTS or f"[{parts.hostname}]" in WILDCARD_HOSTS:
        parts = parts._replace(netloc=f"127.0.0.1:{parts.port}" if parts.port else "127.0.0.1")
    return urlunsplit(parts)


def answers(url: str) -> bool:
    """Whether an HTTP server answers at *url*, whatever its status (a 400 for a host name it does
    not serve still means it is listening)."""
    try:
        # The URL is the local server's own address from `make run`, never outside input.
        with urllib.request.urlopen(url, timeout=5):  # noqa: S310
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


class Command(BaseCommand):
    help = "Print the local server's addresses and the demo logins; with --wait, once the server answers."

    def add_arguments(self, parser):
        parser.add_argument(
            "--url",
            default=settings.SERVE_URL or "http://127.0.0.1:8000",
            help="Where the server listens (default: ARV_SERVE_URL, which make run sets).",
        )
        parser.add_argument("--wait", action="store_true", help="Wait until the server answers first.")
        parser.add_argument("--timeout", type=float, default=120, help="Seconds to wait at most (default 120).")

    def handle(self, *args, url, wait, timeout, **options):
        if wait:
            probe = _reachable(url) + reverse("healthz")
            deadline = time.monotonic() + timeout
            while not answers(probe):
                if time.monotonic() > deadline:
                    raise CommandError(f"No answer at {url} within {timeout:.0f} s: see the lines above.")
                time.sleep(0.5)
        base = local_site_url(url)
        logins = demo_logins()
        rows = [
            ("client portal", base + reverse("portal:dashboard"), f"{logins['portal']}  (owner of {DEMO_COMPANY})"),
            ("back office", base + reverse("admin:index"), logins["admin"]),
            ("API docs", base + reverse("api_docs"), ""),
        ]
        width = max(len(link) for _name, link, _login in rows)
        lines = ["", self.style.SUCCESS(f"ARV is up at {base}/"), ""]
        lines += [f"  {name:<14} {link:<{width}}  {login}".rstrip() for name, link, login in rows]
        if base != settings.SITE_URL:
            lines += ["", f"  QR codes and e-mails link to SITE_URL: {settings.SITE_URL}"]
        lines += ["", "Stop with Ctrl+C.", ""]
        self.stdout.write("\n".join(lines))
