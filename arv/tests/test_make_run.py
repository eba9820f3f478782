"""`make run` on another port, as a newcomer starts it (issue 22, items 4 and 5): the links it
prints and encodes follow the port it serves, its logs are lines a person can read, and once the
server answers it says again where it is and how to log in."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from arv.testing.processes import free_port, stop

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 300


class Output:
    """The lines of a child process, read as they come."""

    def __init__(self, process: subprocess.Popen):
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process):
        for line in process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for index, line in enumerate(self.lines):
                if re.search(pattern, line):
                    return index
            time.sleep(0.2)
        raise AssertionError(f"{pattern!r} not printed within {timeout} s:\n" + "\n".join(self.lines[-60:]))


def make_run(tmp_path: Path, port: int, **extra: str) -> subprocess.Popen:
    environ = {
        key: value
        for key, value in os.environ.items()
        # Its own SQLite database and the embedded queue, whatever the suite runs on.
        if key not in {"DATABASE_URL", "REDIS_URL", "SITE_URL", "LOG_FORMAT", "DEBUG", "ALLOWED_HOSTS"}
    }
    environ.update(
        ARV_IGNORE_DOTENV="1",
        SECRET_KEY="make-run-test-secret-key-0123456789abcdef",
        VAR_DIR=str(tmp_path / "var"),
        STATIC_ROOT=str(tmp_path / "static"),
        TASK_WORKERS="1",
        **extra,
    )
    # -o .env: the test passes SECRET_KEY itself and writes nothing into the checkout.
    return subprocess.Popen(
        ["make", "-o", ".env", "run", f"PORT={port}", "WEB_WORKERS=1"],
        cwd=ROOT,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def test_make_run_on_another_port(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    import requests

    from arv.testing.qr import decode_qr

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = make_run(tmp_path, port)
    output = Output(process)
    try:
        listening = output.wait_for(rf"Listening at: {re.escape(base)}", START_TIMEOUT_S)
        up = output.wait_for(rf"ARV is up at {re.escape(base)}/", START_TIMEOUT_S)
        output.wait_for(r"Stop with Ctrl\+C\.", 30)
        seeded = output.wait_for(r"Demo photo uploaded", 1)
        lines = list(output.lines)

        # The seed's link, the printed URLs and the QR code all name the port served.
        photo_url = re.search(r"(http://\S+/v/([0-9a-f-]{36})/)", lines[seeded])
        assert photo_url and photo_url[1].startswith(base + "/v/"), lines[seeded]
        banner = "\n".join(lines[up : up + 8])
        # The first run prints each new random password once; the banner repeats only the names.
        password = re.search(r"portal, owner of Demo Studio: demo / (\S+)", "\n".join(lines[:up]))[1]
        assert f"{base}/portal/" in banner and "demo (password shown when it was made" in banner
        assert f"{base}/admin/" in banner and "admin (password shown when it was made" in banner
        assert password not in banner
        assert up > listening  # printed once gunicorn listens, not buried above its start-up

        session = requests.Session()
        login = session.get(f"{base}/accounts/login/", timeout=10)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text)[1]
        answer = session.post(
            f"{base}/accounts/login/",
            data={"username": "demo", "password": password, "csrfmiddlewaretoken": token},
            headers={"Referer": f"{base}/accounts/login/"},
            timeout=10,
        )
        assert answer.url == f"{base}/portal/"
        qr = session.get(f"{base}/portal/portraits/{photo_url[2]}/qr.png", timeout=10)
        from io import BytesIO

        from PIL import Image

        assert decode_qr(Image.open(BytesIO(qr.content))) == photo_url[1]

        # Lines for a person: no JSON, and the worker's per-task chatter is left out.
        assert not [line for line in output.lines if line.startswith("{")]
        assert not [line for line in output.lines if "django-q:" in line and " INFO " in line]
    finally:
        stop(process)


def test_an_explicit_site_url_still_wins(tmp_path):
    """SITE_URL in the environment (or .env, read into it) is the public address behind a proxy:
    `make run` does not replace it."""
    environ = {k: v for k, v in os.environ.items() if k not in {"SITE_URL", "LOG_FORMAT", "DEBUG"}}
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.SITE_URL, settings.LOG_FORMAT, ' '.join(settings.ALLOWED_HOSTS))"
    )

    def settings_with(**env):
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env={
                **environ,
                "ARV_IGNORE_DOTENV": "1",
                "DJANGO_SETTINGS_MODULE": "arv.settings",
                "SECRET_KEY": "k" * 50,
                "VAR_DIR": str(tmp_path),
                **env,
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.split()

    assert settings_with(ARV_SERVE_URL="http://127.0.0.1:8800")[:2] == ["http://127.0.0.1:8800", "text"]
    site, log_format, *hosts = settings_with(ARV_SERVE_URL="http://127.0.0.1:8800", SITE_URL="https://arv.example.com")
    assert (site, log_format) == ("https://arv.example.com", "text")
    assert "arv.example.com" in hosts
    # Without make run: the production defaults.
    assert settings_with()[:2] == ["http://127.0.0.1:8000", "json"]
