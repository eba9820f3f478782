"""Test data every app's tests share: photo bytes, a phone's User-Agent, the warm caches of a
running server, a photo uploaded through the portal and processed. The fixtures that build the
tenant tree on top of these (``tenants``, ``make_user``, ``make_portrait``, ``ready_portrait``) are
in the root ``conftest.py``."""

# A phone's browser, as the viewer's pages and beacon see it (not a bot, a touch device).
PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1"
)


def warm_process_caches() -> None:
    """What any running server has already looked up: the default storage connection and the
    storage origins of the CSP (each re-read at most once a minute)."""
    from companies.storage import default_connection, storage_origins

    default_connection()
    storage_origins()


def jpeg_bytes(width=800, height=600, seed=1, quality=90) -> bytes:
    """A photo-like JPEG: smooth shapes plus texture, so markers have features to find."""
    import io

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = 128 + 60 * np.sin(x / (17 + seed)) * np.cos(y / 23) + rng.normal(0, 25, (height, width))
    rgb = np.stack([base, np.roll(base, 7, axis=1), np.roll(base, 13, axis=0)], axis=-1)
    img = Image.fromarray(np.clip(rgb, 0, 255).astype("uint8"), "RGB")
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return out.getvalue()


def run_jobs(portrait) -> None:
    """Run *portrait*'s queued jobs here, one after the other, as the worker would."""
    from markers import jobs
    from markers.models import Job

    for job in Job.objects.filter(portrait=portrait).order_by("pk"):
        jobs.run_job(job_id=job.pk)
    portrait.refresh_from_db()


def upload_through_portal(client, project, *, title: str, photo: bytes, video: bytes):
    """A photo and its video uploaded through the portal by *client* (logged in), its jobs run
    (:func:`run_jobs`): the portrait as the product makes it, real markers and renditions."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    from content.models import Portrait

    response = client.post(
        reverse("portal:portrait_upload", args=[project.slug]),
        {
            "title": title,
            "image": SimpleUploadedFile("coffee.jpg", photo),
            "video": SimpleUploadedFile("clip.mp4", video),
        },
    )
    assert response.status_code == 302, response.content[:500]
    portrait = Portrait.objects.get(title=title)
    run_jobs(portrait)
    return portrait
