"""backup_company_media / restore_company_media: every referenced file, verified, one company only."""

import io
import json
import tarfile

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from companies.storage import storage_for_company
from companies.storage_moves import company_file_names
from markers.models import Job, ProjectMarker

pytestmark = pytest.mark.django_db


def put(storage, name: str, data: bytes) -> str:
    saved = storage.save(name, ContentFile(data))
    assert saved == name
    return name


@pytest.fixture
def media(tenants, make_portrait):
    """Company A with one file of every kind a row can reference; company B with its own photo."""
    portrait = make_portrait(tenants.project_a, title="Anna", with_video=True)
    storage = storage_for_company(tenants.a)
    d = portrait.storage_dir
    portrait.preview = put(storage, f"{d}/preview.webp", b"RIFF0000WEBPpreview")
    portrait.save()
    video = portrait.videos.get()
    video.web_file = put(storage, f"{d}/web.mp4", b"\x00\x00\x00\x18ftypmp42web" + b"\x01" * 5000)
    video.poster = put(storage, f"{d}/poster.webp", b"RIFF0000WEBPposter")
    video.save()
    Job.objects.create(
        portrait=portrait,
        kind="mindar",
        status="ready",
        output=put(storage, f"{d}/mindar-1.mind", b"\x82\xa1v\x02" + b"\x07" * 3000),
        finished_at=timezone.now(),
    )
    for ext in ("iset", "fset", "fset3"):
        put(storage, f"{d}/nft-1.{ext}", ext.encode() * 700)
    Job.objects.create(portrait=portrait, kind="nft", status="ready", output=f"{d}/nft-1.iset")
    ProjectMarker.objects.create(
        project=tenants.project_a, output=put(storage, f"alpha/{tenants.project_a.slug}/album-1.mind", b"album")
    )
    other = make_portrait(tenants.project_b, title="Other company")
    names = company_file_names(tenants.a)
    assert len(names) == 10  # photo, preview, video, rendition, poster, .mind, 3 NFT files, album
    return {
        "storage": storage,
        "names": names,
        "bytes": {n: storage.open(n).read() for n in names},
        "other": other,
        "other_bytes": other.image.open().read(),
        "photo": portrait.image.name,
    }


def test_round_trip_restores_deleted_and_changed_files_byte_for_byte(tenants, media, tmp_path, capsys):
    out = tmp_path / "alpha.tar"
    call_command("backup_company_media", "alpha", out=str(out))
    with tarfile.open(out) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
        assert manifest["company"] == "alpha" and manifest["missing"] == []
        assert [e["name"] for e in manifest["files"]] == media["names"]
        assert sorted(m.name for m in tar.getmembers()) == sorted(
            ["manifest.json", *(f"files/{n}" for n in media["names"])]
        )

    storage = media["storage"]
    deleted = media["names"][::2]
    for name in deleted:
        storage.delete(name)
    changed = media["names"][1]
    storage.delete(changed)
    put(storage, changed, b"overwritten by mistake")
    capsys.readouterr()

    call_command("restore_company_media", str(out))
    report = capsys.readouterr().out
    assert f"{len(deleted)} written (missing), 1 written (changed), {10 - len(deleted) - 1} unchanged" in report
    for name, data in media["bytes"].items():
        with storage.open(name) as fh:
            assert fh.read() == data, name
    # The other company was neither backed up nor touched.
    other = media["other"]
    assert other.image.name not in manifest_names(out)
    assert other.image.open().read() == media["other_bytes"]

    # Restoring again finds nothing to do.
    call_command("restore_company_media", str(out))
    assert "0 written (missing), 0 written (changed), 10 unchanged" in capsys.readouterr().out


def manifest_names(path) -> list[str]:
    with tarfile.open(path) as tar:
        return [e["name"] for e in json.loads(tar.extractfile("manifest.json").read())["files"]]


def rewrite(src, dst, *, change=None, drop=None, add=None):
    """Copy an archive member by member, altering one member's bytes, dropping one, or adding one."""
    with tarfile.open(src) as tin, tarfile.open(dst, "w", format=tarfile.PAX_FORMAT) as tout:
        for member in tin.getmembers():
            if member.name == drop:
                continue
            data = tin.extractfile(member).read()
            if member.name == change:
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            info = tarfile.TarInfo(member.name)
            info.size = len(data)
            tout.addfile(info, io.BytesIO(data))
        if add:
            info = tarfile.TarInfo(add)
            info.size = 3
            tout.addfile(info, io.BytesIO(b"new"))


def test_a_tampered_or_incomplete_archive_is_refused_and_nothing_is_written(tenants, media, tmp_path):
    out = tmp_path / "alpha.tar"
    call_command("backup_company_media", "alpha", out=str(out))
    storage = media["storage"]
    victim = media["names"][0]
    storage.delete(victim)

    cases = {
        "changed bytes": ({"change": f"files/{victim}"}, "differ from their manifest entry"),
        "member removed": ({"drop": f"files/{media['names'][3]}"}, "does not match its manifest"),
        "member added": ({"add": "files/alpha/weddings/extra.jpg"}, "does not match its manifest"),
        "no manifest": ({"drop": "manifest.json"}, "has no manifest.json"),
        "path outside the archive root": ({"add": "../../etc/passwd"}, "Unexpected entry"),
    }
    for label, (how, message) in cases.items():
        bad = tmp_path / f"{label}.tar"
        rewrite(out, bad, **how)
        with pytest.raises(CommandError, match=message):
            call_command("restore_company_media", str(bad))
        assert not storage.exists(victim), label  # refused before anything was written

    # A manifest whose own entry was edited to match altered bytes still names a safe path only.
    with tarfile.open(out) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
    manifest["files"][0]["name"] = "../beta/x.jpg"
    bad = tmp_path / "unsafe-name.tar"
    with tarfile.open(bad, "w") as tar:
        data = json.dumps(manifest).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(CommandError, match="unsafe path"):
        call_command("restore_company_media", str(bad))

    (tmp_path / "junk.tar").write_bytes(b"junk" * 100)
    with pytest.raises(CommandError, match="not a readable tar archive"):
        call_command("restore_company_media", str(tmp_path / "junk.tar"))
    # The genuine archive still restores.
    call_command("restore_company_media", str(out))
    assert storage.open(victim).read() == media["bytes"][victim]


def test_backup_refuses_missing_files_unless_told_and_unknown_companies(tenants, media, tmp_path):
    media["storage"].delete(media["names"][0])
    backups = tmp_path / "backups"
    backups.mkdir()
    out = backups / "alpha.tar"
    with pytest.raises(CommandError, match="1 referenced file\\(s\\) are missing"):
        call_command("backup_company_media", "alpha", out=str(out))
    assert not list(backups.iterdir())  # no archive, not even a partial one
    call_command("backup_company_media", "alpha", out=str(out), allow_missing=True)
    with tarfile.open(out) as tar:
        assert json.loads(tar.extractfile("manifest.json").read())["missing"] == [media["names"][0]]
    with pytest.raises(CommandError, match="No company has the slug 'nope'"):
        call_command("backup_company_media", "nope", out=str(out))


def test_restore_writes_only_names_the_company_references(tenants, media, tmp_path, capsys):
    out = tmp_path / "alpha.tar"
    call_command("backup_company_media", "alpha", out=str(out))
    album = ProjectMarker.objects.get(project=tenants.project_a)
    name = album.output.name
    album.delete()  # the row is gone (database not restored): its file is not written back
    media["storage"].delete(name)
    photo = media["photo"]
    media["storage"].delete(photo)
    call_command("restore_company_media", str(out), dry_run=True)
    dry = capsys.readouterr().out
    assert "Would restore alpha" in dry and "1 written (missing)" in dry
    assert not media["storage"].exists(photo)  # a dry run writes nothing
    call_command("restore_company_media", str(out))
    captured = capsys.readouterr()
    assert "1 written (missing)" in captured.out and "1 not referenced, skipped" in captured.out
    assert name in captured.err
    assert not media["storage"].exists(name)
    assert media["storage"].open(photo).read() == media["bytes"][photo]
