"""Schemathesis against the live API: every operation, with generated valid and invalid requests.

The schemathesis CLI fetches the schema from a real server (pytest-django's ``live_server``) and
sends requests built from it with a token: no response may be a server error, every response
must conform to the schema (documented status code, content type, headers, body), and invalid
requests must be refused.

Left out, with reasons:
- ``positive_data_acceptance``: the schema cannot say that a photo must decode, that a period
  must end after it starts or that a text must not contain NUL, so "valid per schema" is not
  always "acceptable"; the API tests cover those rules one by one.
- ``object_level_authorization``: it needs a second identity; tenancy has its own tests.
- the stateful phase: drf-spectacular emits no links between operations. Identifiers come from
  the configuration instead, with separate objects for the DELETE operations.

A test that fails at random would make CI flaky, so by default the generation is derandomised
(Hypothesis' ``derandomize``: the same requests every run). ``make fuzz`` explores instead:
``ARV_FUZZ_SEED=random`` draws a new seed each run and prints it; ``ARV_FUZZ_SEED=<seed>`` replays
such a run; ``ARV_FUZZ_EXAMPLES`` makes runs longer.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from arv.testing import media
from arv.testing.api import api_key, reset_throttles
from arv.testing.factories import jpeg_bytes
from companies.storage import storage_for_company
from content.models import Portrait, Video
from markers.models import Job

# Modest, so the whole run takes about a minute and a half on two cores.
MAX_EXAMPLES = int(os.environ.get("ARV_FUZZ_EXAMPLES", "8"))
HOOKS = Path(__file__).with_name("fuzz_hooks.py")
# "" (CI): derandomised; "random": a fresh seed; a number: that seed, as a random run drew it.
SEED = os.environ.get("ARV_FUZZ_SEED", "")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_live_api_keeps_to_its_schema(live_server, tenants, make_portrait, settings, tmp_path):
    from webhooks import services as webhooks

    # Webhook URLs the fuzzer saves may point at this machine; no worker runs, so nothing is sent.
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "100000/minute", "anon": "100000/minute"},
    }
    portrait = make_portrait(tenants.project_a, title="Fuzzed", with_video=True)
    marker = storage_for_company(tenants.a).save(f"{portrait.storage_dir}/marker.mind", ContentFile(b"mind"))
    Job.objects.create(portrait=portrait, kind="mindar", status="ready", output=marker, report={"score": 50})
    doomed = make_portrait(tenants.project_a, title="Deleted by the fuzzer", with_video=True)
    make_portrait(tenants.project_b, title="Another company's")
    endpoint, _secret = webhooks.create_endpoint(
        company=tenants.a, url="http://127.0.0.1:9/hook", event_types=["portrait.ready"]
    )
    doomed_endpoint, _secret = webhooks.create_endpoint(
        company=tenants.a, url="http://127.0.0.1:9/doomed", event_types=["portrait.ready"]
    )
    delivery = webhooks.send_test_event(endpoint=endpoint)
    key = api_key(tenants.owner)
    reset_throttles(tenants.owner)
    before = set(Portrait.objects.values_list("pk", flat=True))

    photo, video = tmp_path / "photo.jpg", tmp_path / "clip.mp4"
    photo.write_bytes(jpeg_bytes(640, 480))
    media.mp4_file(video, seconds=1.0, size=(160, 120))
    doomed_video = doomed.videos.get()
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        f"""
hooks = "{HOOKS}"

# Hypothesis' health checks time the generation: under load they would fail at random.
suppress-health-check = ["all"]

[generation]
max-examples = {MAX_EXAMPLES}
database = "none"
deterministic = {"false" if SEED else "true"}

[phases]
stateful.enabled = false

[parameters]
"path.uuid" = "{portrait.unique_id}"
"path.video_id" = {portrait.videos.get().pk}
"path.slug" = "weddings"
"path.endpoint_id" = "{endpoint.public_id}"
"path.delivery_id" = "{delivery.public_id}"

# The DELETE operations get objects of their own, so that the others keep theirs.
[[operations]]
include-name = "DELETE /api/v1/portraits/{{uuid}}/"
parameters = {{ "path.uuid" = "{doomed.unique_id}" }}

[[operations]]
include-name = "DELETE /api/v1/portraits/{{uuid}}/videos/{{video_id}}/"
parameters = {{ "path.uuid" = "{doomed.unique_id}", "path.video_id" = {doomed_video.pk} }}

[[operations]]
include-name = "DELETE /api/v1/webhooks/endpoints/{{endpoint_id}}/"
parameters = {{ "path.endpoint_id" = "{doomed_endpoint.public_id}" }}
"""
    )
    command = [
        sys.executable,
        "-c",
        "from schemathesis.cli import schemathesis; schemathesis()",
        "--config-file",
        str(config),
        "run",
        f"{live_server.url}/api/schema/",
        "--header",
        f"Authorization: Token {key}",
        "--checks",
        "all",
        "--exclude-checks",
        "positive_data_acceptance,object_level_authorization",
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--no-color",
    ]
    if SEED and SEED != "random":
        command += ["--seed", SEED]
    env = {
        **os.environ,
        "ARV_FUZZ_PHOTO": str(photo),
        "ARV_FUZZ_VIDEO": str(video),
        "ARV_FUZZ_PROJECT": "weddings",
    }
    result = subprocess.run(
        command,
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        env=env,
        timeout=600,
        cwd=tmp_path,
        check=False,
    )
    output = result.stdout + result.stderr
    summary = output[output.rfind("SUMMARY") :] if "SUMMARY" in output else output[-3000:]
    print(summary)
    if not SEED:
        assert "Seed: not used in the deterministic mode" in output
    assert result.returncode == 0, output[-20000:]

    assert "Tested: 36" in summary
    generated = int(re.search(r"(\d+) generated", summary).group(1))
    assert generated >= 36 * MAX_EXAMPLES
    # The success paths were reached: photos were uploaded and the DELETE targets are gone.
    uploaded = Portrait.objects.exclude(pk__in=before)
    print(
        f"{uploaded.count()} photos and {Video.objects.filter(portrait__in=uploaded).count()} of their videos uploaded"
    )
    assert uploaded.exists()
    assert not Portrait.objects.filter(pk=doomed.pk).exists()
    assert not type(endpoint).objects.filter(pk=doomed_endpoint.pk).exists()
