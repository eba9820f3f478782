"""The public AR pages a QR code opens, and the friendly pages shown instead of them.

``/v/<uuid>/`` plays one photo and costs at most three queries: the portrait (with its company,
project, storage connection, rotation and ready markers, in one query), its playable videos, and
the views counter (batched per process, see viewer/counter.py). A client's reloads of one photo
count as one view per VIEW_COUNT_WINDOW_SECONDS (the counter settles that in the shared cache).
Rendered pages are reused for a few seconds by each process (viewer/pagecache.py). The page runs
the photo's AR engine (``Portrait.engine``): MindAR; AR.js NFT, whose three marker files come
from ``/v/<uuid>/nft/...``; or our own tracker ``arv`` (static/viewer/arv/), which reads the compact
marker (``.arvm``) stored next to the ``.mind`` and falls back to MindAR where it cannot start.

``/p/<uuid>/`` is a project's album: one combined marker, every photo a target.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from django.conf import settings
from django.contrib.staticfiles import finders
from django.db.models import OuterRef, Prefetch, Subquery
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from companies.models import Project, ViewerEngine
from companies.storage import storage_for_company
from content.models import Portrait, Video
from content.schedules import choose_video
from lib.addresses import client_key
from lib.csp import add_csp, script_hash
from lib.media import serve_file
from markers.arvm import compact_name
from markers.arvm import current_version as current_compact_version
from markers.models import Job
from viewer import counter, pagecache
from viewer.clients import is_bot

NOT_FOUND_AFTER_MS = 15000
NFT_EXTENSIONS = ("iset", "fset", "fset3")


def _ready_marker(kind: str, field: str = "output") -> Subquery:
    return Subquery(Job.objects.filter(portrait=OuterRef("pk"), kind=kind, status=Job.Status.READY).values(field)[:1])


def _load(uuid) -> Portrait:
    # No .first(): its ORDER BY costs more to build than the query takes to run. Both engines'
    # markers come with the portrait (correlated subqueries on the unique portrait+kind index), so
    # either page still costs one query here.
    found = list(
        Portrait.objects.select_related("company__storage_connection", "project", "rotation")
        .annotate(
            mindar_output=_ready_marker(Job.Kind.MINDAR),
            mindar_compact=_ready_marker(Job.Kind.MINDAR, "compact_version"),
            nft_output=_ready_marker(Job.Kind.NFT),
            nft_report=_ready_marker(Job.Kind.NFT, "report"),
        )
        .filter(unique_id=uuid)
        .order_by()[:1]
    )
    if not found:
        raise Http404
    return found[0]


def _check_host(request, company_id: int) -> None:
    """On a studio's own domain only its photos exist: another company's are a plain 404."""
    host_company_id = getattr(request, "viewer_host_company_id", None)
    if host_company_id is not None and host_company_id != company_id:
        raise Http404


def _still_page(request, *, company, reason: str, title: str = "", photo_url: str = ""):
    context = {
        "company": company,
        "brand": company.brand,
        "reason": reason,
        "title": title,
        # Nothing of an inactive company is shown publicly, not even the photo.
        "photo_url": photo_url if company.is_active else "",
    }
    return render(request, "viewer/still.html", context, status=410 if reason == "expired" else 200)


def _target(storage, portrait: Portrait, video: Video) -> dict:
    return {
        "portrait": str(portrait.unique_id),
        "videoUrl": storage.url(video.playback_file.name),
        "videoType": "video/mp4" if video.web_file else video.mime_type,
        "posterUrl": storage.url(video.poster.name) if video.poster else "",
        "targetWidth": portrait.image_width,
        "targetHeight": portrait.image_height,
        "videoWidth": video.width,
        "videoHeight": video.height,
        "beaconUrl": reverse("viewer:beacon", kwargs={"uuid": portrait.unique_id}),
    }


def _count_view(request, uuid, portrait_pk: int, now) -> None:
    """Count a person's page load: not a bot's, not a HEAD, and not a reload storm's (one view per
    client and photo per VIEW_COUNT_WINDOW_SECONDS)."""
    if request.method != "GET" or is_bot(request.headers.get("User-Agent", "")):
        return
    visitor = f"view:{uuid}:{client_key(request)}" if settings.VIEW_COUNT_WINDOW_SECONDS else ""
    counter.count(portrait_pk, now, visitor=visitor)


@never_cache
@require_safe
def page(request, uuid):
    # Per host: a page rendered for the main site must not answer on another studio's domain.
    key = ("page", str(uuid), request.LANGUAGE_CODE, getattr(request, "viewer_host_company_id", None))
    cached = pagecache.get(key)
    if cached is not None:
        if cached.portrait_pk:
            _count_view(request, uuid, cached.portrait_pk, timezone.now())
        response = HttpResponse(cached.content, status=cached.status, content_type=cached.content_type)
        response.csp_extra = cached.csp_extra
        if cached.permissions_policy:
            response.permissions_policy = cached.permissions_policy
        add_never_cache_headers(response)
        return response
    response, portrait_pk = _render_page(request, uuid)
    pagecache.put(key, response, portrait_pk=portrait_pk)
    return response


def _render_page(request, uuid) -> tuple[HttpResponse, int | None]:
    """The page and, when it plays, the portrait whose views it counts."""
    portrait = _load(uuid)
    _check_host(request, portrait.company_id)
    now = timezone.now()
    preview = portrait.preview.url if portrait.preview else ""
    reason = portrait.unavailable_reason(now)
    if reason:
        return _still_page(
            request, company=portrait.company, reason=reason, title=portrait.title, photo_url=preview
        ), None
    video = choose_video(list(portrait.videos.playable()), now, portrait.rotation_rule())
    engine = _engine(portrait)
    if video is None or not engine:
        still = _still_page(
            request, company=portrait.company, reason="preparing", title=portrait.title, photo_url=preview
        )
        return still, None
    _count_view(request, uuid, portrait.pk, now)
    storage = storage_for_company(portrait.company)
    config = {
        "engine": engine,
        "engines": ENGINE_CHAINS[engine],
        "previewUrl": preview,
        "targets": [_target(storage, portrait, video)],
        "notFoundAfterMs": NOT_FOUND_AFTER_MS,
    }
    if engine == ViewerEngine.NFT:
        config["nft"] = _nft_config(portrait)
    else:
        kwargs = {"uuid": portrait.unique_id, "name": _stem_name(portrait.mindar_output)}
        config["markerUrl"] = reverse("viewer:marker", kwargs=kwargs)
        if engine == ViewerEngine.ARV:
            config.update(_arv_config(reverse("viewer:compact_marker", kwargs=kwargs)))
    title = portrait.title or _("Living photo")
    return _ar_page(request, company=portrait.company, config=config, title=title), portrait.pk


# The viewer may use the camera and play media; nothing else (WebGL needs no permission).
VIEWER_PERMISSIONS = (
    "camera=(self), autoplay=(self), fullscreen=(self), microphone=(), geolocation=(), payment=(), usb=()"
)


# Engines each page tries, in order (static/viewer/viewer.js runs the chain and, when every engine
# fails, plays the video full-screen). The photo's engine comes first; a new engine is added here
# and in viewer.js's ENGINES.
ENGINE_CHAINS = {
    ViewerEngine.MINDAR: (ViewerEngine.MINDAR,),
    ViewerEngine.NFT: (ViewerEngine.NFT,),
    # Where our tracker cannot start (no module workers, camera API quirks, a broken marker),
    # MindAR takes over with the .mind; its runtime is only downloaded then.
    ViewerEngine.ARV: (ViewerEngine.ARV, ViewerEngine.MINDAR),
}
# Per engine: its module and the runtime modules it imports, as the importmap names them.
ENGINE_MODULES = {
    ViewerEngine.MINDAR: {
        "arv-engine-mindar": "viewer/mindar.js",
        "mindar-image-three": "vendor/mind-ar/mindar-image-three.prod.js",
        "three/addons/renderers/CSS3DRenderer.js": "vendor/three/addons/renderers/CSS3DRenderer.js",
    },
    ViewerEngine.NFT: {"arv-engine-nft": "viewer/nft.js", "arjs-threex": "vendor/ar-js/ar-threex.mjs"},
    # The tracker's page modules; its worker imports the rest itself (a worker has no importmap).
    ViewerEngine.ARV: {
        "arv-engine-arv": "viewer/arv.js",
        "arv-tracker": "viewer/arv/engine.js",
    },
}
# Modules of an engine that are fetched by a relative import of one above (preloaded with them).
ENGINE_RELATIVE_MODULES = {
    ViewerEngine.ARV: ("viewer/arv/camera.js", "viewer/arv/grey.js", "viewer/arv/overlay.js"),
}
# three.js is imported by the engines that render with it, not by the viewer itself.
THREE_ENGINES = (ViewerEngine.MINDAR, ViewerEngine.NFT)
SHARED_MODULES = {
    "three": "vendor/three/build/three.module.min.js",
    "arv-viewer": "viewer/viewer.js",
    "arv-viewer-contract": "viewer/contract.js",
}
_RELATIVE_IMPORT = re.compile(rb"""\bfrom\s*["'](\./[^"'\s]+)["']""")


@lru_cache(maxsize=64)
def _relative_imports(path: str) -> tuple[str, ...]:
    """Static files a vendor module imports by relative name (MindAR's 2 MB controller chunk), so
    the page can start downloading them with the module itself."""
    found = finders.find(path)
    if not found:
        return ()
    with open(found, "rb") as fh:
        head = fh.read(64 * 1024)  # the imports open the file
    folder = path.rsplit("/", 1)[0]
    return tuple(f"{folder}/{m.decode()[2:]}" for m in _RELATIVE_IMPORT.findall(head))


@lru_cache(maxsize=8)
def importmap(engine: str) -> str:
    """Where the page's bare module names resolve, for every engine of its chain; allowed by its
    hash in the page's CSP. Every name maps to a content-hashed static file, cacheable forever."""
    imports = {name: static(path) for name, path in SHARED_MODULES.items()}
    for name in ENGINE_CHAINS[engine]:
        imports.update({key: static(path) for key, path in ENGINE_MODULES[name].items()})
    return json.dumps({"imports": imports}, separators=(",", ":"))


@lru_cache(maxsize=8)
def module_preloads(engine: str) -> tuple[str, ...]:
    """Every module the first engine of the chain will import, fetched in parallel from the
    page's <head> instead of one after another as the imports are discovered."""
    first = ENGINE_CHAINS[engine][0]
    paths = ["viewer/contract.js", *ENGINE_MODULES[first].values(), *ENGINE_RELATIVE_MODULES.get(first, ())]
    if first in THREE_ENGINES:
        paths.append(SHARED_MODULES["three"])
    for path in list(paths):
        paths += _relative_imports(path)
    return tuple(static(path) for path in dict.fromkeys(paths))


def _ar_page(request, *, company, config: dict, title: str) -> HttpResponse:
    engine = config.get("engine") or ViewerEngine.MINDAR
    imports = importmap(engine)
    context = {
        "company": company,
        "brand": company.brand,
        "config": config,
        "title": title,
        "importmap": mark_safe(imports),  # noqa: S308
        "module_preloads": module_preloads(engine),
        "marker_preloads": _marker_urls(config),
    }
    response = render(request, "viewer/page.html", context)
    scripts = (script_hash(imports),)
    if engine == ViewerEngine.NFT:
        # AR.js's ARToolKit is an Emscripten build: it compiles WebAssembly and evaluates generated
        # glue code with eval, so its page (and only its page) must allow both. The MindAR page
        # keeps the strict policy.
        scripts += ("'wasm-unsafe-eval'", "'unsafe-eval'")
    # blob: — MindAR is handed the marker's bytes, downloaded early, as a blob: URL it fetches.
    add_csp(response, script_src=scripts, connect_src=("blob:",), permissions=VIEWER_PERMISSIONS)
    return response


def _marker_urls(config: dict) -> list[str]:
    """The marker files the first engine of the chain will fetch, preloaded from its <head> (not
    the fallback's: the .mind is 4–5× the compact marker, and most visits never need it)."""
    if config.get("compactMarkerUrl"):
        return [config["compactMarkerUrl"]]
    if config.get("markerUrl"):
        return [config["markerUrl"]]
    if config.get("nft"):
        return [f"{config['nft']['baseUrl']}.{ext}" for ext in NFT_EXTENSIONS]
    return []


def _engine(portrait: Portrait) -> str:
    """The engine the page runs: the photo's own (AR.js NFT when its marker is ready; arv when the
    MindAR marker has its compact marker in the format this viewer reads), else MindAR, which
    every photo gets, so a photo whose other marker is still being made or failed still plays.
    '' when no marker is ready."""
    if portrait.engine == ViewerEngine.NFT and portrait.nft_output and _nft_size_mm(portrait.nft_report):
        return ViewerEngine.NFT
    if not portrait.mindar_output:
        return ""
    if portrait.engine == ViewerEngine.ARV and portrait.mindar_compact == current_compact_version():
        return ViewerEngine.ARV
    return ViewerEngine.MINDAR


def _arv_config(compact_marker_url: str) -> dict:
    return {
        "compactMarkerUrl": compact_marker_url,
        # Content-hashed like the page's modules, so a new release never runs an old worker.
        "arvWorkerUrl": static("viewer/arv/worker.js"),
    }


def _nft_size_mm(report) -> tuple[float, float] | None:
    """The photo's size in AR.js NFT world units: millimetres at the marker's DPI (the runtime reads
    the .fset/.fset3 coordinates in mm, origin at the photo's bottom-left corner)."""
    try:
        width, height, dpi = float(report["width"]), float(report["height"]), float(report["dpi"])
    except (KeyError, TypeError, ValueError):
        return None
    if min(width, height, dpi) <= 0:
        return None
    return width / dpi * 25.4, height / dpi * 25.4


def _stem_name(stored_name: str) -> str:
    """A stored marker's file name without folder or extension: it versions the public URL."""
    return stored_name.rsplit("/", 1)[-1].rsplit(".", 1)[0]


def _nft_stem(portrait: Portrait) -> str:
    """The marker's stored name without its extension; its last part versions the public URLs."""
    return portrait.nft_output.rsplit(".", 1)[0]


def _nft_config(portrait: Portrait) -> dict:
    width_mm, height_mm = _nft_size_mm(portrait.nft_report)
    name = _nft_stem(portrait).rsplit("/", 1)[-1]
    iset = reverse("viewer:nft_file", kwargs={"uuid": portrait.unique_id, "name": name, "ext": "iset"})
    return {
        # AR.js appends .iset/.fset/.fset3 to this base itself, which a presigned S3 URL (query
        # string) cannot survive, so the files are always streamed through our own route.
        "baseUrl": iset.removesuffix(".iset"),
        # The ARToolKit camera calibration AR.js expects (docs/nft-generator.md, "AR engines").
        "cameraUrl": static("viewer/arjs/camera_para.dat"),
        "widthMm": round(width_mm, 3),
        "heightMm": round(height_mm, 3),
    }


@require_safe
def nft_file(request, uuid, name: str, ext: str):
    """One of the three files of the photo's ready AR.js NFT marker, from the company's storage.

    ``name`` is the marker's stored stem, so a regenerated marker gets new URLs and the files can
    be cached forever like every other stored file (lib/media.py). Nothing is served for a photo
    the public page would not play (expired, paused, unpublished, inactive company)."""
    if ext not in NFT_EXTENSIONS:
        raise Http404
    portrait = _load(uuid)
    _check_host(request, portrait.company_id)
    if not portrait.nft_output or portrait.unavailable_reason(timezone.now()):
        raise Http404
    stem = _nft_stem(portrait)
    if stem.rsplit("/", 1)[-1] != name:
        raise Http404
    return serve_file(request, storage_for_company(portrait.company), f"{stem}.{ext}")


@require_safe
def marker(request, uuid, name: str, compact: bool = False):
    """The photo's ready MindAR marker, from the company's storage, whatever its kind (local disk,
    S3, Yandex Disk): one stable URL per marker, so browsers keep it forever (a presigned S3 link
    changes on every page), sent compressed. Nothing is served for a photo the public page would
    not play. *compact*: the .arvm next to it (the arv engine's), once it is made."""
    portrait = _load(uuid)
    _check_host(request, portrait.company_id)
    if not portrait.mindar_output or portrait.unavailable_reason(timezone.now()):
        raise Http404
    if _stem_name(portrait.mindar_output) != name:
        raise Http404
    stored = portrait.mindar_output
    if compact:
        if portrait.mindar_compact != current_compact_version():
            raise Http404
        stored = compact_name(stored)
    return serve_file(request, storage_for_company(portrait.company), stored)


@require_safe
def album_marker(request, uuid, name: str, compact: bool = False):
    """The album's combined MindAR marker (or its .arvm), like :func:`marker`."""
    project = (
        Project.objects.select_related("company__storage_connection", "combined_marker").filter(public_id=uuid).first()
    )
    if project is None:
        raise Http404
    _check_host(request, project.company_id)
    if project.unavailable_reason(timezone.now()):
        raise Http404
    combined = getattr(project, "combined_marker", None)
    if combined is None or not combined.output or _stem_name(combined.output.name) != name:
        raise Http404
    stored = combined.output.name
    if compact:
        if combined.compact_version != current_compact_version():
            raise Http404
        stored = compact_name(stored)
    return serve_file(request, storage_for_company(project.company), stored)


@never_cache
@require_safe
def album(request, uuid):
    """Every live photo of a project on one page: point the camera at any of them."""
    project = (
        Project.objects.select_related("company__storage_connection", "combined_marker").filter(public_id=uuid).first()
    )
    if project is None:
        raise Http404
    _check_host(request, project.company_id)
    now = timezone.now()
    reason = project.unavailable_reason(now)
    if reason:
        return _still_page(request, company=project.company, reason=reason, title=project.name)
    marker = getattr(project, "combined_marker", None)
    if marker is None or not marker.output or not marker.targets:
        return _still_page(request, company=project.company, reason="preparing", title=project.name)
    playable = Prefetch("videos", queryset=Video.objects.playable())
    portraits = {
        str(p.unique_id): p
        for p in Portrait.objects.filter(project=project, unique_id__in=marker.targets)
        .publicly_visible()
        .select_related("company", "rotation")
        .prefetch_related(playable)
    }
    storage = storage_for_company(project.company)
    targets = []
    for index, key in enumerate(marker.targets):
        portrait = portraits.get(key)
        video = choose_video(list(portrait.videos.all()), now, portrait.rotation_rule()) if portrait else None
        if video is not None:
            targets.append({**_target(storage, portrait, video), "index": index})
    if not targets:
        return _still_page(request, company=project.company, reason="preparing", title=project.name)
    # The combined marker is MindAR's; the company's choice of arv applies once its .arvm exists
    # (photos' own choices cannot: one album, one engine). AR.js NFT has no album marker.
    engine = ViewerEngine.MINDAR
    if project.company.viewer_engine == ViewerEngine.ARV and marker.compact_version == current_compact_version():
        engine = ViewerEngine.ARV
    kwargs = {"uuid": project.public_id, "name": _stem_name(marker.output.name)}
    config = {
        "engine": engine,
        "engines": ENGINE_CHAINS[engine],
        "markerUrl": reverse("viewer:album_marker", kwargs=kwargs),
        "previewUrl": "",
        "targets": targets,
        "notFoundAfterMs": NOT_FOUND_AFTER_MS,
    }
    if engine == ViewerEngine.ARV:
        config.update(_arv_config(reverse("viewer:album_compact_marker", kwargs=kwargs)))
    return _ar_page(request, company=project.company, config=config, title=project.name)
