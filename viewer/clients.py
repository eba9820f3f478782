"""Who is visiting: device, browser and OS from the User-Agent, bots, and anonymised IPs."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from ua_parser import parse

_BOT = re.compile(
    r"bot|crawl|spider|slurp|facebookexternalhit|embedly|preview|monitor|curl|wget|python-requests|httpx|"
    r"go-http-client|okhttp/|headlesschrome-bot|lighthouse|pingdom|uptime",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Client:
    device: str
    browser: str
    os: str


def is_bot(user_agent: str) -> bool:
    """Crawlers, link previews and scripts: their visits are not views."""
    return not user_agent.strip() or bool(_BOT.search(user_agent)) or describe(user_agent).device == "bot"


@lru_cache(maxsize=2048)
def describe(user_agent: str) -> Client:
    result = parse(user_agent[:400])
    device = result.device.family if result.device else ""
    os_family = result.os.family if result.os else ""
    if device == "Spider":
        return Client("bot", "", "")
    ua = user_agent.lower()
    if device == "iPad" or (os_family == "Android" and "mobile" not in ua) or "tablet" in ua:
        kind = "tablet"
    elif os_family in ("iOS", "Android") or "mobile" in ua:
        kind = "mobile"
    elif os_family in ("Windows", "Mac OS X", "Linux", "Ubuntu", "Chrome OS", "Fedora", "macOS"):
        kind = "desktop"
    else:
        kind = "other"
    browser = result.user_agent.family if result.user_agent else ""
    return Client(kind, (browser or "Other")[:50], (os_family or "Other")[:50])


def stored_ip(raw: str) -> str | None:
    """The address as the privacy setting allows: anonymised (/24, /48), or not at all."""
    mode = settings.VIEWER_IP_STORAGE
    if mode == "none" or not raw:
        return None
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)
