"""Real processes for integration tests: a qcluster worker and a Redis server, on 127.0.0.1.

They are started by the tests themselves (CI starts nothing for them) and stopped by PID, their
whole process group, whatever the test's outcome.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager, suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(settings_dict: dict) -> str:
    """The URL of the (test) database this process is connected to, for a child process."""
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user, password = settings_dict.get("USER", ""), settings_dict.get("PASSWORD", "")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host, port = settings_dict.get("HOST") or "127.0.0.1", settings_dict.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"


def stop(process: subprocess.Popen, *, kill: bool = False, timeout: float = 15) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL if kill else signal.SIGTERM)
        process.wait(timeout=timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def start_redis(port: int) -> subprocess.Popen:
    """A redis-server on this port, answering PING; a test may stop it and start it again there."""
    process = subprocess.Popen(
        [shutil.which("redis-server"), "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return process
        except OSError:
            if time.monotonic() > deadline:
                stop(process)
                raise RuntimeError("redis-server did not start") from None
            time.sleep(0.05)


@contextmanager
def redis_server():
    """A throwaway redis-server; yields its URL. Skips the test if Redis is not installed."""
    import pytest

    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    process = start_redis(port)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(process)


def wait_for(predicate, timeout: float = 90, interval: float = 0.2):
    """Poll until *predicate* returns something truthy, and return it; fail after *timeout* s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def start_qcluster(*, env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """`manage.py qcluster` with the given environment on top of this one's."""
    environ = {
        **os.environ,
        "ARV_IGNORE_DOTENV": "1",
        "DJANGO_SETTINGS_MODULE": "arv.settings",
        "LOG_FORMAT": "text",
        **env,
    }
    environ.setdefault("SECRET_KEY", "integration-test-secret-key-0123456789abcdef")
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed by the OS with it
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=environ,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@contextmanager
def postgres_server():
    """A throwaway PostgreSQL cluster on 127.0.0.1 (initdb in a temp dir, run as `postgres`).

    Yields a DATABASE_URL. Used by benchmarks that need the production database; needs the
    Debian postgresql package and root (initdb refuses to run as root, so it runs as postgres).
    """
    import glob
    import tempfile

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not candidates:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    bin_dir = Path(candidates[-1]).parent
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="arv-pg-"))
    data = work / "data"
    data.mkdir()
    shutil.chown(work, "postgres")
    shutil.chown(data, "postgres")
    as_pg = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*as_pg, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    options = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={work} "
        "-c fsync=off -c shared_buffers=256MB"
    )
    subprocess.run(
        [*as_pg, str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l", str(work / "log"), "-o", options, "start"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    try:
        psql = [str(bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-qc"]
        subprocess.run([*psql, "CREATE ROLE arv LOGIN PASSWORD 'arv' CREATEDB"], check=True)
        subprocess.run([*psql, "CREATE DATABASE arv OWNER arv"], check=True)
        yield f"postgres://arv:arv@127.0.0.1:{port}/arv"
    finally:
        subprocess.run(
            [*as_pg, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            check=False,
            stdout=subprocess.DEVNULL,
        )
        shutil.rmtree(work, ignore_errors=True)
