"""The settings module itself, started in a fresh interpreter as a server would start it."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def start(**env):
    environ = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL"}}
    environ.update(
        {"ARV_IGNORE_DOTENV": "1", "DJANGO_SETTINGS_MODULE": "arv.settings", "VAR_DIR": "/tmp/arv-startup-test"}
    )
    environ.update(env)
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.DATABASES['default']['ENGINE'])",
        ],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_refuses_to_start_without_secret_key_when_debug_is_off():
    result = start(DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY is not set. It is required when DEBUG is off" in result.stderr


def test_starts_with_a_secret_key():
    result = start(DEBUG="0", SECRET_KEY="k" * 50)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.db.backends.sqlite3"


def test_debug_needs_no_secret_key():
    assert start(DEBUG="1").returncode == 0


def test_postgres_url_selects_psycopg():
    result = start(DEBUG="1", DATABASE_URL="postgres://u:p@127.0.0.1:5432/arv")
    assert result.stdout.strip() == "django.db.backends.postgresql"


def test_malformed_values_stop_the_start_with_a_clear_message():
    for env, fragment in [
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
        ({"DEBUG": "1", "DATABASE_URL": "mongodb://x/y"}, "DATABASE_URL='mongodb://x/y' is not understood"),
        ({"DEBUG": "1", "REDIS_URL": "localhost:6379"}, "REDIS_URL='localhost:6379' is not a URL"),
        ({"DEBUG": "1", "TASK_WORKERS": "many"}, "TASK_WORKERS='many' is not a whole number"),
    ]:
        result = start(**env)
        assert result.returncode != 0
        assert fragment in result.stderr, result.stderr


def test_proxy_settings_must_agree():
    # A proxy count without a proxy would trust forged headers; a proxy without a count would
    # key every visitor on the proxy's own address (one visitor's lock-out locks out everyone).
    result = start(DEBUG="1", NUM_PROXIES="2")
    assert result.returncode != 0 and "NUM_PROXIES=2 needs BEHIND_PROXY=1" in result.stderr
    result = start(DEBUG="1", BEHIND_PROXY="1", NUM_PROXIES="0")
    assert result.returncode != 0 and "BEHIND_PROXY=1 needs NUM_PROXIES of at least 1" in result.stderr
    assert start(DEBUG="1", BEHIND_PROXY="1").returncode == 0  # one proxy by default
    assert start(DEBUG="1", BEHIND_PROXY="1", NUM_PROXIES="2").returncode == 0
