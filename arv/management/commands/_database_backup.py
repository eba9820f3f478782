"""What `backup_database` and `restore_database` share (not a command: the name starts with _).

SQLite is copied with its online backup API: a consistent snapshot while the site runs, and a
restore that goes through SQLite's own locking instead of copying a file that may be open.
PostgreSQL goes through `pg_dump -Fc` / `pg_restore`. Their credentials reach them through libpq's
environment and a private password file, never through the command line, which any user on the
machine can read with `ps`.
"""

from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

from django.core.management.base import CommandError

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_CUSTOM_MAGIC = b"PGDMP"


def engine_of(settings_dict: dict) -> str:
    engine = settings_dict["ENGINE"]
    if engine.endswith("sqlite3"):
        return "sqlite"
    if engine.endswith("postgresql"):
        return "postgresql"
    raise CommandError(f"Backups support SQLite and PostgreSQL, not {engine}.")


def file_kind(path: Path) -> str:
    """'sqlite' or 'postgresql' from the file's first bytes; CommandError for anything else."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_CUSTOM_MAGIC):
        return "postgresql"
    raise CommandError(
        f"{path} is neither an SQLite database nor a pg_dump custom-format archive; it is not a backup "
        "made by backup_database."
    )


def sqlite_path(settings_dict: dict) -> Path:
    name = str(settings_dict["NAME"])
    if name == ":memory:" or name.startswith("file::memory:") or "mode=memory" in name:
        raise CommandError("The database is an in-memory SQLite database: there is no file to back up or restore.")
    return Path(name)


# --- SQLite ------------------------------------------------------------------------------------------


def sqlite_check(path: Path) -> None:
    """The file is a sound SQLite database made from an ARV database (it has Django's tables)."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            result = db.execute("PRAGMA integrity_check").fetchone()[0]
            migrations = db.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'django_migrations'"
            ).fetchone()[0]
    except sqlite3.Error as exc:
        raise CommandError(f"{path} is not a readable SQLite database: {exc}.") from None
    if result != "ok":
        raise CommandError(f"{path} fails SQLite's integrity check: {result}.")
    if not migrations:
        raise CommandError(f"{path} is an SQLite database but not an ARV one (it has no django_migrations table).")


def sqlite_backup(source: Path, target: Path) -> None:
    """Copy *source* into a new file *target*, as one consistent snapshot, while others write."""
    if not source.exists():
        raise CommandError(f"The SQLite database {source} does not exist.")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        # One step (pages=-1): the whole copy is one read transaction, so it is a snapshot of
        # one moment; in WAL mode writers are not blocked meanwhile.
        src.backup(dst, pages=-1)
        # A backup is one self-contained file, with no -wal file next to it.
        dst.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error as exc:
        raise CommandError(f"The SQLite backup failed: {exc}.") from None
    finally:
        dst.close()
        src.close()


def processes_using(path: Path) -> list[tuple[int, str]]:
    """Other processes with the database (or its -wal/-shm files) open, from /proc (Linux).

    Django opens SQLite per request (CONN_MAX_AGE 0), so an idle web server may hold nothing
    open at this instant; this catches workers and busy servers, and the README says to stop
    both first.
    """
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    wanted = {str(path.resolve()), f"{path.resolve()}-wal", f"{path.resolve()}-shm"}
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            targets = {os.readlink(fd) for fd in (entry / "fd").iterdir()}
        except (PermissionError, FileNotFoundError, ProcessLookupError, NotADirectoryError):
            continue
        if targets & wanted:
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\x00", b" ").decode(errors="replace").strip()
            except OSError:
                command = "?"
            found.append((int(entry.name), command[:120]))
    return sorted(found)


def running_clusters() -> list[str]:
    """django-q2 clusters that reported themselves alive in the last 3 seconds.

    Each cluster refreshes its status every guard cycle with a 3 s expiry, so this sees a running
    `qcluster` even between its database queries, when it holds no file or connection open.
    """
    try:
        from django_q.status import Stat

        stats = Stat.get_all()
    except Exception:
        return []  # the broker or cache is unreachable: no cluster can report through it either
    return [f"qcluster {stat.cluster_id} (PID {stat.pid} on {stat.host}, {stat.status})" for stat in stats]


def sqlite_restore(backup: Path, target: Path) -> None:
    """Replace the content of the database *target* with *backup*, through SQLite's locks."""
    src = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    dst = sqlite3.connect(target, timeout=5)
    try:
        src.backup(dst, pages=-1)
        result = dst.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.Error as exc:
        raise CommandError(f"The SQLite restore failed, the database was left as it was: {exc}.") from None
    finally:
        dst.close()
        src.close()
    if result != "ok":
        raise CommandError(f"The restored database fails SQLite's integrity check: {result}.")


# --- PostgreSQL --------------------------------------------------------------------------------------


def pg_tool(name: str, bin_dir: str | None) -> str:
    """The newest installed client tool: Debian keeps them in /usr/lib/postgresql/<major>/bin.

    pg_dump must be at least as new as the server, so the newest one installed is the best bet.
    """
    if bin_dir:
        candidate = Path(bin_dir) / name
        if not candidate.is_file():
            raise CommandError(f"{candidate} does not exist.")
        return str(candidate)
    versioned = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(Path(p).parts[-3].split(".")[0])
    )
    if versioned:
        return versioned[-1]
    found = shutil.which(name)
    if not found:
        raise CommandError(f"{name} is not installed: apt-get install postgresql-client (or pass --pg-bin DIR).")
    return found


def _passfile_field(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


# libpq reads these from the environment; OPTIONS keys of the same meaning map onto them.
_PG_OPTION_ENV = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
}


@contextmanager
def pg_environment(settings_dict: dict):
    """Environment for pg_dump/pg_restore: libpq variables, the password in a 0600 temp file.

    Not PGPASSWORD: PostgreSQL's documentation advises against it because some systems show a
    process's environment to other users. Yields (env, dbname).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGHOST"] = str(settings_dict.get("HOST") or "localhost")
    if settings_dict.get("PORT"):
        env["PGPORT"] = str(settings_dict["PORT"])
    if settings_dict.get("USER"):
        env["PGUSER"] = str(settings_dict["USER"])
    env["PGDATABASE"] = str(settings_dict["NAME"])
    for option, variable in _PG_OPTION_ENV.items():
        if settings_dict.get("OPTIONS", {}).get(option) is not None:
            env[variable] = str(settings_dict["OPTIONS"][option])
    password = settings_dict.get("PASSWORD") or ""
    with tempfile.TemporaryDirectory(prefix="arv-pg-") as tmp:
        if password:
            passfile = Path(tmp) / "pgpass"
            fd = os.open(passfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(f"*:*:*:*:{_passfile_field(password)}\n")
            env["PGPASSFILE"] = str(passfile)
        else:
            env["PGPASSFILE"] = os.devnull
        yield env, env["PGDATABASE"]


def run_pg(argv: list[str], env: dict, what: str) -> str:
    try:
        result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise CommandError(f"Could not run {argv[0]}: {exc}.") from None
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()
        raise CommandError(f"{what} failed (exit {result.returncode}): {detail[-2000:]}")
    return result.stdout


def archive_tables(listing: str) -> set[str]:
    """Table names in a `pg_restore --list` listing.

    Lines look like "215; 1259 16390 TABLE public companies_company arv"; the rows of that table
    are "3456; 0 16390 TABLE DATA public companies_company arv".
    """
    tables = set()
    for line in listing.splitlines():
        parts = line.split()
        if line.startswith(";") or "TABLE" not in parts:
            continue
        i = parts.index("TABLE")
        if i + 2 < len(parts) and parts[i + 1] != "DATA":
            tables.add(parts[i + 2])
    return tables
