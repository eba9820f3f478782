"""The AR.js NFT variant of the public page and the route that serves its three marker files."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import InMemoryStorage
from django.urls import reverse
from django.utils import timezone

from arv.testing.factories import PHONE
from companies.storage import storage_for_company
from markers.models import Job
from viewer.tests.test_page import config_of

FIXTURES = Path(__file__).resolve().parents[2] / "markers" / "tests" / "fixtures" / "nft"
REPORT = {"width": 1000, "height": 667, "dpi": 72, "scales": 15, "fset_points": 224, "fset3_points": 2844}


def add_nft_marker(portrait, *, status="ready", stem_name="nft-0123456789ab", storage=None) -> Job:
    """The three files of coffee.jpg's marker in the portrait's storage, and its NFT job."""
    storage = storage or storage_for_company(portrait.company)
    stem = f"{portrait.storage_dir}/{stem_name}"
    for ext in ("iset", "fset", "fset3"):
        storage.save(f"{stem}.{ext}", ContentFile((FIXTURES / f"coffee.{ext}").read_bytes()))
    return Job.objects.create(
        portrait=portrait, kind="nft", status=status, output=f"{stem}.iset", report=REPORT, finished_at=timezone.now()
    )


@pytest.fixture
def nft_portrait(ready_portrait):
    """A playable portrait with both markers ready, in a company that uses AR.js."""
    ready_portrait.company.viewer_engine = "nft"
    ready_portrait.company.save()
    add_nft_marker(ready_portrait)
    return ready_portrait


def page(client, portrait):
    return client.get(reverse("viewer:page", args=[portrait.unique_id]), HTTP_USER_AGENT=PHONE)


def file_url(portrait, ext, name="nft-0123456789ab"):
    return reverse("viewer:nft_file", kwargs={"uuid": portrait.unique_id, "name": name, "ext": ext})


def is_mindar_page(html: str) -> bool:
    return "viewer/mindar.js" in html and "mindar-image-three" in html and "ar-threex" not in html


def is_nft_page(html: str) -> bool:
    return "viewer/nft.js" in html and "/static/vendor/ar-js/ar-threex.mjs" in html and "mindar" not in html


# --- Which page -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_company_default_engine_is_mindar(client, ready_portrait):
    add_nft_marker(ready_portrait)
    response = page(client, ready_portrait)
    assert is_mindar_page(response.content.decode())
    config = config_of(response)
    assert config["engine"] == "mindar" and config["markerUrl"].endswith("/mindar.mind") and "nft" not in config


@pytest.mark.django_db
def test_a_company_on_ar_js_gets_the_nft_page_in_three_queries(client, nft_portrait, django_assert_max_num_queries):
    # portrait with company, project, connection and both markers; its playable videos; views += 1
    with django_assert_max_num_queries(3):
        response = page(client, nft_portrait)
    assert response.status_code == 200
    html = response.content.decode()
    assert is_nft_page(html)
    assert "/static/vendor/three/build/three.module.min.js" in html and "/static/viewer/viewer.js" in html
    assert "https://" not in html.replace(nft_portrait.public_url, "")  # nothing from a CDN
    config = config_of(response)
    assert config["engine"] == "nft" and "markerUrl" not in config
    nft = config["nft"]
    assert nft["baseUrl"] == f"/v/{nft_portrait.unique_id}/nft/nft-0123456789ab"
    assert nft["cameraUrl"] == "/static/viewer/arjs/camera_para.dat"
    # 1000 × 667 px at 72 dpi, in the millimetres AR.js measures the photo in.
    assert nft["widthMm"] == pytest.approx(352.778, abs=0.001)
    assert nft["heightMm"] == pytest.approx(235.303, abs=0.001)
    (target,) = config["targets"]
    assert target["beaconUrl"] == f"/v/{nft_portrait.unique_id}/beacon"
    assert target["targetWidth"] == 800 and target["targetHeight"] == 600
    # The same panels and ways out as the MindAR page.
    for text in ("Point your camera at the photo", "Just play the video", "The camera is blocked", "Tap for sound"):
        assert text in html
    nft_portrait.refresh_from_db()
    assert nft_portrait.views_count == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("company_engine", "portrait_engine", "expected"),
    [("mindar", "nft", "nft"), ("nft", "mindar", "mindar"), ("nft", "", "nft"), ("mindar", "", "mindar")],
)
def test_a_photo_can_override_its_company_engine(client, ready_portrait, company_engine, portrait_engine, expected):
    add_nft_marker(ready_portrait)
    ready_portrait.company.viewer_engine = company_engine
    ready_portrait.company.save()
    ready_portrait.viewer_engine = portrait_engine
    ready_portrait.save()
    response = page(client, ready_portrait)
    assert config_of(response)["engine"] == expected
    html = response.content.decode()
    assert is_nft_page(html) if expected == "nft" else is_mindar_page(html)


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["pending", "processing", "failed"])
def test_until_its_nft_marker_is_ready_a_photo_plays_with_mindar(client, ready_portrait, status):
    ready_portrait.viewer_engine = "nft"
    ready_portrait.save()
    add_nft_marker(ready_portrait, status=status)
    response = page(client, ready_portrait)
    assert response.status_code == 200 and is_mindar_page(response.content.decode())


@pytest.mark.django_db
def test_without_any_ready_marker_the_page_says_almost_ready(client, ready_portrait):
    ready_portrait.viewer_engine = "nft"
    ready_portrait.save()
    ready_portrait.jobs.filter(kind="mindar").update(status="processing")
    add_nft_marker(ready_portrait, status="processing")
    assert "Almost ready" in page(client, ready_portrait).content.decode()


@pytest.mark.django_db
def test_an_nft_marker_without_its_size_is_not_used(client, ready_portrait):
    ready_portrait.viewer_engine = "nft"
    ready_portrait.save()
    add_nft_marker(ready_portrait)
    Job.objects.filter(portrait=ready_portrait, kind="nft").update(report={})
    assert is_mindar_page(page(client, ready_portrait).content.decode())


# --- The marker files -----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("ext", ["iset", "fset", "fset3"])
def test_each_marker_file_is_served_as_inert_cacheable_bytes(client, nft_portrait, ext):
    response = client.get(file_url(nft_portrait, ext))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == (FIXTURES / f"coffee.{ext}").read_bytes()
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response["Accept-Ranges"] == "bytes"
    assert client.head(file_url(nft_portrait, ext)).status_code == 200
    assert client.post(file_url(nft_portrait, ext)).status_code == 405


@pytest.mark.django_db
def test_marker_files_honour_range_requests(client, nft_portrait):
    data = (FIXTURES / "coffee.fset3").read_bytes()
    response = client.get(file_url(nft_portrait, "fset3"), HTTP_RANGE="bytes=100-199")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert b"".join(response.streaming_content) == data[100:200]
    response = client.get(file_url(nft_portrait, "fset3"), HTTP_RANGE="bytes=-10")
    assert b"".join(response.streaming_content) == data[-10:]
    assert client.get(file_url(nft_portrait, "fset3"), HTTP_RANGE=f"bytes={len(data)}-").status_code == 416


@pytest.mark.django_db
def test_only_the_current_marker_of_that_photo_is_served(client, nft_portrait, tenants, make_portrait):
    assert client.get(file_url(nft_portrait, "iset", name="nft-000000000000")).status_code == 404  # an old marker
    other = make_portrait(tenants.project_a, with_video=True)
    assert client.get(file_url(other, "iset")).status_code == 404  # another photo: the name is not its marker
    add_nft_marker(other, stem_name="nft-ffffffffffff")
    assert client.get(file_url(other, "iset")).status_code == 404
    assert client.get(file_url(other, "iset", name="nft-ffffffffffff")).status_code == 200
    base = f"/v/{nft_portrait.unique_id}/nft/nft-0123456789ab"
    for path in (f"{base}.jpg", f"{base}.mind", f"{base}.iset/", f"/v/{nft_portrait.unique_id}/nft/..%2Fphoto.jpg"):
        assert client.get(path).status_code == 404, path
    assert client.get("/v/00000000-0000-4000-8000-000000000000/nft/nft-0123456789ab.iset").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["pending", "processing", "failed"])
def test_an_unready_marker_is_not_served(client, nft_portrait, status):
    nft_portrait.jobs.filter(kind="nft").update(status=status)
    assert client.get(file_url(nft_portrait, "iset")).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [
        lambda p: setattr(p, "expires_at", timezone.now() - timedelta(days=1)),
        lambda p: setattr(p, "is_active", False),
        lambda p: setattr(p, "published_at", timezone.now() + timedelta(days=1)),
    ],
)
def test_nothing_is_served_for_a_photo_the_page_would_not_play(client, nft_portrait, change):
    change(nft_portrait)
    nft_portrait.save()
    for ext in ("iset", "fset", "fset3"):
        assert client.get(file_url(nft_portrait, ext)).status_code == 404


@pytest.mark.django_db
def test_nothing_is_served_for_an_expired_project_or_inactive_company(client, nft_portrait):
    project = nft_portrait.project
    project.expires_at = timezone.now() - timedelta(hours=1)
    project.save()
    assert client.get(file_url(nft_portrait, "iset")).status_code == 404
    project.expires_at = None
    project.save()
    assert client.get(file_url(nft_portrait, "iset")).status_code == 200
    nft_portrait.company.set_active(False)
    assert client.get(file_url(nft_portrait, "iset")).status_code == 404


class PresignedStorage(InMemoryStorage):
    """A remote store whose public URLs carry a signature in the query string, like S3's."""

    def url(self, name):
        return f"https://bucket.example.com/{name}?X-Amz-Signature=abc&X-Amz-Expires=3600"


@pytest.mark.django_db
def test_with_presigned_storage_urls_the_runtime_still_gets_plain_paths(client, ready_portrait, monkeypatch):
    ready_portrait.viewer_engine = "nft"
    ready_portrait.save()
    storage = PresignedStorage()
    add_nft_marker(ready_portrait, stem_name="nft-aaaaaaaaaaaa", storage=storage)
    monkeypatch.setattr("viewer.views.storage_for_company", lambda company: storage)
    config = config_of(page(client, ready_portrait))
    # AR.js appends ".iset" etc. to the base URL: it must be ours, with no query string to break.
    assert config["nft"]["baseUrl"] == f"/v/{ready_portrait.unique_id}/nft/nft-aaaaaaaaaaaa"
    assert config["targets"][0]["videoUrl"].startswith("https://bucket.example.com/")
    response = client.get(config["nft"]["baseUrl"] + ".fset", HTTP_RANGE="bytes=0-3")
    assert response.status_code == 206
    assert b"".join(response.streaming_content) == (FIXTURES / "coffee.fset").read_bytes()[:4]


@pytest.mark.django_db
def test_only_the_ar_js_page_relaxes_the_script_policy(client, nft_portrait, ready_portrait):
    # AR.js's Emscripten build needs eval and WebAssembly; the MindAR page stays strict.
    nft_policy = page(client, nft_portrait)["Content-Security-Policy"]
    assert "'wasm-unsafe-eval'" in nft_policy and "'unsafe-eval'" in nft_policy
    nft_portrait.viewer_engine = "mindar"
    nft_portrait.save()
    mindar_policy = page(client, nft_portrait)["Content-Security-Policy"]
    assert "unsafe-eval" not in mindar_policy and "'sha256-" in mindar_policy
