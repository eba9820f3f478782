"""The one file inventory: every row that owns files says which (``stored_names``), and deletes,
backups, moves and the usage recompute all ask it."""

import os
from pathlib import Path

from django.apps import apps
from django.conf import settings

from arv.testing.storage_data import populate
from companies.storage import StoredFiles, TenantFileField, file_owners
from companies.storage_moves import company_file_names


def test_every_model_with_a_tenant_file_field_keeps_it_in_the_inventory():
    for model in apps.get_models():
        fields = {f.name for f in model._meta.get_fields() if isinstance(f, TenantFileField)}
        if fields:
            assert issubclass(model, StoredFiles), f"{model.__name__} owns files but has no stored_names()"
            assert fields <= set(model.FILE_FIELDS), f"{model.__name__}: {fields - set(model.FILE_FIELDS)}"
            assert model.BYTES_FIELD in {f.name for f in model._meta.get_fields()}


def test_the_owners_are_the_logo_photos_videos_jobs_and_album_markers():
    assert [m._meta.label for m in file_owners()] == [
        "companies.Company",
        "content.Portrait",
        "content.Video",
        "markers.Job",
        "markers.ProjectMarker",
    ]


def test_the_inventory_names_every_file_on_disk_and_nothing_else(tenants, make_portrait):
    populate(tenants.a, tenants.project_a, make_portrait)
    populate(tenants.b, tenants.project_b, make_portrait, portraits=1)
    root = Path(settings.MEDIA_ROOT)
    on_disk = sorted(
        str(Path(folder, name).relative_to(root))
        for folder, _dirs, names in os.walk(root / tenants.a.path_prefix)
        for name in names
    )
    assert company_file_names(tenants.a) == on_disk
    assert not set(company_file_names(tenants.a)) & set(company_file_names(tenants.b))


def test_an_nft_job_owns_its_three_files_and_an_empty_field_nothing(tenants, make_portrait):
    from markers.models import Job

    portrait = make_portrait(tenants.project_a)
    job = Job(portrait=portrait, kind=Job.Kind.NFT, output="a/b/c/nft.iset")
    assert job.stored_names() == ["a/b/c/nft.iset", "a/b/c/nft.fset", "a/b/c/nft.fset3"]
    assert Job(portrait=portrait, kind=Job.Kind.MINDAR).stored_names() == []
    assert portrait.stored_names() == [portrait.image.name]
