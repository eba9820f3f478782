"""Restore the database from a file made by `backup_database`."""

from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections

from arv.management.commands import _database_backup as backup


class Command(BaseCommand):
    help = (
        "Replace the whole database with a backup made by `backup_database`. Stop the web server and the "
        "workers (qcluster) first: the restore refuses to run while other processes use the database. "
        "SQLite is restored through its backup API; PostgreSQL with `pg_restore --clean --if-exists` in a "
        "single transaction, so a failed restore changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE", help="A backup made by backup_database.")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="Database alias (default: %(default)s).")
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Do not ask for confirmation.",
        )
        parser.add_argument(
            "--pg-bin",
            metavar="DIR",
            help="Directory of pg_restore (default: the newest /usr/lib/postgresql/*/bin, else PATH).",
        )

    def handle(self, *args, file, database, interactive=True, pg_bin=None, **options):
        conn = connections[database]
        settings_dict = conn.settings_dict
        engine = backup.engine_of(settings_dict)
        path = Path(file).expanduser().resolve()
        if not path.is_file():
            raise CommandError(f"{path} does not exist or is not a file.")
        kind = backup.file_kind(path)
        if kind != engine:
            raise CommandError(
                f"{path} is a {'PostgreSQL' if kind == 'postgresql' else 'SQLite'} backup, but this instance's "
                f"database is {'PostgreSQL' if engine == 'postgresql' else 'SQLite'}: nothing was changed."
            )
        clusters = backup.running_clusters()
        if clusters:
            raise CommandError(
                "Workers are running; stop every qcluster (and the web server) first. Nothing was changed.\n  "
                + "\n  ".join(clusters)
            )
        if engine == "sqlite":
            self.restore_sqlite(conn, path, interactive)
        else:
            self.restore_postgresql(conn, path, interactive, pg_bin)

    def confirm(self, interactive: bool, what: str) -> None:
        if not interactive:
            return
        answer = input(f"This replaces every table of {what} with the backup. Type 'yes' to continue: ")
        if answer.strip().lower() != "yes":
            raise CommandError("Restore cancelled; nothing was changed.")

    def restore_sqlite(self, conn, path: Path, interactive: bool) -> None:
        target = backup.sqlite_path(conn.settings_dict)
        if target.resolve() == path:
            raise CommandError("The backup file is the database itself.")
        backup.sqlite_check(path)
        conn.close()  # this process's own connection must not hold the file during the restore
        users = backup.processes_using(target)
        if users:
            listed = "\n".join(f"  PID {pid}: {command}" for pid, command in users)
            raise CommandError(
                f"The database {target} is in use by other processes; stop the web server and the workers "
                f"(qcluster) first. Nothing was changed.\n{listed}"
            )
        self.confirm(interactive, f"the SQLite database {target}")
        started = time.monotonic()
        backup.sqlite_restore(path, target)
        self.stdout.write(self.style.SUCCESS(f"Restored {target} from {path} in {time.monotonic() - started:.1f} s."))

    def restore_postgresql(self, conn, path: Path, interactive: bool, pg_bin: str | None) -> None:
        pg_restore = backup.pg_tool("pg_restore", pg_bin)
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT pid, coalesce(application_name, ''), coalesce(host(client_addr), 'local') "
                "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend' ORDER BY pid"
            )
            others = cursor.fetchall()
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")
            tables_before = {row[0] for row in cursor.fetchall()}
        if others:
            listed = "\n".join(
                f"  backend {pid} {app or '(no application name)'} from {addr}" for pid, app, addr in others
            )
            raise CommandError(
                f"The database {conn.settings_dict['NAME']!r} has {len(others)} other connection(s); stop the web "
                f"server and the workers (qcluster) first. Nothing was changed.\n{listed}"
            )
        # No connection of ours may hold a lock on the tables pg_restore drops.
        conn.close()
        with backup.pg_environment(conn.settings_dict) as (env, dbname):
            listing = backup.run_pg([pg_restore, "--list", str(path)], env, "Reading the archive (pg_restore --list)")
            self.confirm(interactive, f"the PostgreSQL database {dbname!r}")
            started = time.monotonic()
            backup.run_pg(
                [
                    pg_restore,
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--no-privileges",
                    "--single-transaction",
                    "--exit-on-error",
                    "--no-password",
                    f"--dbname={dbname}",
                    str(path),
                ],
                env,
                "pg_restore (the database was left as it was)",
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored PostgreSQL database {dbname!r} from {path} in {time.monotonic() - started:.1f} s."
            )
        )
        extra = sorted(tables_before - backup.archive_tables(listing))
        if extra:
            self.stderr.write(
                self.style.WARNING(
                    "These tables are not in the backup and were left as they were (made by a newer version?): "
                    + ", ".join(extra)
                )
            )
