import pytest

from arv.testing.analytics_data import build


@pytest.fixture
def data(tenants, make_portrait, settings):
    """The hand-made analytics data set (``analytics_data``: its known answers are worked out there)."""
    settings.TIME_ZONE = "UTC"
    return build(tenants, make_portrait)
