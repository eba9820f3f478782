"""The AR.js NFT marker as a processing job: three files, reuse, engine-aware status."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from content import services as content_services
from content.validators import validate_image
from markers import jobs, nft, status
from markers.handlers import nft as nft_handler
from markers.models import Job

FIXTURES = Path(__file__).parent / "fixtures"


def upload(tenants, path=FIXTURES / "mindar" / "coffee_1000.jpg"):
    image = validate_image(SimpleUploadedFile(path.name, path.read_bytes()))
    return content_services.create_portrait(
        project=tenants.project_a, uploaded_by=tenants.owner, title=path.name, image=image
    )


@pytest.mark.django_db
def test_every_photo_gets_a_loadable_nft_set(tenants):
    portrait = upload(tenants)
    job = Job.objects.get(portrait=portrait, kind="nft")
    assert jobs.run_job(job_id=job.pk) == "ready"
    job.refresh_from_db()
    names = job.stored_names()
    assert [n.rsplit(".", 1)[1] for n in names] == ["iset", "fset", "fset3"]
    storage = job.output.storage
    files = [storage.open(n).read() for n in names]
    assert job.output_bytes == sum(len(f) for f in files)
    info = nft.read_nft(*files)
    assert info.scales[0].width == 1000 and job.report["fset3_points"] > 1000
    assert job.compiler_version == nft.GENERATOR_VERSION


@pytest.mark.django_db
def test_large_photos_are_scaled_down_with_their_dpi(tenants, monkeypatch):
    monkeypatch.setattr(nft_handler, "NFT_MAX_PIXELS", 250_000)
    portrait = upload(tenants)
    job = Job.objects.get(portrait=portrait, kind="nft")
    jobs.run_job(job_id=job.pk)
    job.refresh_from_db()
    assert job.report["width"] * job.report["height"] <= 250_000
    assert job.report["dpi"] < 72  # scaled with the pixels: same size in millimetres


@pytest.mark.django_db
def test_the_same_photo_reuses_the_nft_set(tenants, monkeypatch):
    first = upload(tenants)
    jobs.run_job(job_id=Job.objects.get(portrait=first, kind="nft").pk)

    def no_generation(*args, **kwargs):
        raise AssertionError("generated again")

    monkeypatch.setattr(nft, "generate_nft", no_generation)
    second = upload(tenants)
    job = Job.objects.get(portrait=second, kind="nft")
    assert jobs.run_job(job_id=job.pk) == "ready"
    job.refresh_from_db()
    assert job.reused_from.portrait == first
    original = Job.objects.get(portrait=first, kind="nft")
    assert [job.output.storage.open(n).read() for n in job.stored_names()] == [
        original.output.storage.open(n).read() for n in original.stored_names()
    ]


@pytest.mark.django_db
def test_status_waits_for_the_nft_marker_only_when_the_photo_plays_with_ar_js(tenants, make_portrait):
    portrait = make_portrait(tenants.project_a, with_video=True)
    for kind in ("mindar", "preview"):
        Job.objects.create(portrait=portrait, kind=kind, status="ready")
    nft_job = Job.objects.create(portrait=portrait, kind="nft", status="pending")
    assert status.derive_status(portrait) == "ready"
    tenants.a.viewer_engine = "nft"
    tenants.a.save()
    portrait.refresh_from_db()
    assert status.derive_status(portrait) == "processing"
    nft_job.status = "ready"
    nft_job.save()
    assert status.derive_status(portrait) == "ready"
    portrait.viewer_engine = "mindar"  # a portrait can override its company
    nft_job.status = "failed"
    nft_job.save()
    assert status.derive_status(portrait) == "ready"


@pytest.mark.django_db
def test_deleting_a_portrait_deletes_its_three_nft_files(tenants, django_capture_on_commit_callbacks):
    portrait = upload(tenants)
    job = Job.objects.get(portrait=portrait, kind="nft")
    jobs.run_job(job_id=job.pk)
    job.refresh_from_db()
    storage = job.output.storage
    names = job.stored_names()
    assert all(storage.exists(n) for n in names)
    with django_capture_on_commit_callbacks(execute=True):
        content_services.delete_portrait(portrait=portrait)
    assert not any(storage.exists(n) for n in names)
