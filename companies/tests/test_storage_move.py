"""Moving a company to another storage connection: copy, verify, switch, clean up, resume."""

import os
import signal
import subprocess
import sys
import time

import pytest
from django.core.files.base import ContentFile
from django.db import connection as db_connection
from django.urls import reverse

from arv.testing.processes import ROOT, database_url
from arv.testing.storage_data import digest_of, populate
from companies import storage_moves
from companies.models import Company, StorageConnection, StorageMove, StorageMoveFile
from companies.storage import build_storage, storage_for_company
from companies.tests.conftest import make_s3_connection, make_yandex_connection
from lib.storage import StorageUnavailable

pytestmark = pytest.mark.services


def local_connection(name="Second disk", base_path="second-disk"):
    return StorageConnection.objects.create(name=name, provider="local", base_path=base_path)


def assert_moved(company, files: dict[str, str], source: StorageConnection, target: StorageConnection, used: int):
    company.refresh_from_db()
    assert company.storage_connection_id == target.pk
    new, old = build_storage(target), build_storage(source)
    for name, sha in files.items():
        assert digest_of(new, name) == sha, name
        assert not old.exists(name), name
    # Rows resolve their files on the new storage, freshly loaded or not.
    assert storage_for_company(Company.objects.get(pk=company.pk)).exists(next(iter(files)))
    move = StorageMove.objects.get(company=company)
    assert move.status == "done" and move.files_copied == len(files) == move.files.count()
    assert move.counts() == {"pending": 0, "copied": 0, "deleted": len(files), "missing": 0}
    assert company.storage_used_bytes == used
    assert storage_moves.recompute_storage_usage(company=company, dry_run=True).drift == 0


@pytest.mark.django_db
@pytest.mark.parametrize(("source_kind", "target_kind"), [("local", "s3"), ("s3", "yandex"), ("yandex", "local")])
def test_move_between_each_kind_of_backend(tenants, make_portrait, request, source_kind, target_kind):
    def connection_of(kind, name):
        if kind == "local":
            return local_connection(name=name, base_path=name)
        if kind == "s3":
            return make_s3_connection(request.getfixturevalue("s3_server"), name=name)
        request.getfixturevalue("yandex_server")
        return make_yandex_connection(name=name)

    source, target = connection_of(source_kind, "from"), connection_of(target_kind, "to")
    Company.objects.filter(pk=tenants.a.pk).update(storage_connection=source)
    tenants.a.refresh_from_db()
    files = populate(tenants.a, tenants.project_a, make_portrait)
    assert len(files) == 2 * 9 + 1  # photo, preview, video, rendition, poster, .mind, 3 NFT files; album
    used = Company.objects.get(pk=tenants.a.pk).storage_used_bytes

    move = storage_moves.start_storage_move(company=tenants.a, target=target, requested_by=None)
    storage_moves.run_storage_move(move=move)
    assert_moved(tenants.a, files, source, target, used)
    # The other tenant was not touched.
    assert Company.objects.get(pk=tenants.b.pk).storage_connection_id is None


def run_command(args, env, **kwargs):
    return subprocess.Popen(
        [sys.executable, "manage.py", "move_company_storage", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        **kwargs,
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_move_killed_midway_resumes_and_loses_nothing(tenants, make_portrait, settings, s3_server):
    files = populate(tenants.a, tenants.project_a, make_portrait, portraits=8)
    used = Company.objects.get(pk=tenants.a.pk).storage_used_bytes
    source = StorageConnection.get_default()
    target = make_s3_connection(s3_server, name="Object storage")
    env = {
        **os.environ,
        "ARV_IGNORE_DOTENV": "1",
        "DJANGO_SETTINGS_MODULE": "arv.settings",
        "LOG_FORMAT": "text",
        "DATABASE_URL": database_url(db_connection.settings_dict),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }

    process = run_command(["alpha", "Object storage", "-v", "2"], env)
    deadline = time.monotonic() + 60
    try:
        while StorageMoveFile.objects.filter(state="copied").count() < 10:
            assert process.poll() is None, process.stdout.read().decode()
            assert time.monotonic() < deadline, "the move never got going"
            time.sleep(0.01)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    process.stdout.close()

    move = StorageMove.objects.get(company=tenants.a)
    copied = move.files_copied
    assert move.status == "copying" and 10 <= copied < len(files)
    assert move.runner  # the killed process still "holds" it
    assert Company.objects.get(pk=tenants.a.pk).storage_connection_id is None  # not switched
    for name, sha in files.items():  # every file still where the company reads it
        assert digest_of(build_storage(source), name) == sha

    process = run_command(["alpha", "Object storage"], env)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output.decode()
    assert f"Done: {len(files)} file(s) copied and verified" in output.decode()
    assert_moved(tenants.a, files, source, target, used)
    assert not any((settings.MEDIA_ROOT / "alpha").rglob("*.*"))  # the old copies are gone


@pytest.mark.django_db
def test_interrupted_while_deleting_old_copies_resumes(tenants, make_portrait, monkeypatch):
    files = populate(tenants.a, tenants.project_a, make_portrait)
    source, target = StorageConnection.get_default(), local_connection()
    move = storage_moves.start_storage_move(company=tenants.a, target=target, requested_by=None)
    storage = build_storage(source)
    calls = {"n": 0}
    real_delete = type(storage).delete

    def crash_on_fifth(self, name):
        if self.location == storage.location:
            calls["n"] += 1
            if calls["n"] == 5:
                raise StorageUnavailable("disk went away")
        return real_delete(self, name)

    monkeypatch.setattr(type(storage), "delete", crash_on_fifth)
    with pytest.raises(StorageUnavailable):
        storage_moves.run_storage_move(move=move)
    move.refresh_from_db()
    assert move.status == "cleaning" and move.error == "disk went away" and not move.runner
    assert Company.objects.get(pk=tenants.a.pk).storage_connection == target  # switched already
    monkeypatch.undo()
    storage_moves.run_storage_move(move=move)
    assert_moved(tenants.a, files, source, target, Company.objects.get(pk=tenants.a.pk).storage_used_bytes)


@pytest.mark.django_db
def test_files_written_to_the_old_storage_after_the_switch_are_carried_over(tenants, make_portrait, monkeypatch):
    """A job that loaded the company before the switch writes its output to the old storage."""
    from markers.models import Job

    files = populate(tenants.a, tenants.project_a, make_portrait)
    source, target = StorageConnection.get_default(), local_connection()
    move = storage_moves.start_storage_move(company=tenants.a, target=target, requested_by=None)
    real_switch = storage_moves._MoveStep.switch_company

    def switch_then_late_write(self):
        real_switch(self)
        job = Job.objects.filter(portrait__company=tenants.a, kind="mindar").order_by("pk").first()
        late = build_storage(source).save(f"{job.portrait.storage_dir}/late.mind", ContentFile(b"late marker"))
        Job.objects.filter(pk=job.pk).update(output=late)
        files.pop(job.output.name)
        files[late] = digest_of(build_storage(source), late)

    monkeypatch.setattr(storage_moves._MoveStep, "switch_company", switch_then_late_write)
    old_marker = Job.objects.filter(portrait__company=tenants.a, kind="mindar").order_by("pk").first().output.name
    storage_moves.run_storage_move(move=move)
    new = build_storage(target)
    for name, sha in files.items():
        assert digest_of(new, name) == sha
    assert not new.exists(old_marker)  # the replaced output's copy did not linger


@pytest.mark.django_db
def test_a_partial_copy_left_on_the_target_is_replaced(tenants, make_portrait):
    files = populate(tenants.a, tenants.project_a, make_portrait, portraits=1)
    target = local_connection()
    name = next(iter(files))
    build_storage(target).save(name, ContentFile(b"half a fi"))  # a copy cut short by a kill
    storage_moves.run_storage_move(
        move=storage_moves.start_storage_move(company=tenants.a, target=target, requested_by=None)
    )
    assert digest_of(build_storage(target), name) == files[name]


@pytest.mark.django_db
def test_two_connections_to_the_same_place_are_refused(tenants, make_portrait):
    files = populate(tenants.a, tenants.project_a, make_portrait, portraits=1)
    alias = local_connection(name="Same disk", base_path="")  # MEDIA_ROOT, like the default
    move = storage_moves.start_storage_move(company=tenants.a, target=alias, requested_by=None)
    with pytest.raises(storage_moves.StorageMoveError, match="same place"):
        storage_moves.run_storage_move(move=move)
    assert Company.objects.get(pk=tenants.a.pk).storage_connection_id is None
    for name, sha in files.items():
        assert digest_of(build_storage(alias), name) == sha


@pytest.mark.django_db
def test_missing_files_stop_the_switch_unless_allowed(tenants, make_portrait):
    files = populate(tenants.a, tenants.project_a, make_portrait, portraits=1)
    lost = next(iter(files))
    storage_for_company(tenants.a).delete(lost)
    move = storage_moves.start_storage_move(company=tenants.a, target=local_connection(), requested_by=None)
    with pytest.raises(storage_moves.StorageMoveError, match="in neither storage"):
        storage_moves.run_storage_move(move=move)
    assert Company.objects.get(pk=tenants.a.pk).storage_connection_id is None
    storage_moves.run_storage_move(move=move, allow_missing=True)
    move.refresh_from_db()
    assert move.status == "done" and move.counts()["missing"] == 1 and move.files_copied == len(files) - 1


@pytest.mark.django_db
def test_a_live_runner_blocks_a_second_run_and_a_dead_one_does_not(tenants, make_portrait):
    import socket

    populate(tenants.a, tenants.project_a, make_portrait, portraits=1)
    move = storage_moves.start_storage_move(company=tenants.a, target=local_connection(), requested_by=None)
    alive = f"{socket.gethostname()}:{os.getppid()}:abcd"
    StorageMove.objects.filter(pk=move.pk).update(runner=alive, heartbeat_at=time_now())
    with pytest.raises(storage_moves.StorageMoveBusy):
        storage_moves.run_storage_move(move=move)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    StorageMove.objects.filter(pk=move.pk).update(runner=f"{socket.gethostname()}:{dead.pid}:abcd")
    assert storage_moves.run_storage_move(move=move).status == "done"


def time_now():
    from django.utils import timezone

    return timezone.now()


@pytest.mark.django_db
def test_starting_a_move_checks_the_target(tenants):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="already uses"):
        storage_moves.start_storage_move(company=tenants.a, target=StorageConnection.get_default(), requested_by=None)
    first, second = local_connection(), local_connection(name="Third", base_path="third")
    move = storage_moves.start_storage_move(company=tenants.a, target=first, requested_by=None)
    assert (
        storage_moves.start_storage_move(company=tenants.a, target=first, requested_by=None) == move
    )  # resumes, no duplicate
    with pytest.raises(ValidationError, match="already moving"):
        storage_moves.start_storage_move(company=tenants.a, target=second, requested_by=None)


@pytest.mark.django_db
def test_a_storage_failure_is_recorded_without_secrets_and_resumes(tenants, make_portrait, own_s3_server):
    from companies.tests.conftest import S3_SECRET_KEY

    files = populate(tenants.a, tenants.project_a, make_portrait, portraits=1)
    used = Company.objects.get(pk=tenants.a.pk).storage_used_bytes
    target = make_s3_connection(own_s3_server, name="Flaky S3")
    move = storage_moves.start_storage_move(company=tenants.a, target=target, requested_by=None)
    with own_s3_server.down(), pytest.raises(StorageUnavailable):
        storage_moves.run_storage_move(move=move)
    move.refresh_from_db()
    assert move.error and S3_SECRET_KEY not in move.error and move.status == "copying"
    storage_moves.run_storage_move(move=move)
    assert_moved(tenants.a, files, StorageConnection.get_default(), target, used)


@pytest.mark.django_db
def test_move_command_errors_are_plain(tenants):
    from io import StringIO

    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="No company"):
        call_command("move_company_storage", "nope", "Local disk", stdout=StringIO())
    with pytest.raises(CommandError, match="No storage connection named “Nope” \\(there are: Local disk\\)"):
        call_command("move_company_storage", "alpha", "Nope", stdout=StringIO())
    with pytest.raises(CommandError, match="already uses"):
        call_command("move_company_storage", "alpha", "Local disk", stdout=StringIO())


@pytest.mark.django_db
def test_admin_action_asks_for_the_target_then_moves_in_the_background(
    admin_client, tenants, make_portrait, monkeypatch, django_capture_on_commit_callbacks
):
    from django_q.conf import Conf

    files = populate(tenants.a, tenants.project_a, make_portrait, portraits=1)
    used = Company.objects.get(pk=tenants.a.pk).storage_used_bytes
    target = local_connection()
    url = reverse("admin:companies_company_changelist")
    page = admin_client.post(url, {"action": "move_storage", "_selected_action": [tenants.a.pk]})
    html = page.content.decode()
    assert page.status_code == 200 and "Second disk" in html and "Alpha Studio" in html
    monkeypatch.setattr(Conf, "SYNC", True)  # the queued task runs at once, in this process
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            url, {"action": "move_storage", "_selected_action": [tenants.a.pk], "apply": "1", "target": target.pk}
        )
    assert response.status_code == 302
    assert_moved(tenants.a, files, StorageConnection.get_default(), target, used)
    listing = admin_client.get(reverse("admin:companies_storagemove_changelist")).content.decode()
    assert "Alpha Studio" in listing and "Done" in listing


@pytest.mark.django_db
def test_admin_cannot_repoint_a_company_with_files_without_moving_them(admin_client, tenants, make_portrait):
    make_portrait(tenants.project_a)
    html = admin_client.get(reverse("admin:companies_company_change", args=[tenants.a.pk])).content.decode()
    assert 'name="storage_connection"' not in html and "Move to another storage" in html
    html = admin_client.get(reverse("admin:companies_company_change", args=[tenants.b.pk])).content.decode()
    assert 'name="storage_connection"' in html
