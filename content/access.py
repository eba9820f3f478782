"""Access helpers for content, on the same mechanism as ``companies.access``."""

from companies.access import PortalRequest, scoped_get
from content.models import Batch, Portrait, Video


def get_portrait_for_user(request: PortalRequest, uuid, *, write: bool = False) -> Portrait:
    queryset = Portrait.objects.for_company(request.tenant.company).select_related(
        "project", "company", "rotation"
    )
    return scoped_get(request, queryset, write=write, unique_id=uuid)


def get_video_for_user(request: PortalRequest, portrait: Portrait, pk: int, *, write: bool = False) -> Video:
    return scoped_get(request, portrait.videos.select_related("portrait__company"), write=write, pk=pk)


def get_batch_for_user(request: PortalRequest, uuid, *, write: bool = False) -> Batch:
    queryset = Batch.objects.for_company(request.tenant.company).select_related("project", "company", "created_by")
    return scoped_get(request, queryset, write=write, uuid=uuid)
