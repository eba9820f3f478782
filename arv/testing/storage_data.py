"""A company with every kind of stored file, written through its storage, for move and usage tests."""

from __future__ import annotations

import hashlib
import os

from django.core.files.base import ContentFile

from companies.models import Company
from companies.storage import storage_for_company


def _save(storage, name: str, data: bytes) -> str:
    saved = storage.save(name, ContentFile(data))
    assert saved == name
    return saved


def populate(company: Company, project, make_portrait, *, portraits: int = 2) -> dict[str, str]:
    """Photos with preview, a video with rendition and poster, MindAR and NFT markers, and the
    album marker; the usage counter matches. Returns every file name → its SHA-256."""
    from content.models import Portrait, Video
    from markers.models import Job, ProjectMarker

    storage = storage_for_company(company)
    for i in range(portraits):
        portrait = make_portrait(project, title=f"Photo {i}")
        base = portrait.storage_dir
        preview = _save(storage, f"{base}/preview-{i}.webp", os.urandom(3000))
        Portrait.objects.filter(pk=portrait.pk).update(
            preview=preview, stored_bytes=portrait.image_bytes + storage.size(preview)
        )
        files = {
            kind: _save(storage, f"{base}/{kind}-{i}.{ext}", os.urandom(size))
            for kind, ext, size in [("video", "mp4", 20000), ("web", "mp4", 15000), ("poster", "webp", 2000)]
        }
        video = Video.objects.create(
            portrait=portrait,
            file=files["video"],
            web_file=files["web"],
            poster=files["poster"],
            size_bytes=20000,
            stored_bytes=37000,
            status=Video.Status.READY,
        )
        mind = _save(storage, f"{base}/mindar-{i}.mind", os.urandom(5000))
        Job.objects.create(portrait=portrait, kind="mindar", status="ready", output=mind, output_bytes=5000)
        stem = f"{base}/nft-{i}"
        for ext, size in (("iset", 4000), ("fset", 6000), ("fset3", 1000)):
            _save(storage, f"{stem}.{ext}", os.urandom(size))
        Job.objects.create(portrait=portrait, kind="nft", status="ready", output=f"{stem}.iset", output_bytes=11000)
        Job.objects.create(portrait=portrait, kind="video", video=video, status="ready")
    album = _save(storage, f"{company.path_prefix}/{project.slug}/album-1.mind", os.urandom(8000))
    ProjectMarker.objects.create(project=project, output=album, output_bytes=8000, targets=[])
    names = _all_names(company)
    Company.objects.filter(pk=company.pk).update(storage_used_bytes=sum(storage.size(n) for n in names))
    return {name: digest_of(storage, name) for name in names}


def _all_names(company: Company) -> list[str]:
    from companies.storage_moves import company_file_names

    return company_file_names(company)


def digest_of(storage, name: str) -> str:
    with storage.open(name, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()
