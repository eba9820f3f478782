import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from arv.storage import default_connection, storage_for_company
from markers.models import Job

PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1"
)


@pytest.fixture
def ready_portrait(tenants, make_portrait):
    """A portrait the viewer can play: ready MindAR marker, preview, a ready video."""
    portrait = make_portrait(tenants.project_a, title="Anna", with_video=True)
    storage = storage_for_company(portrait.company)
    marker = storage.save(f"{portrait.storage_dir}/mindar.mind", ContentFile(b"\x82\xa1v\x02" + b"\x00" * 1000))
    Job.objects.create(portrait=portrait, kind="mindar", status="ready", output=marker, finished_at=timezone.now())
    portrait.preview = storage.save(f"{portrait.storage_dir}/preview.webp", ContentFile(b"RIFF0000WEBP"))
    portrait.status = "ready"
    portrait.save()
    default_connection()  # warm the per-process cache, as any running server has
    return portrait
