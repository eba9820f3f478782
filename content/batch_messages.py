"""Every message a batch can show about itself, its files and its rows, by code.

Checks record ``{"code": ..., "text": ...}``: the code for API clients to act on, the text in the
uploader's language (the worker renders it under ``translation.override(batch.language)``).
"""

from __future__ import annotations

from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

MESSAGES = {
    # The whole archive is refused.
    "not_zip": _("The file is not a ZIP archive, or it is damaged. Make the ZIP again and re-upload it."),
    "damaged": _("The ZIP archive is damaged or incomplete. Make it again and re-upload it."),
    "too_many_files": _(
        "The archive holds %(count)s files; a batch may have at most %(max)s. Split it into smaller batches."
    ),
    "zip_slip": _(
        "The archive contains a file named “%(name)s”, which points outside the archive. Such archives are "
        "refused: make the ZIP again from an ordinary folder."
    ),
    "absolute_name": _(
        "The archive contains a file with a full path, “%(name)s”. Such archives are refused: make the ZIP "
        "again from an ordinary folder."
    ),
    "control_characters": _("The archive contains a file name with control characters (“%(name)s”)."),
    "name_too_long": _("The archive contains a file name that is far too long (“%(name)s”)."),
    "symlink": _(
        "The archive contains a symbolic link, “%(name)s”. Links are refused: put the files themselves into the ZIP."
    ),
    "encrypted": _("“%(name)s” is password-protected. Make the ZIP again without a password."),
    "duplicate_name": _("The archive contains two files called “%(name)s”."),
    "unpacked_too_big": _(
        "The archive unpacks to more than %(limit)s, the most a batch may hold. Split it into smaller batches."
    ),
    "bomb": _(
        "“%(name)s” unpacks to over %(ratio)s times its packed size: this is a “ZIP bomb”, not a photo "
        "or video, and the archive is refused."
    ),
    "no_files": _("There are no photos in the upload. Add JPEG, PNG, WebP or HEIC photos (and their videos)."),
    "csv_too_big": _("orders.csv is larger than %(limit)s."),
    "csv_encoding": _("orders.csv is not text in UTF-8 or Windows-1251. Save it again as “CSV UTF-8”."),
    "csv_damaged": _("orders.csv cannot be read near line %(line)s: %(problem)s"),
    "csv_empty": _("orders.csv is empty: it needs a header line and one line per order."),
    "csv_no_photo_column": _(
        "orders.csv has no column for the photo file. Name the columns in the first line: photo, video, "
        "title, customer name, phone, e-mail, order reference, show from, show until."
    ),
    "csv_duplicate_column": _("orders.csv has the column “%(column)s” twice."),
    "csv_too_many_rows": _("orders.csv has %(count)s orders; a batch may have at most %(max)s."),
    "several_csv": _("The upload has more than one orders.csv (%(names)s). Keep one."),
    "storage": _("The file storage is not reachable right now. The check will be tried again automatically."),
    "interrupted": _("The check was interrupted too many times. Please upload the batch again."),
    "expired": _("The batch waited too long for confirmation and its files were deleted. Please upload it again."),
    "unexpected": _(
        "The upload could not be checked because of an unexpected error; our team has been notified. "
        "Please upload it again later."
    ),
    "nothing_made": _("No portrait could be made from this batch: see each row for the reason."),
    # Warnings about the whole batch.
    "ignored_files": _("These files are not photos, videos or orders.csv and were ignored: %(names)s."),
    "nested_archive": _(
        "Archives inside the archive are not opened: unpack %(names)s and put their files into the main ZIP."
    ),
    "unknown_columns": _("orders.csv columns we do not know were ignored: %(names)s."),
    "unused_files": _("These files are not used by any order in orders.csv: %(names)s."),
    "csv_ignored": _("Other .csv files are ignored; only orders.csv describes the orders: %(names)s."),
    # One row.
    "no_photo_named": _("No photo file is named in this line."),
    "file_missing": _("“%(name)s” is not in the upload."),
    "file_ambiguous": _("Several files are called “%(name)s”: write its folder too, e.g. “%(example)s”."),
    "not_a_photo_name": _("“%(name)s” is not a photo (JPEG, PNG, WebP or HEIC)."),
    "not_a_video_name": _("“%(name)s” is not a video (MP4, MOV or WebM)."),
    "video_without_photo": _("The video “%(name)s” has no photo with the same name."),
    "several_photos": _("There are several photos called “%(name)s”: %(names)s. Rename all but one."),
    "same_video_twice": _("The video “%(name)s” is listed twice for this order."),
    "duplicate_reference": _("The order reference “%(reference)s” is on lines %(lines)s: each order needs its own."),
    "duplicate_files": _("Lines %(lines)s have the same files and no order reference: they are the same order."),
    "too_long": _("%(column)s is longer than %(limit)s characters."),
    "bad_email": _("“%(value)s” is not an e-mail address."),
    "bad_date": _("%(column)s “%(value)s” is not a date (use 2026-05-31 or 31.05.2026, optionally with 18:00)."),
    "period": _("“Show until” must be after “show from”."),
    "file_too_big": _("“%(name)s” is larger than %(limit)s, the limit for this kind of file."),
    "empty_file": _("“%(name)s” is empty."),
    "damaged_file": _("“%(name)s” is damaged inside the archive (its checksum does not match)."),
    "unsupported_compression": _(
        "“%(name)s” is packed with a compression method we cannot unpack. Make the ZIP again with "
        "ordinary (Deflate) compression."
    ),
    "nested_archive_file": _("“%(name)s” is an archive, not a photo or video."),
    "invalid_file": _("“%(name)s”: %(problem)s"),
    "formula_neutralised": _(
        "%(column)s began with “%(char)s”: it is kept as text with a leading apostrophe, so spreadsheets "
        "will not run it as a formula."
    ),
    "already_uploaded": _("This order is already in the project (%(title)s): it is skipped, nothing is made twice."),
    "quota": _("This batch needs %(needed)s of storage; %(left)s is left. Skip some rows or free space first."),
}

SIZE_PARAMS = ("limit", "needed", "left")


def message(code: str, **params) -> dict:
    """``{"code", "text"}`` in the active language."""
    for name in SIZE_PARAMS:
        if isinstance(params.get(name), int):
            params[name] = filesizeformat(params[name])
    text = str(MESSAGES[code])
    return {"code": code, "text": text % params if params else text}


def names_list(names: list[str], *, limit: int = 10) -> str:
    shown = ", ".join(f"“{n}”" for n in names[:limit])
    more = len(names) - limit
    return shown + (f" (+{more})" if more > 0 else "")
