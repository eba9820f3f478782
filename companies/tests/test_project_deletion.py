"""Deleting a project from the back office deletes everything under it, files and quota included,
and switching a company's engine re-derives its photos' status (issue 19 moved both behind
companies' own services: the project's files come from the file inventory, the status refresh
from the markers app listening to ``viewer_engine_changed``)."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from companies.models import Company, Project
from companies.services import change_viewer_engine, delete_project
from companies.storage import storage_for_company
from content.models import Portrait, Video
from markers.models import Job, ProjectMarker


def _names_of(portrait: Portrait) -> list[str]:
    names = portrait.stored_names()
    for video in portrait.videos.all():
        names += video.stored_names()
    for job in portrait.jobs.all():
        names += job.stored_names()
    return names


@pytest.fixture
def staff(db, django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "pw")


def test_the_back_office_deletes_a_project_with_its_files_and_gives_the_bytes_back(
    client, staff, tenants, ready_portrait, make_portrait, django_capture_on_commit_callbacks
):
    storage = storage_for_company(tenants.a)
    marker = storage.save("alpha/album.mind", ContentFile(b"m" * 300))
    ProjectMarker.objects.create(project=tenants.project_a, output=marker, output_bytes=300)
    second = make_portrait(tenants.project_a, title="Boris", with_video=True)
    other_project = Project.objects.create(company=tenants.a, name="Schools", slug="schools")
    kept = make_portrait(other_project, title="Kept")
    doomed = _names_of(ready_portrait) + _names_of(second) + [marker]
    counted = sum(p.stored_bytes for p in (ready_portrait, second))
    counted += sum(v.stored_bytes for v in Video.objects.filter(portrait__project=tenants.project_a))
    counted += 300
    Company.objects.filter(pk=tenants.a.pk).update(storage_used_bytes=counted + kept.stored_bytes)
    assert all(storage.exists(name) for name in doomed)

    client.force_login(staff)
    url = reverse("admin:companies_project_delete", args=[tenants.project_a.pk])
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, {"post": "yes"}).status_code == 302
    assert not Project.objects.filter(pk=tenants.project_a.pk).exists()

    assert not Portrait.objects.filter(project_id=tenants.project_a.pk).exists()
    assert not Job.objects.filter(portrait_id__in=[ready_portrait.pk, second.pk]).exists()
    assert not any(storage.exists(name) for name in doomed)
    assert all(storage.exists(name) for name in kept.stored_names())
    assert Company.objects.get(pk=tenants.a.pk).storage_used_bytes == kept.stored_bytes


@pytest.mark.django_db(transaction=True)
def test_a_delete_that_rolls_back_keeps_the_files(tenants, make_portrait, monkeypatch):
    portrait = make_portrait(tenants.project_a, with_video=True)
    storage = storage_for_company(tenants.a)
    names = _names_of(portrait)

    def refuse(self, *args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(Project, "delete", refuse)
    with pytest.raises(RuntimeError):
        delete_project(project=tenants.project_a)
    assert Portrait.objects.filter(pk=portrait.pk).exists()
    assert all(storage.exists(name) for name in names)


def test_switching_the_company_engine_re_derives_photo_status(tenants, ready_portrait):
    # Ready on MindAR; with AR.js the photo also waits for its NFT marker, which it does not have.
    Job.objects.create(portrait=ready_portrait, kind=Job.Kind.PREVIEW, status=Job.Status.READY)
    assert ready_portrait.status == Portrait.Status.READY
    change_viewer_engine(company=Company.objects.get(pk=tenants.a.pk), engine="nft")
    ready_portrait.refresh_from_db()
    assert ready_portrait.status == Portrait.Status.PROCESSING
    change_viewer_engine(company=Company.objects.get(pk=tenants.a.pk), engine="mindar")
    ready_portrait.refresh_from_db()
    assert ready_portrait.status == Portrait.Status.READY
