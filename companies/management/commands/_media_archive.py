"""The company media archive shared by `backup_company_media` and `restore_company_media`.

An archive is a plain tar: ``files/<storage name>`` for every file the company's rows reference,
then ``manifest.json`` (written last, when every hash is known) listing each file's name, size and
SHA-256. Files are read and written only through ``storage_for_company``, so any backend works.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
import tempfile
from pathlib import PurePosixPath

from django.core.files import File
from django.core.management.base import CommandError

from companies.storage_moves import file_digest

FORMAT = "arv-company-media"
VERSION = 1
MANIFEST = "manifest.json"
PREFIX = "files/"
CHUNK = 1024 * 1024
# Files up to this size are buffered in memory, larger ones in a temporary file.
SPOOL_BYTES = 16 * 1024 * 1024


def spool(source) -> tuple[tempfile.SpooledTemporaryFile, int, str]:
    """Copy a readable file into a spooled buffer; returns (buffer at 0, size, SHA-256 hex)."""
    buffer = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - returned to the caller
    digest = hashlib.sha256()
    size = 0
    for chunk in iter(lambda: source.read(CHUNK), b""):
        digest.update(chunk)
        buffer.write(chunk)
        size += len(chunk)
    buffer.seek(0)
    return buffer, size, digest.hexdigest()


def safe_name(name: object) -> str:
    """A storage name from a manifest, or CommandError: relative, no '..', no empty parts."""
    if not isinstance(name, str) or not name or "\\" in name or "\x00" in name:
        raise CommandError(f"The manifest names an invalid file: {name!r}. The archive was refused.")
    path = PurePosixPath(name)
    if path.is_absolute() or any(part in ("", ".", "..") for part in name.split("/")):
        raise CommandError(f"The manifest names an unsafe path: {name!r}. The archive was refused.")
    return name


def read_manifest(tar: tarfile.TarFile) -> dict:
    try:
        member = tar.getmember(MANIFEST)
        raw = tar.extractfile(member).read()
        manifest = json.loads(raw)
    except KeyError:
        raise CommandError("The archive has no manifest.json: it was not made by backup_company_media.") from None
    except (ValueError, AttributeError, tarfile.TarError) as exc:
        raise CommandError(f"The archive's manifest.json is unreadable: {exc}.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CommandError("The archive's manifest.json is not an ARV company media manifest.")
    if manifest.get("version") != VERSION:
        raise CommandError(f"Unsupported archive version {manifest.get('version')!r}; this ARV reads {VERSION}.")
    files = manifest.get("files")
    if not isinstance(files, list) or not isinstance(manifest.get("company"), str):
        raise CommandError("The archive's manifest.json has no company or no file list.")
    for entry in files:
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("size"), int)
            or not isinstance(entry.get("sha256"), str)
        ):
            raise CommandError(f"The manifest has a malformed entry: {entry!r}. The archive was refused.")
        safe_name(entry.get("name"))
    return manifest


def verify(tar: tarfile.TarFile, manifest: dict) -> dict[str, tarfile.TarInfo]:
    """Check the archive holds exactly the manifest's files with their sizes and hashes.

    Returns name -> member. Raises CommandError, naming the first problems, for anything else.
    """
    entries = {}
    for entry in manifest["files"]:
        if entry["name"] in entries:
            raise CommandError(f"The manifest lists {entry['name']} twice. The archive was refused.")
        entries[entry["name"]] = entry
    members: dict[str, tarfile.TarInfo] = {}
    for member in tar.getmembers():
        if member.name == MANIFEST:
            continue
        if not member.name.startswith(PREFIX) or not member.isfile():
            raise CommandError(f"Unexpected entry {member.name!r} in the archive. The archive was refused.")
        name = member.name[len(PREFIX) :]
        if name in members:
            raise CommandError(f"The archive holds {name} twice. The archive was refused.")
        members[name] = member
    missing = sorted(set(entries) - set(members))
    extra = sorted(set(members) - set(entries))
    if missing or extra:
        raise CommandError(
            "The archive does not match its manifest; it was refused and nothing was written. "
            f"In the manifest but not the archive: {missing[:5]}; in the archive but not the manifest: {extra[:5]}."
        )
    bad = []
    for name, member in members.items():
        buffer, size, sha = spool(tar.extractfile(member))
        buffer.close()
        if size != entries[name]["size"] or sha != entries[name]["sha256"]:
            bad.append(name)
    if bad:
        raise CommandError(
            f"{len(bad)} file(s) in the archive differ from their manifest entry (size or SHA-256), e.g. {bad[:5]}. "
            "The archive is damaged or was altered; it was refused and nothing was written."
        )
    return members


def write_back(storage, name: str, data, size: int, sha: str) -> None:
    """Write *data* under exactly *name* and read it back; CommandError if the storage disagrees."""
    upload = File(data, name=name)
    upload.size = size
    saved = storage.save(name, upload)
    if saved != name:
        storage.delete(saved)
        raise CommandError(f"The storage saved {name} under another name ({saved}); it was removed again.")
    if file_digest(storage, name) != (size, sha):
        raise CommandError(f"{name} reads back differently from what was written; the storage is not reliable.")
