"""Fixtures of the viewer's browser tests (the analytics' ``data`` set is in the root conftest)."""

import pytest

from arv.testing import media
from arv.testing.factories import upload_through_portal
from viewer.tests.browser import PHOTO, engine_params, require


# --- The browser tests (viewer/tests/browser.py) --------------------------------------------------
@pytest.fixture(params=engine_params())
def engine(request):
    """The browser engine a test runs in: each test once per engine (a test narrows the list with
    ``@pytest.mark.parametrize("engine", engine_params(...), indirect=True)``); an engine that
    cannot run here is skipped with the reason."""
    require(request.param)
    return request.param


@pytest.fixture
def ready_upload(client, tenants, tmp_path):
    """coffee_1000.jpg and a short clip, uploaded through the portal and processed."""
    client.force_login(tenants.owner)
    video = media.mp4_bytes(tmp_path, seconds=3, size=(640, 360))
    portrait = upload_through_portal(client, tenants.project_a, title="Coffee", photo=PHOTO.read_bytes(), video=video)
    assert portrait.status == "ready"
    return portrait
