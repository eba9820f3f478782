"""The viewer page with the arv engine: the chain (arv → MindAR → video), what it preloads, the
per-company and per-photo choice, and the compact marker's route."""

import gzip
import re
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from arv.testing.factories import PHONE
from companies.models import Company
from companies.storage import storage_for_company
from content.models import Portrait
from markers.arvm import compact_name
from markers.models import Job, ProjectMarker
from viewer.tests.test_page import config_of

COMPACT = b"ARVM\x01" + bytes(range(256)) * 400  # compressible, like a real .arvm


@pytest.fixture
def arv_portrait(ready_portrait):
    """The ready photo with its compact marker, in a company that chose the arv engine."""
    job = ready_portrait.jobs.get(kind="mindar")
    storage_for_company(ready_portrait.company).save(compact_name(job.output.name), ContentFile(COMPACT))
    Job.objects.filter(pk=job.pk).update(compact_version=1)
    Company.objects.filter(pk=ready_portrait.company_id).update(viewer_engine="arv")
    return Portrait.objects.get(pk=ready_portrait.pk)


def page(client, portrait):
    response = client.get(reverse("viewer:page", args=[portrait.unique_id]), HTTP_USER_AGENT=PHONE)
    assert response.status_code == 200
    return response, response.content.decode()


def compact_url(portrait, name="mindar"):
    return reverse("viewer:compact_marker", kwargs={"uuid": portrait.unique_id, "name": name})


@pytest.mark.django_db
def test_the_arv_page_preloads_only_the_tracker_and_its_compact_marker(
    client, arv_portrait, django_assert_num_queries
):
    with django_assert_num_queries(3):  # as the MindAR page: the compact marker comes with the portrait
        response, html = page(client, arv_portrait)
    config = config_of(response)
    assert config["engine"] == "arv" and config["engines"] == ["arv", "mindar"]
    assert config["compactMarkerUrl"] == f"/v/{arv_portrait.unique_id}/marker/mindar.arvm"
    assert config["markerUrl"] == f"/v/{arv_portrait.unique_id}/marker/mindar.mind"  # for the fallback
    assert re.fullmatch(r"/static/viewer/arv/worker(\.\w+)?\.js", config["arvWorkerUrl"])
    preloads = re.findall(r'<link rel="preload" as="fetch" href="([^"]+)"', html)
    assert preloads == [config["compactMarkerUrl"]]  # not the .mind: most visits never need it
    modules = re.findall(r'<link rel="modulepreload" href="([^"]+)"', html)
    assert "/static/viewer/arv.js" in modules and "/static/viewer/arv/engine.js" in modules
    assert not [m for m in modules if "mind-ar" in m or "three" in m]
    # MindAR stays reachable through the importmap, for the fallback.
    assert '"arv-engine-mindar":' in html and '"mindar-image-three":' in html and '"arv-tracker":' in html


@pytest.mark.django_db
def test_the_photo_s_own_choice_wins_over_the_company_s(client, arv_portrait):
    Portrait.objects.filter(pk=arv_portrait.pk).update(viewer_engine="mindar")
    response, _ = page(client, arv_portrait)
    assert config_of(response)["engines"] == ["mindar"] and "compactMarkerUrl" not in config_of(response)
    Company.objects.filter(pk=arv_portrait.company_id).update(viewer_engine="mindar")
    Portrait.objects.filter(pk=arv_portrait.pk).update(viewer_engine="arv")
    from viewer import pagecache

    pagecache.clear()
    response, _ = page(client, arv_portrait)
    assert config_of(response)["engines"] == ["arv", "mindar"]


@pytest.mark.django_db
def test_without_its_compact_marker_the_photo_plays_with_mindar(client, arv_portrait):
    Job.objects.filter(portrait=arv_portrait).update(compact_version=0)  # made before arv, not backfilled
    response, _html = page(client, arv_portrait)
    config = config_of(response)
    assert config["engines"] == ["mindar"] and "compactMarkerUrl" not in config
    assert client.get(compact_url(arv_portrait)).status_code == 404


@pytest.mark.django_db
def test_the_compact_marker_is_sent_compressed_and_cacheable_forever(client, arv_portrait):
    response = client.get(compact_url(arv_portrait), HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200 and response["Content-Encoding"] == "gzip"
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert gzip.decompress(response.content) == COMPACT and len(response.content) < len(COMPACT) / 10


@pytest.mark.django_db
def test_the_compact_marker_route_serves_only_a_playable_photo_s_current_marker(
    client, arv_portrait, tenants, make_portrait
):
    assert client.head(compact_url(arv_portrait)).status_code == 200
    assert client.get(compact_url(arv_portrait, "mindar-old")).status_code == 404
    assert client.post(compact_url(arv_portrait)).status_code == 405
    other = make_portrait(tenants.project_b, title="Other company")  # no marker at all
    assert client.get(compact_url(other)).status_code == 404
    bad = reverse("viewer:page", args=[arv_portrait.unique_id]) + "marker/..%2fphoto.arvm"
    assert client.get(bad).status_code == 404
    Portrait.objects.filter(pk=arv_portrait.pk).update(expires_at=timezone.now() - timedelta(days=1))
    assert client.get(compact_url(arv_portrait)).status_code == 404


@pytest.mark.django_db
def test_the_album_plays_with_arv_when_the_company_chose_it_and_its_compact_marker_exists(client, arv_portrait):
    project = arv_portrait.project
    storage = storage_for_company(arv_portrait.company)
    mind = storage.save(f"{arv_portrait.company.path_prefix}/{project.slug}/album-1.mind", ContentFile(b"\x82" * 64))
    storage.save(compact_name(mind), ContentFile(COMPACT))
    marker = ProjectMarker.objects.create(project=project, output=mind, targets=[str(arv_portrait.unique_id)])
    album = reverse("viewer:album", args=[project.public_id])
    compact = reverse("viewer:album_compact_marker", args=[project.public_id, "album-1"])
    # The .arvm is not there yet (compact_version 0): MindAR, and its route says nothing.
    config = config_of(client.get(album))
    assert config["engines"] == ["mindar"] and client.get(compact).status_code == 404
    ProjectMarker.objects.filter(pk=marker.pk).update(compact_version=1)
    response = client.get(album)
    config = config_of(response)
    assert config["engines"] == ["arv", "mindar"] and config["compactMarkerUrl"] == compact
    assert re.findall(r'<link rel="preload" as="fetch" href="([^"]+)"', response.content.decode()) == [compact]
    served = client.get(compact, HTTP_ACCEPT_ENCODING="gzip")
    assert served.status_code == 200 and gzip.decompress(served.content) == COMPACT
    Company.objects.filter(pk=arv_portrait.company_id).update(viewer_engine="mindar")
    assert config_of(client.get(album))["engines"] == ["mindar"]
