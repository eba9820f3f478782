"""recompute_storage_usage: counters from the sizes of the files rows reference, drift printed."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from arv.testing.storage_data import populate
from companies.models import Company, PendingUpload
from companies.storage import storage_for_company
from companies.storage_moves import recompute_storage_usage
from companies.tests.conftest import make_s3_connection
from content.models import Portrait, Video


def used(company) -> int:
    return Company.objects.get(pk=company.pk).storage_used_bytes


@pytest.mark.django_db
def test_drift_is_printed_and_corrected(tenants, make_portrait):
    populate(tenants.a, tenants.project_a, make_portrait)
    right = used(tenants.a)
    Company.objects.filter(pk=tenants.a.pk).update(storage_used_bytes=right + 5000)
    video = Video.objects.filter(portrait__company=tenants.a).first()
    Video.objects.filter(pk=video.pk).update(stored_bytes=1)
    out = StringIO()
    call_command("recompute_storage_usage", "--company", "alpha", "--dry-run", stdout=out)
    assert "alpha: counted" in out.getvalue() and "(-5000 bytes)" in out.getvalue()
    assert used(tenants.a) == right + 5000  # a dry run changes nothing

    out = StringIO()
    call_command("recompute_storage_usage", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("alpha:") and "(-5000 bytes) — corrected (1 row(s) too)" in lines[0]
    assert lines[1].startswith("beta:") and "(+0 bytes)" in lines[1]
    assert used(tenants.a) == right
    assert Video.objects.get(pk=video.pk).stored_bytes == 37000


@pytest.mark.django_db
def test_missing_files_count_zero_and_uploads_in_flight_count(tenants, make_portrait):
    populate(tenants.a, tenants.project_a, make_portrait, portraits=1)
    portrait = Portrait.objects.get(company=tenants.a)
    storage_for_company(tenants.a).delete(portrait.image.name)
    PendingUpload.objects.create(company=tenants.a, names=["alpha/x.jpg"], reserved_bytes=777)
    report = recompute_storage_usage(company=tenants.a)
    assert report.missing == [portrait.image.name]
    assert report.drift == 777 - portrait.image_bytes and report.corrected
    assert Portrait.objects.get(pk=portrait.pk).stored_bytes == portrait.stored_bytes - portrait.image_bytes


@pytest.mark.django_db
def test_a_counter_that_moved_while_counting_is_left_alone(tenants, make_portrait, monkeypatch):
    from companies import storage_moves

    populate(tenants.a, tenants.project_a, make_portrait, portraits=1)
    Company.objects.filter(pk=tenants.a.pk).update(storage_used_bytes=1)
    real = storage_moves._row_sizes

    def upload_meanwhile(company, size_of):
        rows = real(company, size_of)
        Company.objects.filter(pk=company.pk).update(storage_used_bytes=2)  # an upload reserved quota
        return rows

    monkeypatch.setattr(storage_moves, "_row_sizes", upload_meanwhile)
    report = recompute_storage_usage(company=tenants.a)
    assert not report.corrected and used(tenants.a) == 2


@pytest.mark.services
@pytest.mark.django_db
def test_an_unreadable_storage_changes_nothing(tenants, make_portrait, own_s3_server):
    connection = make_s3_connection(own_s3_server)
    Company.objects.filter(pk=tenants.a.pk).update(storage_connection=connection)
    tenants.a.refresh_from_db()
    populate(tenants.a, tenants.project_a, make_portrait, portraits=1)
    Company.objects.filter(pk=tenants.a.pk).update(storage_used_bytes=42)
    own_s3_server.stop()
    err = StringIO()
    with pytest.raises(CommandError, match="Could not check: alpha"):
        call_command("recompute_storage_usage", stdout=StringIO(), stderr=err)
    assert "alpha: storage not readable" in err.getvalue()
    assert used(tenants.a) == 42
