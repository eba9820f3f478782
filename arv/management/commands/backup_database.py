"""Back up the database into one file, while the site runs."""

from __future__ import annotations

import os
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections

from arv.management.commands import _database_backup as backup


class Command(BaseCommand):
    help = (
        "Back up the database to FILE while the site keeps running: SQLite through its online backup API "
        "(a consistent copy that is itself an SQLite database), PostgreSQL with `pg_dump -Fc`. "
        "Restore with `restore_database FILE`. The file is written next to FILE first and renamed when "
        "complete, so FILE is never a partial backup."
    )

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, metavar="FILE", help="Where to write the backup.")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="Database alias (default: %(default)s).")
        parser.add_argument(
            "--pg-bin",
            metavar="DIR",
            help="Directory of pg_dump (default: the newest /usr/lib/postgresql/*/bin, else PATH).",
        )

    def handle(self, *args, out, database, pg_bin=None, **options):
        settings_dict = connections[database].settings_dict
        engine = backup.engine_of(settings_dict)
        out = Path(out).expanduser().resolve()
        if not out.parent.is_dir():
            raise CommandError(f"The directory {out.parent} does not exist.")
        if out.is_dir():
            raise CommandError(f"{out} is a directory; give a file name.")
        partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
        started = time.monotonic()
        try:
            if engine == "sqlite":
                source = backup.sqlite_path(settings_dict)
                if source.resolve() == out:
                    raise CommandError("The backup cannot overwrite the database itself.")
                backup.sqlite_backup(source, partial)
                backup.sqlite_check(partial)
                detail = f"SQLite {source}"
            else:
                with backup.pg_environment(settings_dict) as (env, dbname):
                    pg_dump = backup.pg_tool("pg_dump", pg_bin)
                    backup.run_pg([pg_dump, "--format=custom", "--no-password", f"--file={partial}"], env, "pg_dump")
                    # Read it back: a truncated or unreadable archive is found now, not at restore time.
                    listing = backup.run_pg(
                        [backup.pg_tool("pg_restore", pg_bin), "--list", str(partial)], env, "pg_restore --list"
                    )
                detail = f"PostgreSQL database {dbname!r}, {len(backup.archive_tables(listing))} tables"
            os.replace(partial, out)
        finally:
            partial.unlink(missing_ok=True)
        size = out.stat().st_size
        self.stdout.write(
            self.style.SUCCESS(f"Backed up {detail} to {out} ({size:,} bytes) in {time.monotonic() - started:.1f} s.")
        )
