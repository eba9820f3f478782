"""Reading a batch's ZIP archive without trusting it.

Pure (no Django, no database): the caller passes its limits and gets plain entries back, or an
:class:`ArchiveRefused` whose ``code`` says which rule the archive broke. What is checked:

- before Python's ``zipfile`` parses anything, the end-of-central-directory record: how many
  entries the archive says it has and how big its directory is (a directory of millions of
  entries would be read whole into memory);
- every name: no absolute paths (``/etc``, ``C:\\``, ``\\\\server``), no ``..`` (zip slip), no
  control characters, no two files with the same name; names without the UTF-8 flag are decoded
  as UTF-8 when they are, else as CP866 (Windows' ZIP tool on Russian systems) or CP437;
- no symbolic links, no encrypted entries;
- while unpacking, the bytes really produced (never the sizes the headers claim): per file
  against its kind's limit, in all against the archive's limit, and the compression ratio, so a
  ZIP bomb stops after at most a few megabytes of output.

Files are only ever written to paths the caller chooses; names from the archive are data.
"""

from __future__ import annotations

import stat
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

CHUNK = 1024 * 1024
# A real photo or video barely compresses; text does, up to 10-20x. Past this ratio (once at
# least RATIO_GRACE bytes came out) the entry is a bomb, not a file.
MAX_RATIO = 100
RATIO_GRACE = 1024 * 1024
# Central directory bytes allowed per entry (46-byte header + a name of reasonable length).
DIRECTORY_BYTES_PER_ENTRY = 1024

PHOTO_EXTENSIONS = {"jpg", "jpeg", "png", "webp", "heic", "heif"}
VIDEO_EXTENSIONS = {"mp4", "m4v", "mov", "webm"}
ARCHIVE_EXTENSIONS = {"zip", "rar", "7z", "tar", "gz", "tgz", "bz2", "xz", "zst"}
ARCHIVE_MAGIC = (b"PK\x03\x04", b"Rar!", b"7z\xbc\xaf\x27\x1c", b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")
# Made by the tools that packed the archive, never by the person: skipped without a word.
JUNK_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}


class ArchiveRefused(Exception):
    """The whole archive is refused; ``code`` names the rule, ``params`` fill the message."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params


class EntryError(Exception):
    """One file of the archive cannot be used (too big, damaged); the rest can."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass
class Entry:
    index: int
    path: str  # normalised: "/"-separated, relative, as the person named it
    kind: str  # photo, video, csv, archive, other
    declared_size: int  # from the header: shown to people, never trusted
    info: zipfile.ZipInfo | None = None
    local: Path | None = None  # a separate uploaded file: where it already is

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name

    @property
    def folder(self) -> str:
        return str(PurePosixPath(self.path).parent).lstrip(".")

    @property
    def stem(self) -> str:
        return PurePosixPath(self.path).stem

    @property
    def extension(self) -> str:
        return PurePosixPath(self.path).suffix.lower().lstrip(".")


@dataclass
class Budget:
    """Bytes the whole archive may still unpack to."""

    limit: int
    spent: int = field(default=0)

    def spend(self, n: int) -> None:
        self.spent += n
        if self.spent > self.limit:
            raise ArchiveRefused("unpacked_too_big", limit=self.limit)


def kind_of(path: str) -> str:
    ext = PurePosixPath(path).suffix.lower().lstrip(".")
    if ext in PHOTO_EXTENSIONS:
        return "photo"
    if ext in VIDEO_EXTENSIONS:
        return "video"
    if ext == "csv":
        return "csv"
    if ext in ARCHIVE_EXTENSIONS:
        return "archive"
    return "other"


def is_junk(path: str) -> bool:
    parts = PurePosixPath(path).parts
    name = parts[-1] if parts else ""
    return "__MACOSX" in parts or name.startswith("._") or name.lower() in JUNK_NAMES


# --- Names -----------------------------------------------------------------------------------------


def decode_name(info: zipfile.ZipInfo) -> str:
    """The entry's name as its author wrote it.

    zipfile decodes names without the UTF-8 flag (bit 11) as CP437. Many tools write UTF-8 without
    setting the flag; Windows' own ZIP tool on a Russian system writes CP866.
    """
    if info.flag_bits & 0x800:
        return info.filename
    try:
        raw = info.orig_filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    high = [b for b in raw if b >= 0x80]
    # CP866 letters: 0x80-0xAF and 0xE0-0xF1; box drawing in between would be CP437 text.
    if high and all(0x80 <= b <= 0xAF or 0xE0 <= b <= 0xF1 for b in high):
        return raw.decode("cp866")
    return raw.decode("cp437")


def safe_path(name: str) -> str:
    """*name* as a relative "/"-separated path, or ArchiveRefused for anything that could point
    outside the folder it is unpacked into."""
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise ArchiveRefused("control_characters", name=name.encode("unicode_escape").decode()[:200])
    path = name.replace("\\", "/")
    if path.startswith("/") or (len(path) >= 2 and path[1] == ":"):
        raise ArchiveRefused("absolute_name", name=name[:200])
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveRefused("zip_slip", name=name[:200])
    if not parts:
        return ""
    result = "/".join(parts)
    if len(result) > 400:
        raise ArchiveRefused("name_too_long", name=result[:80] + "…")
    return result


# --- The directory -----------------------------------------------------------------------------------


def _directory_facts(fh) -> tuple[int, int] | None:
    """(entries, directory bytes) from the end-of-central-directory record, or None if absent."""
    fh.seek(0, 2)
    size = fh.tell()
    tail_length = min(size, 65535 + 22)
    fh.seek(size - tail_length)
    tail = fh.read(tail_length)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        return None
    entries, directory_size = struct.unpack("<HI", tail[at + 10 : at + 16])
    if (entries == 0xFFFF or directory_size == 0xFFFFFFFF) and at >= 20 and tail[at - 20 : at - 16] == b"PK\x06\x07":
        (zip64_at,) = struct.unpack("<Q", tail[at - 12 : at - 4])
        if zip64_at < size:
            fh.seek(zip64_at)
            record = fh.read(56)
            if record[:4] == b"PK\x06\x06" and len(record) == 56:
                entries, directory_size = struct.unpack("<QQ", record[32:48])
    return entries, directory_size


def open_archive(path: Path, *, max_files: int) -> tuple[zipfile.ZipFile, list[Entry], list[str]]:
    """Open and vet the archive at *path*. Returns the open ZipFile (the caller closes it), its
    usable entries, and the names of junk files skipped."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - handed to ZipFile, closed with it
    except OSError as exc:
        raise ArchiveRefused("not_zip") from exc
    try:
        facts = _directory_facts(fh)
        if facts is None:
            raise ArchiveRefused("not_zip")
        entries, directory_size = facts
        if entries > max_files:
            raise ArchiveRefused("too_many_files", count=entries, max=max_files)
        if directory_size > max_files * DIRECTORY_BYTES_PER_ENTRY + 65536:
            raise ArchiveRefused("too_many_files", count=entries, max=max_files)
        fh.seek(0)
        archive = zipfile.ZipFile(fh)
    except ArchiveRefused:
        fh.close()
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, struct.error) as exc:
        fh.close()
        raise ArchiveRefused("damaged") from exc
    try:
        infos = archive.infolist()
        if len(infos) > max_files:
            raise ArchiveRefused("too_many_files", count=len(infos), max=max_files)
        usable, junk, seen = [], [], {}
        for index, info in enumerate(infos):
            name = decode_name(info)
            path_ = safe_path(name)
            if info.is_dir() or not path_:
                continue
            mode = info.external_attr >> 16
            if info.create_system == 3 and stat.S_ISLNK(mode):
                raise ArchiveRefused("symlink", name=path_)
            if is_junk(path_):
                junk.append(path_)
                continue
            if info.flag_bits & 0x1:
                raise ArchiveRefused("encrypted", name=path_)
            folded = path_.casefold()
            if folded in seen:
                raise ArchiveRefused("duplicate_name", name=path_)
            seen[folded] = index
            usable.append(Entry(index=index, path=path_, kind=kind_of(path_), declared_size=info.file_size, info=info))
    except BaseException:
        archive.close()
        raise
    return archive, usable, junk


# --- Unpacking -------------------------------------------------------------------------------------


def _chunks(archive: zipfile.ZipFile, entry: Entry) -> Iterator[bytes]:
    try:
        with archive.open(entry.info) as source:
            while chunk := source.read(CHUNK):
                yield chunk
    except NotImplementedError as exc:
        raise EntryError("unsupported_compression", name=entry.path) from exc
    except (zipfile.BadZipFile, zlib.error, EOFError, struct.error, ValueError) as exc:
        raise EntryError("damaged_file", name=entry.path) from exc


def unpack(
    archive: zipfile.ZipFile | None,
    entry: Entry,
    target: Path,
    *,
    max_bytes: int,
    budget: Budget,
    head_check=None,
    check_ratio: bool = True,
) -> int:
    """Write *entry*'s bytes to *target*, counting them as they come; returns the size.

    ``head_check(first_chunk)`` may raise EntryError to stop before anything more is read (a file
    that is not what its name says). Separate files (no archive) are copied the same way, so the
    same limits hold for both. Text compresses far better than photos and videos, so for a
    small text file (*check_ratio* False) its *max_bytes* alone is the guard.
    """
    written = 0
    compressed = max(entry.info.compress_size if entry.info else entry.declared_size, 1)
    source = _chunks(archive, entry) if archive is not None else _file_chunks(entry.local)
    try:
        with open(target, "wb") as out:
            for chunk in source:
                if written == 0 and head_check is not None:
                    head_check(chunk)
                written += len(chunk)
                if written > max_bytes:
                    raise EntryError("file_too_big", name=entry.path, limit=max_bytes)
                budget.spend(len(chunk))
                if check_ratio and archive is not None and written > RATIO_GRACE and written / compressed > MAX_RATIO:
                    raise ArchiveRefused("bomb", name=entry.path, ratio=MAX_RATIO)
                out.write(chunk)
    except BaseException:
        source.close()
        target.unlink(missing_ok=True)
        raise
    if written == 0:
        target.unlink(missing_ok=True)
        raise EntryError("empty_file", name=entry.path)
    return written


def _file_chunks(path: Path | None) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


def looks_like_archive(head: bytes) -> bool:
    return head.startswith(ARCHIVE_MAGIC) or head[257:262] == b"ustar"
