"""Marker reports as shown to clients: scores and warnings in the visitor's language."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# The compiler's stable warning codes, in plain words for a photo studio.
WARNING_TEXTS = {
    "too_few_details": gettext_lazy(
        "This photo has few details for the camera to recognise. Photos with texture, edges and contrast work best."
    ),
    "large_plain_areas": gettext_lazy(
        "Large plain areas (sky, a wall, a backdrop) give the camera nothing to hold on to; tracking may be weak there."
    ),
    "repeating_pattern": gettext_lazy(
        "A repeating pattern can confuse the camera about which part of the photo it sees."
    ),
    "low_contrast": gettext_lazy("The photo is low in contrast; a brighter, crisper print tracks better."),
    "small_image": gettext_lazy("The photo is small; upload a larger original if you have one."),
}


def marker_summary(job) -> dict | None:
    """Status, 0–100 score and translated warnings of a marker job, for pages and JSON."""
    if job is None:
        return None
    report = job.report or {}
    warnings = [
        {"code": w.get("code", ""), "text": str(WARNING_TEXTS.get(w.get("code"), w.get("message", "")))}
        for w in report.get("warnings", [])
    ]
    return {
        "status": job.status,
        "label": str(job.get_status_display()),
        "score": report.get("score"),
        "warnings": warnings,
        "error": _(job.error) if job.error else "",
        "reused": job.reused_from_id is not None,
    }
