"""backup_database / restore_database round trips on SQLite and PostgreSQL, and their refusals."""

import glob
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from arv.management.commands import _database_backup as backup
from companies.models import Company

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)

sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="the suite runs on PostgreSQL")


def change_everything():
    """What a bad day does after the backup: a company deleted, one renamed, one added."""
    Company.objects.get(slug="gone").delete()
    Company.objects.filter(slug="keep").update(name="Changed")
    Company.objects.create(name="New", slug="new")


def assert_restored():
    assert dict(Company.objects.values_list("slug", "name")) == {"keep": "Keep", "gone": "Gone"}


# --- SQLite ------------------------------------------------------------------------------------------


@sqlite_only
def test_sqlite_round_trip(tmp_path):
    Company.objects.create(name="Keep", slug="keep")
    Company.objects.create(name="Gone", slug="gone")
    out = tmp_path / "db.backup"
    call_command("backup_database", out=str(out))
    assert out.read_bytes().startswith(backup.SQLITE_MAGIC)
    assert not list(tmp_path.glob(".*partial*"))
    change_everything()

    call_command("restore_database", str(out), interactive=False)
    assert_restored()
    # The restored database is fully usable: writes work and ids do not collide.
    Company.objects.create(name="After", slug="after")


@sqlite_only
def test_sqlite_restore_refuses_while_another_process_uses_the_database(tmp_path):
    Company.objects.create(name="Keep", slug="keep")
    out = tmp_path / "db.backup"
    call_command("backup_database", out=str(out))
    Company.objects.create(name="Later", slug="later")
    path = connection.settings_dict["NAME"]
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import sqlite3, time; db = sqlite3.connect({path!r}); db.execute('SELECT 1'); "
            "print('open', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(CommandError, match=rf"in use by other processes.*\n  PID {holder.pid}: "):
            call_command("restore_database", str(out), interactive=False)
    finally:
        holder.kill()
        holder.wait()
    assert Company.objects.filter(slug="later").exists()  # nothing was changed


@sqlite_only
def test_restore_refuses_files_that_are_not_backups_of_this_engine(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(CommandError, match="neither an SQLite database nor a pg_dump"):
        call_command("restore_database", str(junk), interactive=False)
    pg = tmp_path / "pg.dump"
    pg.write_bytes(backup.PG_CUSTOM_MAGIC + b"\x01" * 100)
    with pytest.raises(CommandError, match="is a PostgreSQL backup, but this instance's database is SQLite"):
        call_command("restore_database", str(pg), interactive=False)
    truncated = tmp_path / "truncated.sqlite3"
    call_command("backup_database", out=str(truncated))
    truncated.write_bytes(truncated.read_bytes()[:3000])
    with pytest.raises(CommandError):
        call_command("restore_database", str(truncated), interactive=False)
    with pytest.raises(CommandError, match="does not exist"):
        call_command("backup_database", out=str(tmp_path / "no-such-dir" / "x"))


def test_a_failed_command_exits_non_zero_with_the_message(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "restore_database", str(tmp_path / "missing.backup"), "--noinput"],
        cwd=ROOT,
        env={**os.environ, "ARV_IGNORE_DOTENV": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "does not exist" in result.stderr


# --- PostgreSQL ----------------------------------------------------------------------------------------


def test_credentials_never_reach_the_command_line():
    settings_dict = {
        "NAME": "arv",
        "USER": "app",
        "PASSWORD": "s3:cr\\et",
        "HOST": "db.internal",
        "PORT": 5433,
        "OPTIONS": {"sslmode": "require"},
    }
    with backup.pg_environment(settings_dict) as (env, dbname):
        assert dbname == "arv"
        assert "PGPASSWORD" not in env
        assert env["PGHOST"] == "db.internal" and env["PGPORT"] == "5433" and env["PGSSLMODE"] == "require"
        passfile = Path(env["PGPASSFILE"])
        assert passfile.stat().st_mode & 0o777 == 0o600
        # libpq's escaping: backslash and colon are escaped with a backslash.
        assert passfile.read_text() == "*:*:*:*:s3\\:cr\\\\et\n"
        assert all("s3:cr" not in value for key, value in env.items() if key != "PGPASSFILE")
    assert not passfile.exists()


def test_archive_tables_reads_a_pg_restore_listing():
    listing = (
        ";\n; Archive created at 2026-11-22\n"
        "215; 1259 16390 TABLE public companies_company arv\n"
        "3456; 0 16390 TABLE DATA public companies_company arv\n"
        "216; 1259 16400 SEQUENCE public companies_company_id_seq arv\n"
        "217; 1259 16401 TABLE public django_migrations arv\n"
    )
    assert backup.archive_tables(listing) == {"companies_company", "django_migrations"}


def pg_binaries() -> bool:
    return bool(glob.glob("/usr/lib/postgresql/*/bin/initdb")) and hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.mark.slow
def test_postgresql_round_trip(tmp_path):
    """On the suite's own PostgreSQL database when it runs on one, else on a throwaway cluster."""
    if connection.vendor == "postgresql":
        # Other connections to the test database (a views-counter thread of an earlier test) would
        # make the restore refuse, rightly; end them as stopping the site would.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        Company.objects.create(name="Keep", slug="keep")
        Company.objects.create(name="Gone", slug="gone")
        out = tmp_path / "db.dump"
        call_command("backup_database", out=str(out))
        assert out.read_bytes().startswith(backup.PG_CUSTOM_MAGIC)
        change_everything()
        call_command("restore_database", str(out), interactive=False)
        assert_restored()
        Company.objects.create(name="After", slug="after")
        return
    if not pg_binaries():
        pytest.skip("PostgreSQL binaries (apt-get install postgresql) and root (initdb runs as postgres) are needed")
    from arv.testing.processes import postgres_server

    with postgres_server() as url:
        env = {
            **os.environ,
            "ARV_IGNORE_DOTENV": "1",
            "DATABASE_URL": url,
            "DJANGO_SETTINGS_MODULE": "arv.settings",
            "VAR_DIR": str(tmp_path / "var"),
            "LOG_LEVEL": "WARNING",
        }

        def manage(*args: str) -> str:
            result = subprocess.run(
                [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
            )
            assert result.returncode == 0, result.stderr[-3000:]
            return result.stdout

        def shell(code: str) -> str:
            return manage("shell", "-v", "0", "-c", "from companies.models import Company\n" + code).strip()

        manage("migrate", "--noinput", "-v0")
        shell("Company.objects.create(name='Keep', slug='keep'); Company.objects.create(name='Gone', slug='gone')")
        out = tmp_path / "db.dump"
        assert "Backed up PostgreSQL database 'arv'" in manage("backup_database", "--out", str(out))
        assert out.read_bytes().startswith(backup.PG_CUSTOM_MAGIC)
        shell(
            "Company.objects.get(slug='gone').delete(); Company.objects.filter(slug='keep').update(name='Changed'); "
            "Company.objects.create(name='New', slug='new')"
        )
        # Another process connected: refused, nothing changed.
        holder = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "shell",
                "-v",
                "0",
                "-c",
                "from django.db import connection; connection.ensure_connection(); print('open', flush=True); "
                "import time; time.sleep(60)",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout.readline().strip() == "open"
            refused = subprocess.run(
                [sys.executable, "manage.py", "restore_database", str(out), "--noinput"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
            )
        finally:
            holder.kill()
            holder.wait()
        assert refused.returncode == 1 and "other connection(s)" in refused.stderr
        assert shell("print(Company.objects.filter(slug='new').exists())") == "True"
        time.sleep(0.5)  # the killed backend's session ends on the server

        assert "Restored PostgreSQL database 'arv'" in manage("restore_database", str(out), "--noinput")
        assert shell("print(sorted(Company.objects.values_list('slug', 'name')))") == str(
            [("gone", "Gone"), ("keep", "Keep")]
        )
        shell("Company.objects.create(name='After', slug='after')")


@pytest.mark.slow
def test_restore_refuses_while_a_worker_cluster_runs(tmp_path, settings):
    from arv.testing.processes import database_url, start_qcluster, stop

    Company.objects.create(name="Keep", slug="keep")
    out = tmp_path / "db.backup"
    call_command("backup_database", out=str(out))
    env = {"DATABASE_URL": database_url(connection.settings_dict), "MEDIA_ROOT": str(settings.MEDIA_ROOT)}
    cluster = start_qcluster(env=env, log_path=tmp_path / "qcluster.log")
    try:
        deadline = time.monotonic() + 60
        while not backup.running_clusters():
            assert cluster.poll() is None and time.monotonic() < deadline, (tmp_path / "qcluster.log").read_text()
            time.sleep(0.2)
        with pytest.raises(CommandError, match=r"Workers are running.*\n  qcluster "):
            call_command("restore_database", str(out), interactive=False)
    finally:
        stop(cluster)
