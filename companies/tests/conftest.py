"""Storage servers for the storage tests: started once per session on 127.0.0.1, stopped by PID.

Tests that stop a server ("storage down") ask for their own, function-scoped instance so the shared
ones stay up for everybody else.
"""

import uuid

import pytest

from arv.testing.servers import moto_s3_server, yandex_disk_stand_in

YANDEX_TOKEN = "y0_AgAAAABtestTokenThatMustNeverLeak-" + "7" * 20
S3_ACCESS_KEY = "AKIATESTACCESSKEY0001"
S3_SECRET_KEY = "s3cret/ThatMustNeverLeak+" + "9" * 16
SECRETS = (YANDEX_TOKEN, S3_ACCESS_KEY, S3_SECRET_KEY)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    with moto_s3_server(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield server


@pytest.fixture(scope="session")
def yandex_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("yandex")
    with yandex_disk_stand_in(root=base / "dav", token=YANDEX_TOKEN, log_dir=base) as server:
        yield server


@pytest.fixture
def own_s3_server(tmp_path):
    with moto_s3_server(tmp_path / "moto.log") as server:
        yield server


@pytest.fixture
def own_yandex_server(tmp_path):
    with yandex_disk_stand_in(root=tmp_path / "dav", token=YANDEX_TOKEN, log_dir=tmp_path) as server:
        yield server


def make_s3_connection(server, *, name="S3", base_path="arv", **options):
    from companies.models import StorageConnection

    bucket = f"arv-{uuid.uuid4().hex[:12]}"
    server.create_bucket(bucket)
    connection = StorageConnection(
        name=name,
        provider=StorageConnection.Provider.S3,
        bucket=bucket,
        base_path=base_path,
        options={"endpoint_url": server.endpoint_url, "region": "us-east-1", "addressing_style": "path", **options},
    )
    connection.set_credentials({"access_key_id": S3_ACCESS_KEY, "secret_access_key": S3_SECRET_KEY})
    connection.save()
    return connection


def make_yandex_connection(*, name="Yandex Disk", base_path="disk:/ARV", token=YANDEX_TOKEN):
    from companies.models import StorageConnection

    connection = StorageConnection(
        name=name,
        provider=StorageConnection.Provider.YANDEX_DISK,
        # A folder per test: the stand-in's disk is shared by the whole session.
        base_path=f"{base_path}/{uuid.uuid4().hex[:8]}",
    )
    connection.set_credentials({"oauth_token": token})
    connection.save()
    return connection


@pytest.fixture
def s3_connection(db, s3_server):
    return make_s3_connection(s3_server)


@pytest.fixture
def yandex_connection(db, yandex_server):
    return make_yandex_connection()


@pytest.fixture(params=["local", "s3", "yandex_disk"])
def any_connection(request, db):
    """A working connection of each provider in turn."""
    from companies.models import StorageConnection

    if request.param == "local":
        return StorageConnection.objects.create(name="Disk", provider="local", base_path="other-disk")
    if request.param == "s3":
        return make_s3_connection(request.getfixturevalue("s3_server"))
    request.getfixturevalue("yandex_server")
    return make_yandex_connection()
