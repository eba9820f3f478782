import json
import re
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from arv.testing.factories import PHONE
from content.models import Portrait


def config_of(response) -> dict:
    match = re.search(r'<script id="ar-config" type="application/json">(.*?)</script>', response.content.decode(), re.S)
    return json.loads(match.group(1))


@pytest.mark.django_db
def test_the_page_loads_the_runtime_marker_and_video_in_three_queries(
    client, ready_portrait, django_assert_num_queries
):
    url = reverse("viewer:page", args=[ready_portrait.unique_id])
    # portrait with company, project, connection and marker; its playable videos; views += 1
    with django_assert_num_queries(3):
        response = client.get(url, HTTP_USER_AGENT=PHONE)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<body data-ar-state="loading"' in html
    assert "/static/vendor/mind-ar/mindar-image-three.prod.js" in html
    assert "/static/vendor/three/build/three.module.min.js" in html
    config = config_of(response)
    video = ready_portrait.videos.get()
    # The marker through the viewer's own route (stable, compressed, cached forever, any storage).
    assert config["markerUrl"] == f"/v/{ready_portrait.unique_id}/marker/mindar.mind"
    assert config["engines"] == ["mindar"]
    # Downloaded from the <head>, in parallel with the runtime, which is preloaded too.
    assert f'<link rel="preload" as="fetch" href="{config["markerUrl"]}" crossorigin="anonymous">' in html
    assert '<link rel="modulepreload" href="/static/vendor/mind-ar/mindar-image-three.prod.js">' in html
    assert re.search(r'<link rel="modulepreload" href="/static/vendor/mind-ar/controller-\w+\.js">', html)
    assert '<script type="module" src="/static/viewer/viewer.js"></script>' in html
    (target,) = config["targets"]
    assert target["videoUrl"] == video.file.url
    assert target["targetWidth"] == 800 and target["targetHeight"] == 600
    assert target["beaconUrl"] == f"/v/{ready_portrait.unique_id}/beacon"
    assert "https://" not in html.replace(ready_portrait.public_url, "")  # nothing from a CDN
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_views_count_grows_once_per_visitor_and_not_for_bots(client, ready_portrait):
    url = reverse("viewer:page", args=[ready_portrait.unique_id])
    client.get(url, HTTP_USER_AGENT=PHONE, REMOTE_ADDR="198.51.100.1")
    client.get(url, HTTP_USER_AGENT=PHONE, REMOTE_ADDR="198.51.100.2")
    client.get(url, HTTP_USER_AGENT="Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
    client.get(url, HTTP_USER_AGENT="TelegramBot (like TwitterBot)")
    client.get(url)  # no user agent at all
    client.head(url, HTTP_USER_AGENT=PHONE, REMOTE_ADDR="198.51.100.3")
    ready_portrait.refresh_from_db()
    assert ready_portrait.views_count == 2
    assert ready_portrait.last_viewed_at is not None


@pytest.mark.django_db
def test_a_reload_storm_from_one_address_counts_one_view_per_minute(client, ready_portrait, tenants, make_portrait):
    url = reverse("viewer:page", args=[ready_portrait.unique_id])
    for _ in range(30):
        assert client.get(url, HTTP_USER_AGENT=PHONE, REMOTE_ADDR="203.0.113.5").status_code == 200
    # Changing the address within one IPv6 /64 is still the same client.
    for i in range(1, 11):
        client.get(url, HTTP_USER_AGENT=PHONE, REMOTE_ADDR=f"2001:db8:5:6::{i:x}")
    ready_portrait.refresh_from_db()
    assert ready_portrait.views_count == 2
    # The limit is per photo: the same visitor's first look at another photo counts.
    other = make_portrait(tenants.project_a, with_video=True)
    from markers.models import Job

    marker = Job.objects.get(portrait=ready_portrait, kind="mindar").output.name
    Job.objects.create(portrait=other, kind="mindar", status="ready", output=marker)
    client.get(reverse("viewer:page", args=[other.unique_id]), HTTP_USER_AGENT=PHONE, REMOTE_ADDR="203.0.113.5")
    other.refresh_from_db()
    assert other.views_count == 1


@pytest.mark.django_db
def test_after_the_window_the_same_visitor_counts_again(client, ready_portrait, settings):
    import time

    settings.VIEW_COUNT_WINDOW_SECONDS = 1
    url = reverse("viewer:page", args=[ready_portrait.unique_id])
    client.get(url, HTTP_USER_AGENT=PHONE, REMOTE_ADDR="203.0.113.6")
    client.get(url, HTTP_USER_AGENT=PHONE, REMOTE_ADDR="203.0.113.6")
    ready_portrait.refresh_from_db()
    assert ready_portrait.views_count == 1
    deadline = time.monotonic() + 15
    while ready_portrait.views_count < 2 and time.monotonic() < deadline:
        time.sleep(0.3)
        client.get(url, HTTP_USER_AGENT=PHONE, REMOTE_ADDR="203.0.113.6")
        ready_portrait.refresh_from_db()
    assert ready_portrait.views_count == 2
    settings.VIEW_COUNT_WINDOW_SECONDS = 0  # and 0 counts every load
    client.get(url, HTTP_USER_AGENT=PHONE, REMOTE_ADDR="203.0.113.6")
    client.get(url, HTTP_USER_AGENT=PHONE, REMOTE_ADDR="203.0.113.6")
    ready_portrait.refresh_from_db()
    assert ready_portrait.views_count == 4


@pytest.mark.django_db
def test_page_in_russian(client, ready_portrait):
    html = client.get(
        reverse("viewer:page", args=[ready_portrait.unique_id]), HTTP_ACCEPT_LANGUAGE="ru", HTTP_USER_AGENT=PHONE
    ).content.decode()
    assert '<html lang="ru">' in html and "Наведите камеру на фото" in html and "Камера заблокирована" in html


@pytest.mark.django_db
def test_unknown_uuid_is_404(client):
    assert client.get("/v/00000000-0000-4000-8000-000000000000/").status_code == 404
    assert client.get("/v/not-a-uuid/").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "status", "text"),
    [
        (lambda p: setattr(p, "expires_at", timezone.now() - timedelta(days=1)), 410, "This living photo has ended"),
        (lambda p: setattr(p, "is_active", False), 200, "This living photo is paused"),
        (lambda p: setattr(p, "published_at", timezone.now() + timedelta(days=1)), 200, "Coming soon"),
    ],
)
def test_unavailable_portraits_get_a_friendly_still_page(client, ready_portrait, change, status, text):
    change(ready_portrait)
    ready_portrait.save()
    response = client.get(reverse("viewer:page", args=[ready_portrait.unique_id]), HTTP_USER_AGENT=PHONE)
    assert response.status_code == status
    html = response.content.decode()
    assert text in html and "alpha@example.com" in html
    assert ready_portrait.preview.url in html  # the still photo
    assert "mindar" not in html
    ready_portrait.refresh_from_db()
    assert ready_portrait.views_count == 0


@pytest.mark.django_db
def test_expired_project_or_subscription_is_410(client, ready_portrait):
    url = reverse("viewer:page", args=[ready_portrait.unique_id])
    project = ready_portrait.project
    project.expires_at = timezone.now() - timedelta(hours=1)
    project.save()
    assert client.get(url, HTTP_USER_AGENT=PHONE).status_code == 410
    project.expires_at = None
    project.save()
    company = ready_portrait.company
    company.subscription_expires_at = timezone.now() - timedelta(hours=1)
    company.save()
    assert client.get(url, HTTP_USER_AGENT=PHONE).status_code == 410


@pytest.mark.django_db
def test_an_inactive_company_serves_nothing_of_its_content(client, ready_portrait):
    ready_portrait.company.set_active(False)
    response = client.get(reverse("viewer:page", args=[ready_portrait.unique_id]), HTTP_USER_AGENT=PHONE)
    html = response.content.decode()
    assert response.status_code == 200 and "paused" in html
    assert ready_portrait.preview.url not in html


@pytest.mark.django_db
def test_a_portrait_still_processing_says_so(client, tenants, make_portrait):
    portrait = make_portrait(tenants.project_a, with_video=True)
    response = client.get(reverse("viewer:page", args=[portrait.unique_id]), HTTP_USER_AGENT=PHONE)
    assert response.status_code == 200 and "Almost ready" in response.content.decode()


@pytest.mark.django_db
def test_the_chosen_video_plays(client, ready_portrait):
    from content.models import Video

    first = ready_portrait.videos.get()
    second = Video.objects.create(
        portrait=ready_portrait, file=first.file.name, title="Manual", status="ready", rotation_order=5, is_active=True
    )
    config = config_of(client.get(reverse("viewer:page", args=[ready_portrait.unique_id]), HTTP_USER_AGENT=PHONE))
    assert config["targets"][0]["videoUrl"] == second.file.url


def _visitor(i: int) -> dict:
    """Headers of visitor *i* as the one trusted proxy forwards them (see ``behind_a_proxy``)."""
    return {"User-Agent": PHONE, "X-Forwarded-For": f"198.51.{100 + i // 250}.{i % 250 + 1}"}


@pytest.fixture
def behind_a_proxy(settings):
    settings.BEHIND_PROXY = True
    settings.NUM_PROXIES = 1
    return settings


@pytest.mark.django_db(transaction=True)
def test_200_concurrent_page_loads_count_exactly_200(live_server, ready_portrait, behind_a_proxy):
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    url = live_server.url + reverse("viewer:page", args=[ready_portrait.unique_id])

    def load(i):
        request = urllib.request.Request(url, headers=_visitor(i))
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(load, range(200)))
    assert statuses == [200] * 200
    assert Portrait.objects.get(pk=ready_portrait.pk).views_count == 200


@pytest.mark.django_db
def test_the_micro_cache_serves_repeat_loads_with_one_query_and_still_counts(
    client, ready_portrait, settings, django_assert_num_queries, monkeypatch
):
    from viewer import pagecache

    settings.VIEWER_PAGE_CACHE_SECONDS = 10
    pagecache.clear()
    url = reverse("viewer:page", args=[ready_portrait.unique_id])
    first = client.get(url, HTTP_USER_AGENT=PHONE, REMOTE_ADDR="198.51.100.1")
    with django_assert_num_queries(1):  # the views counter only
        second = client.get(url, HTTP_USER_AGENT=PHONE, REMOTE_ADDR="198.51.100.2")
    assert second.content == first.content and second["Cache-Control"] == first["Cache-Control"]
    with django_assert_num_queries(0):
        client.get(url, HTTP_USER_AGENT="Googlebot/2.1")
    with django_assert_num_queries(0):  # a reload: not another view
        client.get(url, HTTP_USER_AGENT=PHONE, REMOTE_ADDR="198.51.100.2")
    ready_portrait.refresh_from_db()
    assert ready_portrait.views_count == 2
    # Another language is another page.
    assert "Наведите" in client.get(url, HTTP_USER_AGENT=PHONE, HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    # Changes show up once the entry ages out.
    ready_portrait.is_active = False
    ready_portrait.save()
    assert (
        client.get(url, HTTP_USER_AGENT=PHONE).status_code == 200
        and b"paused" not in client.get(url, HTTP_USER_AGENT=PHONE).content
    )
    import time

    real = time.monotonic
    monkeypatch.setattr(time, "monotonic", lambda: real() + 11)
    assert b"paused" in client.get(url, HTTP_USER_AGENT=PHONE).content
    pagecache.clear()


@pytest.mark.django_db(transaction=True)
def test_batched_counting_counts_every_load_exactly_once(live_server, ready_portrait, behind_a_proxy):
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    from viewer import counter

    behind_a_proxy.VIEWS_FLUSH_SECONDS = 1
    url = live_server.url + reverse("viewer:page", args=[ready_portrait.unique_id])

    def load(i):
        with urllib.request.urlopen(urllib.request.Request(url, headers=_visitor(i)), timeout=60) as r:
            return r.status

    with ThreadPoolExecutor(max_workers=20) as pool:
        assert list(pool.map(load, range(200))) == [200] * 200
    # The background thread writes the batch within a couple of intervals, without any help.
    import time

    deadline = time.monotonic() + 10
    while Portrait.objects.get(pk=ready_portrait.pk).views_count < 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert Portrait.objects.get(pk=ready_portrait.pk).views_count == 200
    counter.shutdown()  # what the exit hook does; it also closes the thread's connection
    assert Portrait.objects.get(pk=ready_portrait.pk).views_count == 200  # nothing counted twice


# --- The marker route ---------------------------------------------------------------------------------


def _marker_url(portrait, name="mindar"):
    return reverse("viewer:marker", kwargs={"uuid": portrait.unique_id, "name": name})


@pytest.mark.django_db
@pytest.mark.parametrize(("accept", "encoding"), [("gzip, deflate, br", "br"), ("gzip", "gzip"), ("", None)])
def test_the_marker_is_sent_compressed_and_cacheable_forever(client, ready_portrait, accept, encoding):
    import gzip

    import brotli

    from companies.storage import storage_for_company

    raw = b"\x82\xa1v\x02" + bytes(range(256)) * 2000  # compressible, like a real .mind
    storage = storage_for_company(ready_portrait.company)
    name = ready_portrait.jobs.get(kind="mindar").output.name
    storage.delete(name)
    storage.save(name, ContentFile(raw))
    response = client.get(_marker_url(ready_portrait), HTTP_ACCEPT_ENCODING=accept)
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert response.get("Content-Encoding") == encoding
    assert "Accept-Encoding" in response["Vary"]
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert int(response["Content-Length"]) == len(body)
    decoded = {"br": brotli.decompress, "gzip": gzip.decompress, None: lambda b: b}[encoding](body)
    assert decoded == raw
    if encoding:
        assert len(body) < len(raw) / 10
    # A Range request (resuming a download) gets the plain bytes.
    partial = client.get(_marker_url(ready_portrait), HTTP_RANGE="bytes=0-9", HTTP_ACCEPT_ENCODING=accept)
    assert partial.status_code == 206 and b"".join(partial.streaming_content) == raw[:10]


@pytest.mark.django_db
def test_the_marker_route_serves_only_a_playable_photo_s_current_marker(client, ready_portrait, tenants, make_portrait):
    assert client.head(_marker_url(ready_portrait)).status_code == 200
    assert client.get(_marker_url(ready_portrait, "mindar-old")).status_code == 404  # not its current name
    assert client.post(_marker_url(ready_portrait)).status_code == 405
    other = make_portrait(tenants.project_b, title="Other company")  # no marker
    assert client.get(_marker_url(other)).status_code == 404
    ready_portrait.expires_at = timezone.now() - timedelta(days=1)
    ready_portrait.save()
    assert client.get(_marker_url(ready_portrait)).status_code == 404
    bad = reverse("viewer:page", args=[ready_portrait.unique_id]) + "marker/..%2fphoto.mind"
    assert client.get(bad).status_code == 404


def test_an_incompressible_marker_file_is_sent_whole_and_plain(rf, tmp_path):
    import os

    from django.core.files.storage import FileSystemStorage

    from lib.media import serve_file

    storage = FileSystemStorage(location=tmp_path)
    data = os.urandom(50_000)  # an .iset is mostly a JPEG: brotli cannot shrink it
    storage.save("marker.iset", ContentFile(data))
    for _ in range(2):  # tried once, then remembered as not worth compressing
        response = serve_file(rf.get("/", HTTP_ACCEPT_ENCODING="br, gzip"), storage, "marker.iset")
        assert "Content-Encoding" not in response
        assert b"".join(response.streaming_content) == data
        assert response["Content-Length"] == str(len(data))
@pytest.mark.django_db(transaction=True)
def test_batched_counting_counts_a_visitor_once_across_intervals_and_processes(ready_portrait, settings):
    from django.core.cache import cache

    from viewer import counter

    settings.VIEWS_FLUSH_SECONDS = 1
    now = timezone.now()
    key = f"view:{ready_portrait.unique_id}:"
    for _ in range(50):  # a reload storm within one interval: one entry per visitor
        for visitor in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
            counter.count(ready_portrait.pk, now, visitor=key + visitor)
    counter.shutdown()
    assert Portrait.objects.get(pk=ready_portrait.pk).views_count == 3
    # The next interval (or another process: the same shared cache) does not count them again.
    counter.count(ready_portrait.pk, now, visitor=key + "203.0.113.1")
    counter.count(ready_portrait.pk, now, visitor=key + "203.0.113.9")
    counter.shutdown()
    assert Portrait.objects.get(pk=ready_portrait.pk).views_count == 4
    cache.delete_many([f"once:{key}203.0.113.{i}" for i in (1, 2, 3, 9)])
