from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from lib import env


def test_bool_accepts_the_usual_spellings():
    for raw in ("1", "true", "YES", " on "):
        assert env.env_bool("X", False, environ={"X": raw}) is True
    for raw in ("0", "false", "No", "off"):
        assert env.env_bool("X", True, environ={"X": raw}) is False


def test_empty_value_means_default():
    assert env.env_bool("X", True, environ={"X": ""}) is True
    assert env.env_int("X", 7, environ={"X": "  "}) == 7
    assert env.env_str("X", "d", environ={"X": ""}) == "d"


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: env.env_bool("DEBUG", False, environ={"DEBUG": "ture"}), "DEBUG='ture' is not a boolean"),
        (
            lambda: env.env_int("UPLOAD_MAX_MB", 20, environ={"UPLOAD_MAX_MB": "20MB"}),
            "UPLOAD_MAX_MB='20MB' is not a whole number",
        ),
        (lambda: env.env_int("N", 1, min_value=1, environ={"N": "0"}), "N=0 is too small"),
        (lambda: env.env_int("N", 1, max_value=9, environ={"N": "10"}), "N=10 is too large"),
        (
            lambda: env.env_url("SITE_URL", "", environ={"SITE_URL": "example.com"}),
            "SITE_URL='example.com' is not a URL",
        ),
        (lambda: env.env_url("R", "", schemes=("redis",), environ={"R": "http://x"}), "redis://"),
        (lambda: env.env_timezone("TIME_ZONE", "UTC", environ={"TIME_ZONE": "Mars/Olympus"}), "not a known time zone"),
        (lambda: env.env_secret("SECRET_KEY", required=True, environ={}), "SECRET_KEY is not set"),
        (
            lambda: env.env_secret("SECRET_KEY", required=True, min_length=32, environ={"SECRET_KEY": "short"}),
            "too short",
        ),
    ],
)
def test_malformed_values_are_refused_with_a_message_naming_the_variable(call, fragment):
    with pytest.raises(ImproperlyConfigured, match=fragment.replace("(", r"\(")):
        call()


def test_list_and_url():
    assert env.env_list("H", ["a"], environ={"H": "x.com, y.com ,,"}) == ["x.com", "y.com"]
    assert env.env_list("H", ["a"], environ={}) == ["a"]
    assert env.env_url("U", "", environ={"U": "https://arv.example/"}) == "https://arv.example"


def test_secret_from_file(tmp_path):
    secret = tmp_path / "key"
    secret.write_text("s" * 40 + "\n")
    assert env.env_secret("K", required=True, environ={"K_FILE": str(secret)}) == "s" * 40
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        env.env_secret("K", required=True, environ={"K_FILE": str(tmp_path / "missing")})


def test_relative_paths_resolve_against_the_project(tmp_path):
    assert env.env_path("P", Path("var"), base=tmp_path, environ={}) == tmp_path / "var"
    assert env.env_path("P", Path("var"), base=tmp_path, environ={"P": "/abs"}) == Path("/abs")


def test_dotenv_never_overrides_the_real_environment(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("# comment\nA=from-file\nexport B='quoted value'\n\nC=\n")
    environ = {"A": "from-env"}
    env.load_dotenv(dotenv, environ)
    assert environ == {"A": "from-env", "B": "quoted value", "C": ""}


def test_dotenv_syntax_error_names_the_line(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("GOOD=1\nthis is not an assignment\n")
    with pytest.raises(ImproperlyConfigured, match=r":2: expected KEY=VALUE"):
        env.load_dotenv(dotenv, {})


def test_local_site_url_names_the_served_address(monkeypatch):
    monkeypatch.setattr(env, "lan_address", lambda: "192.168.1.20")
    assert env.local_site_url("http://127.0.0.1:8800") == "http://127.0.0.1:8800"
    assert env.local_site_url("http://localhost:8000") == "http://localhost:8000"
    assert env.local_site_url("http://[::1]:9000") == "http://[::1]:9000"
    # Every interface: the address a phone on the same network opens.
    assert env.local_site_url("http://0.0.0.0:8800") == "http://192.168.1.20:8800"
    assert env.local_site_url("http://[::]:8800") == "http://192.168.1.20:8800"


def test_lan_address_is_an_ipv4_address():
    import ipaddress

    assert ipaddress.ip_address(env.lan_address()).version == 4
