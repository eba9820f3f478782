"""Back up every file of one company into a tar archive with a SHA-256 manifest."""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from companies.management.commands import _media_archive as archive
from companies.models import Company
from companies.storage import storage_for_company
from companies.storage_moves import company_file_names


class Command(BaseCommand):
    help = (
        "Write every file the company's rows reference (photos, previews, videos with their renditions and "
        "posters, markers, album markers) into a tar archive, read through the company's storage, with a "
        "manifest.json of names, sizes and SHA-256. Restore with `restore_company_media FILE.tar`."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="The company's slug.")
        parser.add_argument("--out", required=True, metavar="FILE.tar", help="Where to write the archive.")
        parser.add_argument(
            "--allow-missing",
            action="store_true",
            help="Record referenced files that are missing from the storage in the manifest instead of failing.",
        )

    def handle(self, *args, slug, out, allow_missing=False, **options):
        company = Company.objects.filter(slug=slug).first()
        if company is None:
            raise CommandError(f"No company has the slug {slug!r}.")
        out = Path(out).expanduser().resolve()
        if not out.parent.is_dir():
            raise CommandError(f"The directory {out.parent} does not exist.")
        storage = storage_for_company(company)
        names = company_file_names(company)
        partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
        started = time.monotonic()
        entries, missing, total = [], [], 0
        try:
            with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
                for name in names:
                    try:
                        with storage.open(name, "rb") as fh:
                            buffer, size, sha = archive.spool(fh)
                    except FileNotFoundError:
                        missing.append(name)
                        continue
                    except Exception as exc:
                        # Remote backends raise their own errors for a missing file; ask plainly.
                        if not _exists(storage, name):
                            missing.append(name)
                            continue
                        raise CommandError(f"Could not read {name} from the company's storage: {exc}") from exc
                    with buffer:
                        info = tarfile.TarInfo(archive.PREFIX + name)
                        info.size, info.mtime, info.mode = size, int(time.time()), 0o644
                        tar.addfile(info, buffer)
                    entries.append({"name": name, "size": size, "sha256": sha})
                    total += size
                if missing and not allow_missing:
                    raise CommandError(
                        f"{len(missing)} referenced file(s) are missing from the storage, e.g. {missing[:5]}; "
                        "no archive was written. Use --allow-missing to back up the rest."
                    )
                manifest = {
                    "format": archive.FORMAT,
                    "version": archive.VERSION,
                    "company": company.slug,
                    "created_at": timezone.now().isoformat(),
                    "files": entries,
                    "missing": missing,
                }
                data = json.dumps(manifest, indent=1).encode()
                info = tarfile.TarInfo(archive.MANIFEST)
                info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
                tar.addfile(info, io.BytesIO(data))
            os.replace(partial, out)
        finally:
            partial.unlink(missing_ok=True)
        message = (
            f"Backed up {len(entries)} file(s), {total:,} bytes, of {company.slug} to {out} "
            f"in {time.monotonic() - started:.1f} s."
        )
        self.stdout.write(self.style.SUCCESS(message))
        if missing:
            self.stderr.write(self.style.WARNING(f"{len(missing)} referenced file(s) were missing: {missing[:10]}"))


def _exists(storage, name: str) -> bool:
    try:
        return storage.exists(name)
    except Exception:
        return True  # cannot tell: report the read error rather than call the file missing
