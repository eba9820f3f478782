"""Restore a company's files from an archive made by `backup_company_media`."""

from __future__ import annotations

import tarfile
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from companies.management.commands import _media_archive as archive
from companies.models import Company
from companies.storage import storage_for_company
from companies.storage_moves import company_file_names, file_digest


class Command(BaseCommand):
    help = (
        "Check every file of a backup_company_media archive against its manifest (size and SHA-256) and refuse "
        "the whole archive if anything differs; then write back, through the company's storage, each file that "
        "is missing or changed. Only names the company's rows reference are written, so restore the database "
        "first if rows were lost too. Files of other companies are never touched."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE.tar", help="An archive made by backup_company_media.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Verify the archive and report what would be written, write nothing."
        )

    def handle(self, *args, file, dry_run=False, **options):
        path = Path(file).expanduser()
        if not path.is_file():
            raise CommandError(f"{path} does not exist or is not a file.")
        started = time.monotonic()
        try:
            tar = tarfile.open(path, "r:")  # noqa: SIM115 - closed below
        except (tarfile.TarError, OSError) as exc:
            raise CommandError(f"{path} is not a readable tar archive: {exc}.") from None
        with tar:
            manifest = archive.read_manifest(tar)
            company = Company.objects.filter(slug=manifest["company"]).first()
            if company is None:
                raise CommandError(
                    f"The archive belongs to company {manifest['company']!r}, which does not exist here. "
                    "Restore the database first."
                )
            try:
                members = archive.verify(tar, manifest)
            except tarfile.TarError as exc:
                raise CommandError(f"The archive is damaged: {exc}. Nothing was written.") from None
            storage = storage_for_company(company)
            referenced = set(company_file_names(company))
            counts = {"written (missing)": 0, "written (changed)": 0, "unchanged": 0, "not referenced, skipped": 0}
            skipped = []
            for entry in manifest["files"]:
                name = entry["name"]
                if name not in referenced:
                    counts["not referenced, skipped"] += 1
                    skipped.append(name)
                    continue
                expected = (entry["size"], entry["sha256"])
                if storage.exists(name):
                    if file_digest(storage, name) == expected:
                        counts["unchanged"] += 1
                        continue
                    state = "written (changed)"
                else:
                    state = "written (missing)"
                counts[state] += 1
                if dry_run:
                    continue
                buffer, size, sha = archive.spool(tar.extractfile(members[name]))
                with buffer:
                    if (size, sha) != expected:  # the file changed since it was verified
                        raise CommandError(f"{name} changed in the archive while it was being restored.")
                    if state == "written (changed)":
                        storage.delete(name)
                    archive.write_back(storage, name, buffer, size, sha)
        summary = ", ".join(f"{count} {label}" for label, count in counts.items())
        verb = "Would restore" if dry_run else "Restored"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} {company.slug} from {path}: {len(manifest['files'])} file(s) verified; {summary} "
                f"({time.monotonic() - started:.1f} s)."
            )
        )
        if skipped:
            self.stderr.write(
                self.style.WARNING(
                    f"{len(skipped)} file(s) in the archive are not referenced by {company.slug}'s rows and were "
                    f"not written, e.g. {skipped[:5]}. Restore the database first if rows are missing."
                )
            )
