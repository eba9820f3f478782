"""Receivers can verify what ARV sends: with the README's own Python and openssl snippets, and with
the Standard Webhooks reference library; during a rotation both secrets sign."""

import re
import shutil
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from webhooks import services, signing
from webhooks.models import EventType

README = Path(__file__).resolve().parents[2] / "README.md"
pytestmark = pytest.mark.django_db


def readme_block(language: str, marker: str) -> str:
    """The README's fenced *language* block containing *marker*."""
    blocks = re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.S)
    (block,) = [b for b in blocks if marker in b]
    return block


@pytest.fixture(scope="module")
def readme_verify():
    namespace = {}
    exec(compile(readme_block("python", "def verify("), "README.md", "exec"), namespace)  # noqa: S102
    return namespace["verify"]


class Headers(dict):
    """Case-insensitive like the frameworks' request.headers."""

    def get(self, key, default=None):
        return super().get(key.lower(), default)


def delivered(endpoint, receiver):
    event = services.emit(company=endpoint.company, event_type=EventType.PORTRAIT_READY, data={"name": "Анна «A&B»"})
    assert services.attempt_delivery(delivery_id=event.deliveries.get().pk) == "succeeded"
    return receiver.requests[-1]


def test_the_readme_python_snippet_verifies_a_real_delivery(endpoint, receiver, readme_verify):
    request = delivered(endpoint, receiver)
    headers = Headers(request.headers)
    assert readme_verify(endpoint.secret, headers, request.body) is True
    # Anything changed, and it refuses.
    assert readme_verify(endpoint.secret, headers, request.body.replace(b"Anna", b"Anya") + b" ") is False
    assert readme_verify(signing.generate_secret(), headers, request.body) is False
    assert readme_verify(endpoint.secret, Headers({**headers, "webhook-id": "another"}), request.body) is False
    stale = str(int(time.time()) - 10 * 60)
    resigned = signing.sign(endpoint.secret, msg_id=headers["webhook-id"], timestamp=int(stale), body=request.body)
    old = Headers({**headers, "webhook-timestamp": stale, "webhook-signature": resigned})
    assert readme_verify(endpoint.secret, old, request.body) is False
    assert readme_verify(endpoint.secret, Headers({}), request.body) is False


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_the_readme_openssl_snippet_verifies_a_real_delivery(endpoint, receiver, tmp_path):
    request = delivered(endpoint, receiver)
    (tmp_path / "body.json").write_bytes(request.body)
    script = readme_block("sh", "openssl dgst")

    def run(**overrides) -> str:
        env = {
            "PATH": "/usr/bin:/bin",
            "SECRET": endpoint.secret,
            "WEBHOOK_ID": request.headers["webhook-id"],
            "WEBHOOK_TIMESTAMP": request.headers["webhook-timestamp"],
            "WEBHOOK_SIGNATURE": request.headers["webhook-signature"],
            **overrides,
        }
        result = subprocess.run(
            ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30, check=True
        )
        return result.stdout.strip()

    assert run() == "valid"
    assert run(SECRET=signing.generate_secret()) == "INVALID signature"
    assert run(WEBHOOK_ID="forged") == "INVALID signature"
    stale = int(request.headers["webhook-timestamp"]) - 3600
    resigned = signing.sign(endpoint.secret, msg_id=request.headers["webhook-id"], timestamp=stale, body=request.body)
    assert run(WEBHOOK_TIMESTAMP=str(stale), WEBHOOK_SIGNATURE=resigned).startswith("stale: ")
    (tmp_path / "body.json").write_bytes(request.body + b"\n")
    assert run() == "INVALID signature"


def test_the_standard_webhooks_library_verifies_a_real_delivery(endpoint, receiver):
    standardwebhooks = pytest.importorskip("standardwebhooks")
    request = delivered(endpoint, receiver)
    payload = standardwebhooks.Webhook(endpoint.secret).verify(request.body, request.headers)
    assert payload["data"] == {"name": "Анна «A&B»"}
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(signing.generate_secret()).verify(request.body, request.headers)


def test_during_a_rotation_both_secrets_sign_until_the_old_one_expires(endpoint, receiver, readme_verify):
    old = endpoint.secret
    now = timezone.now()
    new = services.rotate_secret(endpoint=endpoint, keep_previous=timedelta(hours=24), now=now)
    assert new != old and new.startswith("whsec_")
    request = delivered(endpoint, receiver)
    signatures = request.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    # A receiver still on the old secret and one already on the new both accept it.
    assert readme_verify(old, Headers(request.headers), request.body)
    assert readme_verify(new, Headers(request.headers), request.body)
    assert endpoint.signing_secrets(now + timedelta(hours=23)) == [new, old]
    assert endpoint.signing_secrets(now + timedelta(hours=25)) == [new]


def test_rotating_twice_keeps_at_most_two_valid_secrets(endpoint):
    now = timezone.now()
    second = services.rotate_secret(endpoint=endpoint, keep_previous=timedelta(days=7), now=now)
    third = services.rotate_secret(endpoint=endpoint, keep_previous=timedelta(hours=1), now=now + timedelta(minutes=1))
    assert endpoint.signing_secrets(now + timedelta(minutes=2)) == [third, second]
    assert services.revoke_previous_secrets(endpoint=endpoint, now=now + timedelta(minutes=3)) == 1
    assert endpoint.signing_secrets(now + timedelta(minutes=4)) == [third]


def test_rotating_with_no_overlap_ends_the_old_secret_at_once(endpoint):
    now = timezone.now()
    new = services.rotate_secret(endpoint=endpoint, keep_previous=timedelta(0), now=now)
    assert endpoint.signing_secrets(now) == [new]


@pytest.mark.parametrize("keep", [timedelta(days=8), timedelta(seconds=-1)])
def test_the_overlap_is_at_most_seven_days(endpoint, keep):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.rotate_secret(endpoint=endpoint, keep_previous=keep)
    assert len(endpoint.signing_secrets()) == 1


def test_secrets_are_stored_encrypted_and_shown_by_their_start_only(endpoint):
    stored = endpoint.secrets.get()
    assert endpoint.secret not in stored.value_encrypted
    assert stored.hint == endpoint.secret[:12] and stored.value == endpoint.secret
    assert len(signing.generate_secret()) == len("whsec_") + 44


def test_rotate_credentials_re_encrypts_signing_secrets(endpoint, settings):
    from io import StringIO

    from django.core.management import call_command

    from companies import crypto

    old_key = crypto.generate_key()
    settings.FIELD_ENCRYPTION_KEYS = [old_key]
    secret = endpoint.secrets.get()
    secret.set_value(endpoint.secret)
    secret.save()
    new_key = crypto.generate_key()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    out = StringIO()
    call_command("rotate_credentials", stdout=out)
    assert "1 webhook signing secret" in out.getvalue()
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert endpoint.signing_secrets() == [endpoint.secret]


def test_a_secret_no_key_can_read_fails_the_attempt_with_a_reason(endpoint, receiver, settings):
    from companies import crypto

    settings.FIELD_ENCRYPTION_KEYS = [crypto.generate_key()]
    delivery = services.send_test_event(endpoint=endpoint)
    assert services.attempt_delivery(delivery_id=delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert "cannot be decrypted" in delivery.error and receiver.requests == []
