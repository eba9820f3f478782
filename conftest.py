"""Fixtures shared by every app's tests: isolated media, and two tenants to test isolation with."""

import itertools
import random
import uuid

import pytest
from django.contrib.auth import get_user_model

from arv.testing.factories import jpeg_bytes, warm_process_caches
from companies.storage import forget_cached_storages


@pytest.fixture(autouse=True)
def _isolated_media(settings, tmp_path):
    from django.core.cache import cache

    from companies.hosts import forget_verified_domains
    from companies.storage import forget_storage_origins, set_storage_origins

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.BATCH_STAGING_DIR = tmp_path / "staging"
    # The shared cache (a folder, or Redis) outlives a test: who was counted as a view, rate
    # limits, cached pages. Each test starts with it empty, as ids repeat from test to test.
    cache.clear()
    forget_cached_storages()
    # The verified viewer domains live in the (file or Redis) cache shared with other runs.
    forget_verified_domains()
    # As on a running server without remote storages, the CSP's origins are already known;
    # tests of remote storages call forget_storage_origins() to have them looked up.
    set_storage_origins(())
    yield
    forget_cached_storages()
    forget_storage_origins()
    forget_verified_domains()


@pytest.fixture(autouse=True)
def _default_language():
    """Every test starts in the default language: a request in Russian (the test client's, or
    ``translation.activate``) leaves the thread's language behind, and later tests' strings with it."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """Temporary files of this test go to their own directory, to check that none is left."""
    import tempfile

    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


@pytest.fixture
def make_user(db):
    def make(username, **extra):
        extra.setdefault("email", f"{username}@example.com")
        user = get_user_model().objects.create_user(username=username, password="pw-" + username, **extra)
        user.raw_password = "pw-" + username
        return user

    return make


@pytest.fixture
def tenants(db, make_user):
    """Company A with an owner, an editor and a viewer; company B, another tenant, with its owner."""
    from types import SimpleNamespace

    from companies.models import Company, Membership, Project

    a = Company.objects.create(name="Alpha Studio", slug="alpha", contact_email="alpha@example.com")
    b = Company.objects.create(name="Beta Prints", slug="beta", contact_email="beta@example.com")
    ns = SimpleNamespace(a=a, b=b)
    ns.owner = make_user("alice")
    ns.editor = make_user("eddie")
    ns.viewer = make_user("vera")
    ns.outsider = make_user("bob")
    Membership.objects.create(user=ns.owner, company=a, role=Membership.Role.OWNER)
    Membership.objects.create(user=ns.editor, company=a, role=Membership.Role.EDITOR)
    Membership.objects.create(user=ns.viewer, company=a, role=Membership.Role.VIEWER)
    Membership.objects.create(user=ns.outsider, company=b, role=Membership.Role.OWNER)
    ns.project_a = Project.objects.create(company=a, name="Weddings", slug="weddings")
    ns.project_b = Project.objects.create(company=b, name="Schools", slug="schools")
    return ns


@pytest.fixture
def client_for(client):
    """A logged-in test client for *user* (the same client object, re-logged)."""

    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def make_portrait(db):
    """A portrait with an image file in its company's storage, written directly (no pipeline)."""
    import hashlib

    from django.core.files.base import ContentFile

    from companies.storage import storage_for_company
    from content.models import Portrait, Video

    calls = itertools.count(1)

    def make(project, *, title="Portrait", with_video=False, video_data=None, **fields):
        """with_video: True or a number of ready videos; *video_data*: their bytes (a stand-in MP4
        header by default)."""
        data = jpeg_bytes(seed=Portrait.objects.count() + 1)
        # A fixed id per call: tests that decode a QR code of the URL see the same code on every
        # run (OpenCV misreads a small share of codes; a random id made such tests fail at random).
        fields.setdefault("unique_id", uuid.UUID(int=random.Random(next(calls)).getrandbits(128), version=4))  # noqa: S311 - a test id, not a secret
        portrait = Portrait(
            company=project.company,
            project=project,
            title=title,
            image_width=800,
            image_height=600,
            image_format="JPEG",
            image_bytes=len(data),
            image_sha256=hashlib.sha256(data).hexdigest(),
            stored_bytes=len(data),
            **fields,
        )
        storage = storage_for_company(project.company)
        portrait.image = storage.save(f"{portrait.storage_dir}/photo.jpg", ContentFile(data))
        portrait.save()
        # with_video=True makes one ready video ("Clip"); a number makes that many; video_data sets
        # their bytes (and makes one when with_video is not given).
        count = int(with_video) or (1 if video_data is not None else 0)
        video_data = video_data if video_data is not None else b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100
        for index in range(count):
            name = storage.save(f"{portrait.storage_dir}/video.mp4", ContentFile(video_data))
            Video.objects.create(
                portrait=portrait,
                file=name,
                title="Clip" if index == 0 else f"Clip {index + 1}",
                size_bytes=len(video_data),
                stored_bytes=len(video_data),
                mime_type="video/mp4",
                duration=3,
                width=640,
                height=360,
                status=Video.Status.READY,
                rotation_order=index,
            )
        return portrait

    return make


@pytest.fixture
def data(tenants, make_portrait, settings):
    """The hand-made analytics data set (``analytics_data``: its known answers are worked out there).

    Shared by the analytics tests and the viewer's retention tests, which roll it up."""
    from arv.testing.analytics_data import build

    settings.TIME_ZONE = "UTC"
    return build(tenants, make_portrait)


@pytest.fixture
def ready_portrait(tenants, make_portrait):
    """A portrait the viewer can play: ready MindAR marker, preview, a ready video."""
    from django.core.files.base import ContentFile
    from django.utils import timezone

    from companies.storage import storage_for_company
    from markers.models import Job

    portrait = make_portrait(tenants.project_a, title="Anna", with_video=True)
    storage = storage_for_company(portrait.company)
    marker = storage.save(f"{portrait.storage_dir}/mindar.mind", ContentFile(b"\x82\xa1v\x02" + b"\x00" * 1000))
    Job.objects.create(portrait=portrait, kind="mindar", status="ready", output=marker, finished_at=timezone.now())
    portrait.preview = storage.save(f"{portrait.storage_dir}/preview.webp", ContentFile(b"RIFF0000WEBP"))
    portrait.status = "ready"
    portrait.save()
    warm_process_caches()
    return portrait


@pytest.fixture
def dns_server(settings):
    """A DNS server of the test's own that the domain checker asks (see arv/testing/dns.py)."""
    from arv.testing.dns import dns_stand_in

    with dns_stand_in() as server:
        settings.DOMAIN_CHECK_NAMESERVERS = ["127.0.0.1"]
        settings.DOMAIN_CHECK_DNS_PORT = server.port
        settings.DOMAIN_CHECK_TIMEOUT = 1
        yield server


@pytest.fixture
def telegram(settings):
    """A Bot API stand-in the notifications post to (see arv/testing/telegram.py)."""
    from arv.testing.telegram import FakeTelegram

    server = FakeTelegram()
    settings.TELEGRAM_API_URL = server.url
    settings.TELEGRAM_BOT_TOKEN = "123456:TEST-TOKEN"  # noqa: S105 - the stand-in's token, not a secret
    yield server
    server.close()


@pytest.fixture
def serve_domains(settings):
    """ALLOWED_HOSTS as in production: the static names plus verified company domains. (Django's
    test set-up copies ALLOWED_HOSTS into a plain list before any database exists.)"""
    from companies.hosts import AllowedHosts

    settings.ALLOWED_HOSTS = AllowedHosts(["localhost", "127.0.0.1", "[::1]", "testserver"])
    return settings.ALLOWED_HOSTS
