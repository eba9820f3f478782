"""What markers does when the apps below announce a change (``content.signals``,
``companies.signals``): they never import markers, which sits above them. Connected once by
``MarkersConfig.ready``; receivers run synchronously inside the sender's transaction, and the
tasks they queue go out on commit, so behaviour is that of a direct call."""

from __future__ import annotations

from companies import signals as company_signals
from content import signals
from content.models import Portrait, Video
from markers.jobs import queue_portrait_jobs, queue_project_marker, queue_video_job
from markers.status import refresh_portrait_status


def portrait_uploaded(sender, *, portrait: Portrait, **kwargs) -> None:
    queue_portrait_jobs(portrait=portrait)


def video_uploaded(sender, *, video: Video, **kwargs) -> None:
    queue_video_job(video=video)


def portrait_inputs_changed(sender, *, portrait: Portrait, **kwargs) -> None:
    refresh_portrait_status(portrait=portrait)


def album_changed(sender, *, project_id: int, **kwargs) -> None:
    queue_project_marker(project_id=project_id)


def viewer_engine_changed(sender, *, company, **kwargs) -> None:
    # Which markers "ready" waits for depends on the engine.
    for portrait in company.portraits.select_related("company"):
        refresh_portrait_status(portrait=portrait)


def listen() -> None:
    uid = "markers.receivers"
    signals.portrait_uploaded.connect(portrait_uploaded, dispatch_uid=f"{uid}.portrait_uploaded")
    signals.video_uploaded.connect(video_uploaded, dispatch_uid=f"{uid}.video_uploaded")
    signals.portrait_inputs_changed.connect(portrait_inputs_changed, dispatch_uid=f"{uid}.portrait_inputs_changed")
    signals.album_changed.connect(album_changed, dispatch_uid=f"{uid}.album_changed")
    company_signals.viewer_engine_changed.connect(viewer_engine_changed, dispatch_uid=f"{uid}.viewer_engine_changed")
