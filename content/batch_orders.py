"""Which files make which order: orders.csv when there is one, else photos and videos that share
a base name (``anna.jpg`` + ``anna.mp4``; a photo alone is a still photo).

orders.csv is read the way Russian and other studios actually save it: UTF-8 with or without a
BOM, UTF-16 (Excel's "Unicode text"), or Windows-1251; separated by commas, semicolons or tabs;
column names in English or Russian, in any order, unknown ones ignored with a warning. Cells that
a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage return) are kept
as text with a leading apostrophe, and the same guard is applied to the CSV we write back
(:func:`neutralise`).
"""

from __future__ import annotations

import codecs
import csv
import datetime
import hashlib
import io
import re
import zoneinfo
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from content.batch_archive import ArchiveRefused, Entry

ORDERS_NAME = "orders.csv"
CSV_MAX_BYTES = 5 * 1024 * 1024
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PHONE = re.compile(r"\+?[\d\s().\-]{3,40}")

FIELDS = {
    # field: (limit, column name shown in messages)
    "title": 200,
    "customer_name": 200,
    "customer_phone": 40,
    "customer_email": 254,
    "order_reference": 100,
}
ALIASES = {
    "photo": ["photo", "photo file", "photos", "image", "image file", "фото", "фотография", "файл фото", "снимок"],
    "videos": ["video", "videos", "video file", "video files", "видео", "файл видео", "файлы видео", "ролик"],
    "title": ["title", "caption", "название", "заголовок", "подпись"],
    "customer_name": [
        *("customer name", "customer", "client", "client name", "name"),
        *("имя клиента", "клиент", "имя", "фио"),
    ],
    "customer_phone": ["phone", "customer phone", "telephone", "телефон", "тел", "тел."],
    "customer_email": [
        *("e mail", "email", "customer e mail", "customer email"),
        *("почта", "эл. почта", "электронная почта"),
    ],
    "order_reference": [
        *("order reference", "order", "order number", "order no", "order ref", "reference"),
        *("заказ", "номер заказа", "№ заказа"),
    ],
    "published_at": ["show from", "published from", "visible from", "показывать с", "показ с"],
    "expires_at": ["show until", "expires", "visible until", "показывать до", "показ до"],
}
COLUMN_BY_ALIAS = {alias: name for name, aliases in ALIASES.items() for alias in aliases}
DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%d.%m.%Y", "%d.%m.%Y %H:%M", "%d/%m/%Y")


def column_label(name: str) -> str:
    from django.utils.translation import gettext as _

    return {
        "title": _("Title"),
        "customer_name": _("Customer name"),
        "customer_phone": _("Customer phone"),
        "customer_email": _("Customer e-mail"),
        "order_reference": _("Order reference"),
        "published_at": _("Show from"),
        "expires_at": _("Show until"),
    }.get(name, name)


def neutralise(value: str) -> str:
    """A cell a spreadsheet will show as text, never run (OWASP's CSV injection advice)."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


@dataclass
class Plan:
    """One order as read from the upload, before its files are checked."""

    number: int
    photo: Entry | None = None
    videos: list[Entry] = field(default_factory=list)
    photo_ref: str = ""
    video_refs: list[str] = field(default_factory=list)
    values: dict = field(default_factory=dict)
    errors: list[tuple[str, dict]] = field(default_factory=list)
    warnings: list[tuple[str, dict]] = field(default_factory=list)
    key: str = ""

    def error(self, code: str, **params) -> None:
        self.errors.append((code, params))


@dataclass
class Orders:
    plans: list[Plan]
    warnings: list[tuple[str, dict]] = field(default_factory=list)


# --- Reading orders.csv ------------------------------------------------------------------------------


def decode_text(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        encodings = ["utf-8-sig"]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ["utf-16"]
    else:
        # Windows-1251 decodes nearly any bytes, so it is tried last.
        encodings = ["utf-8", "cp1251"]
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break
        return text
    raise ArchiveRefused("csv_encoding")


def _header_key(cell: str) -> str:
    key = cell.replace("\ufeff", "").casefold().replace("(s)", "")
    key = re.sub(r"[_\-]+", " ", key)
    return re.sub(r"\s+", " ", key).strip(" :")


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    return max(counts, key=counts.get) if any(counts.values()) else ","


def read_csv(data: bytes, *, max_rows: int) -> tuple[dict[str, int], list[str], list[tuple[int, list[str]]]]:
    """(column → index, unknown column names, [(line number, cells)]) or ArchiveRefused."""
    text = decode_text(data)
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line))
    lines = []
    try:
        header = next(reader, None)
        if not header or not any(c.strip() for c in header):
            raise ArchiveRefused("csv_empty")
        for cells in reader:
            if any(c.strip() for c in cells):
                if len(lines) >= max_rows:
                    raise ArchiveRefused("csv_too_many_rows", count=f"{max_rows}+", max=max_rows)
                lines.append((reader.line_num, cells))
    except csv.Error as exc:
        raise ArchiveRefused("csv_damaged", line=reader.line_num, problem=str(exc)) from None
    columns, unknown = {}, []
    for index, cell in enumerate(header):
        name = COLUMN_BY_ALIAS.get(_header_key(cell))
        if name is None:
            if cell.strip():
                unknown.append(cell.strip()[:60])
            continue
        if name in columns:
            raise ArchiveRefused("csv_duplicate_column", column=cell.strip()[:60])
        columns[name] = index
    if "photo" not in columns:
        raise ArchiveRefused("csv_no_photo_column")
    if not lines:
        raise ArchiveRefused("csv_empty")
    return columns, unknown, lines


class FileIndex:
    """Finds the files orders.csv names: by path (from the CSV's folder or the archive's root),
    else by file name when only one file has it."""

    def __init__(self, entries: list[Entry], base: str):
        self.base = base
        self.by_path = {e.path.casefold(): e for e in entries}
        self.by_name: dict[str, list[Entry]] = {}
        for e in entries:
            self.by_name.setdefault(e.name.casefold(), []).append(e)

    def find(self, ref: str, plan: Plan) -> Entry | None:
        ref = ref.strip().replace("\\", "/").lstrip("/")
        while ref.startswith("./"):
            ref = ref[2:]
        candidates = [f"{self.base}/{ref}" if self.base else ref, ref]
        for candidate in candidates:
            entry = self.by_path.get(candidate.casefold())
            if entry is not None:
                return entry
        same_name = self.by_name.get(PurePosixPath(ref).name.casefold(), [])
        if len(same_name) == 1:
            return same_name[0]
        if len(same_name) > 1:
            plan.error("file_ambiguous", name=ref, example=same_name[0].path)
        else:
            plan.error("file_missing", name=ref)
        return None


def _text_value(plan: Plan, name: str, raw: str) -> str:
    value = raw.strip()
    if name == "customer_phone" and PHONE.fullmatch(value):
        return value
    safe = neutralise(value)
    if safe != value:
        plan.warnings.append(("formula_neutralised", {"column": column_label(name), "char": value[:1].strip() or "⇥"}))
    if len(safe) > FIELDS[name]:
        plan.error("too_long", column=column_label(name), limit=FIELDS[name])
    return safe[: FIELDS[name]]


def _date_value(plan: Plan, name: str, raw: str, tz: zoneinfo.ZoneInfo) -> datetime.datetime | None:
    value = raw.strip()
    if not value:
        return None
    for fmt in DATE_FORMATS:
        try:
            moment = datetime.datetime.strptime(value, fmt)
        except ValueError:
            continue
        return moment.replace(tzinfo=tz)
    plan.error("bad_date", column=column_label(name), value=value[:40])
    return None


def plans_from_csv(data: bytes, *, csv_path: str, entries: list[Entry], max_rows: int, tz: zoneinfo.ZoneInfo) -> Orders:
    columns, unknown, lines = read_csv(data, max_rows=max_rows)
    warnings = [("unknown_columns", {"names": unknown})] if unknown else []
    index = FileIndex(entries, str(PurePosixPath(csv_path).parent).lstrip("."))
    plans = []
    for line, cells in lines:
        plan = Plan(number=line)

        def cell(name: str, cells=cells) -> str:
            i = columns.get(name)
            return cells[i] if i is not None and i < len(cells) else ""

        plan.photo_ref = cell("photo").strip()
        if not plan.photo_ref:
            plan.error("no_photo_named")
        else:
            plan.photo = index.find(plan.photo_ref, plan)
            if plan.photo is not None and plan.photo.kind != "photo":
                plan.error("not_a_photo_name", name=plan.photo_ref)
        plan.video_refs = [v.strip() for v in re.split(r"[|;,\n]+", cell("videos")) if v.strip()]
        for ref in plan.video_refs:
            video = index.find(ref, plan)
            if video is None:
                continue
            if video.kind != "video":
                plan.error("not_a_video_name", name=ref)
            elif any(v.name.casefold() == video.name.casefold() for v in plan.videos):
                plan.error("same_video_twice", name=ref)
            else:
                plan.videos.append(video)
        for name in FIELDS:
            plan.values[name] = _text_value(plan, name, cell(name))
        email = plan.values["customer_email"]
        if email:
            try:
                validate_email(email)
            except ValidationError:
                plan.error("bad_email", value=email[:80])
        start = _date_value(plan, "published_at", cell("published_at"), tz)
        end = _date_value(plan, "expires_at", cell("expires_at"), tz)
        if start and end and end <= start:
            plan.error("period")
        plan.values.update(published_at=start, expires_at=end)
        plans.append(plan)
    used = {e.index for p in plans for e in ([p.photo] if p.photo else []) + p.videos}
    unused = [e.path for e in entries if e.kind in ("photo", "video") and e.index not in used]
    if unused:
        warnings.append(("unused_files", {"names": unused}))
    _set_keys(plans)
    return Orders(plans, warnings)


# --- Pairing by name ---------------------------------------------------------------------------------


def plans_from_names(entries: list[Entry]) -> Orders:
    groups: dict[tuple[str, str], dict[str, list[Entry]]] = {}
    for entry in entries:
        if entry.kind in ("photo", "video"):
            group = groups.setdefault((entry.folder.casefold(), entry.stem.casefold()), {"photo": [], "video": []})
            group[entry.kind].append(entry)
    ordered = sorted(groups.values(), key=lambda g: (g["photo"] or g["video"])[0].path.casefold())
    plans = []
    for number, group in enumerate(ordered, start=1):
        photos = sorted(group["photo"], key=lambda e: e.path)
        videos = sorted(group["video"], key=lambda e: e.path)
        plan = Plan(number=number, videos=videos, video_refs=[v.path for v in videos])
        plan.values = dict.fromkeys(FIELDS, "") | {"published_at": None, "expires_at": None}
        if not photos:
            plan.error("video_without_photo", name=videos[0].path)
        else:
            plan.photo, plan.photo_ref = photos[0], photos[0].path
            plan.values["title"] = photos[0].stem[: FIELDS["title"]]
            if len(photos) > 1:
                plan.error("several_photos", name=photos[0].stem, names=", ".join(p.name for p in photos))
        plans.append(plan)
    _set_keys(plans)
    return Orders(plans)


def row_key(*, reference: str, photo: str, videos: list[str]) -> str:
    """What makes an order the same order in another batch of the same project."""
    if reference:
        key = "ref:" + " ".join(reference.split()).casefold()
    else:
        key = "files:" + "|".join([photo.casefold(), *sorted(v.casefold() for v in videos)])
    return key if len(key) <= 300 else key[:200] + "#" + hashlib.sha256(key.encode()).hexdigest()


def _set_keys(plans: list[Plan]) -> None:
    by_key: dict[str, list[Plan]] = {}
    for plan in plans:
        if plan.photo is None:
            continue
        plan.key = row_key(
            reference=plan.values.get("order_reference", ""),
            photo=plan.photo.path,
            videos=[v.path for v in plan.videos],
        )
        by_key.setdefault(plan.key, []).append(plan)
    for key, same in by_key.items():
        if len(same) > 1:
            lines = ", ".join(str(p.number) for p in same)
            for plan in same:
                plan.key = ""
                if key.startswith("ref:"):
                    plan.error("duplicate_reference", reference=plan.values["order_reference"], lines=lines)
                else:
                    plan.error("duplicate_files", lines=lines)
