"""The analytics beacon: anonymous, cookie-less posts from the viewer page.

The page makes a random session id and posts its running totals (found, time to found, watch
time...) a few times per visit; each post updates the same row, so a lost post loses nothing that
a later one does not carry again. Numbers only ever grow. Posts are rate-limited per IP and bots
are ignored. No cookie is involved, so CSRF does not apply.

A photo the viewer page would not play (inactive, expired, unpublished: the page's own rule,
``Portrait.unavailable_reason``) records nothing: a script posting to its UUID gets a 403
naming the reason, and the analytics never show visits of a page nobody could see.
"""

from __future__ import annotations

import json
import re
import uuid

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from content.models import Portrait
from lib.addresses import client_ip, client_key
from lib.ratelimit import allow
from viewer.clients import describe, is_bot, stored_ip
from viewer.models import ViewSession

MAX_BODY = 2048
LIMITS = {"duration_seconds": 6 * 3600, "time_to_found_ms": 3600 * 1000, "watch_seconds": 6 * 3600}
# An engine's variant ("webgl2", "webgl1", …): a short lowercase token; the fallback chain is short.
VARIANT = re.compile(r"[a-z0-9-]{0,20}")
MAX_FALLBACKS = 20


class BadBeacon(ValueError):
    pass


def parse_payload(body: bytes) -> dict:
    if len(body) > MAX_BODY:
        raise BadBeacon("too large")
    try:
        data = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise BadBeacon("not JSON") from None
    if not isinstance(data, dict):
        raise BadBeacon("not an object")
    try:
        clean = {"session_id": uuid.UUID(str(data.get("session")))}
    except ValueError:
        raise BadBeacon("bad session id") from None
    for key, limit in LIMITS.items():
        value = data.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= limit:
            raise BadBeacon(f"bad {key}")
        clean[key] = int(value)
    for key in ("found", "video_played"):
        value = data.get(key)
        if value is not None:
            if not isinstance(value, bool):
                raise BadBeacon(f"bad {key}")
            clean[key] = value
    engine = data.get("engine", ViewSession.Engine.MINDAR)
    if engine not in ViewSession.Engine.values:
        raise BadBeacon("bad engine")
    clean["engine"] = engine
    variant = data.get("variant", "")
    if not isinstance(variant, str) or not VARIANT.fullmatch(variant):
        raise BadBeacon("bad variant")
    clean["variant"] = variant
    fallbacks = data.get("fallbacks", 0)
    if isinstance(fallbacks, bool) or not isinstance(fallbacks, int) or not 0 <= fallbacks <= MAX_FALLBACKS:
        raise BadBeacon("bad fallbacks")
    clean["fallbacks"] = fallbacks
    error = data.get("error", "")
    if not isinstance(error, str) or len(error) > 40:
        raise BadBeacon("bad error")
    clean["error"] = error
    return clean


def _merge(session: ViewSession, data: dict) -> list[str]:
    """Apply a newer report: totals only grow, flags only turn on."""
    changed = []
    for key in ("duration_seconds", "watch_seconds"):
        if data.get(key, 0) > getattr(session, key):
            setattr(session, key, data[key])
            changed.append(key)
    for key in ("found", "video_played"):
        if data.get(key) and not getattr(session, key):
            setattr(session, key, True)
            changed.append(key)
    if data.get("time_to_found_ms") is not None and session.time_to_found_ms is None:
        session.time_to_found_ms = data["time_to_found_ms"]
        changed.append("time_to_found_ms")
    if data.get("error") and data["error"] != session.error:
        session.error = data["error"]
        changed.append("error")
    # The fallback chain only moves forward: the post with the most failed attempts so far names
    # the engine and variant that served (posts may arrive out of order).
    if data.get("fallbacks", 0) >= session.fallbacks:
        for key in ("engine", "variant", "fallbacks"):
            if key in data and data[key] != getattr(session, key):
                setattr(session, key, data[key])
                changed.append(key)
    return changed


@csrf_exempt
@require_POST
def beacon(request, uuid):
    user_agent = request.headers.get("User-Agent", "")
    if is_bot(user_agent):
        return HttpResponse(status=204)
    if not allow(f"beacon:{client_key(request)}", limit=settings.BEACON_RATE_PER_MINUTE):
        return JsonResponse({"error": "rate limited"}, status=429)
    try:
        data = parse_payload(request.body)
    except BadBeacon as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    portrait = get_object_or_404(Portrait.objects.select_related("company", "project"), unique_id=uuid)
    host_company_id = getattr(request, "viewer_host_company_id", None)
    if host_company_id is not None and host_company_id != portrait.company_id:
        raise Http404  # exactly like a photo that does not exist
    reason = portrait.unavailable_reason(timezone.now())
    if reason:
        return JsonResponse({"error": f"this photo is not playing ({reason})", "reason": reason}, status=403)
    ip = client_ip(request)
    client = describe(user_agent)
    with transaction.atomic():
        session = ViewSession.objects.select_for_update().filter(session_id=data["session_id"]).first()
        if session is None:
            try:
                with transaction.atomic():
                    session = ViewSession(
                        session_id=data["session_id"],
                        company_id=portrait.company_id,
                        project_id=portrait.project_id,
                        portrait_id=portrait.pk,
                        user_agent=user_agent[:400],
                        device_type=client.device if client.device in ViewSession.Device.values else "other",
                        browser=client.browser,
                        os=client.os,
                        ip_address=stored_ip(ip),
                    )
                    _merge(session, data)
                    session.save()
                return HttpResponse(status=204)
            except IntegrityError:  # the same session's first two posts raced
                session = ViewSession.objects.select_for_update().get(session_id=data["session_id"])
        if session.portrait_id != portrait.pk:
            return JsonResponse({"error": "session belongs to another photo"}, status=409)
        changed = _merge(session, data)
        if changed:
            session.save(update_fields=[*changed, "updated_at"])
    return HttpResponse(status=204)
