"""The hostile-archive corpus: every archive gets a clear message and writes nothing outside the
staging area (no file anywhere else, no portrait, no quota used, no scratch folder left)."""

import io
import os
import tempfile
import zipfile
from pathlib import Path

import pytest

from content.models import Batch, Portrait
from content.tests import batch_data, batch_flow
from content.tests.batch_data import jpeg_bytes, raw_zip, zip_bytes

pytestmark = pytest.mark.django_db

MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"


def snapshot(root: Path) -> set[str]:
    """Every file under *root* except the staging area (and this test's own inputs)."""
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and "staging" not in p.relative_to(root).parts and not p.name.startswith("clip-")
    }


def check_hostile(tenants, tmp_path, data: bytes, capture) -> Batch:
    before = snapshot(tmp_path)
    work_before = set(os.listdir(tempfile.gettempdir()))
    with capture(execute=True):
        batch = batch_flow.check(batch_flow.start(tenants, data))
    assert snapshot(tmp_path) == before
    leftovers = {n for n in set(os.listdir(tempfile.gettempdir())) - work_before if str(batch.uuid) in n}
    assert not leftovers
    assert not Portrait.objects.exists()
    tenants.a.refresh_from_db()
    assert tenants.a.storage_used_bytes == 0
    for escaped in (tmp_path / "evil.jpg", tmp_path.parent / "evil.jpg", Path(tempfile.gettempdir()) / "evil.jpg"):
        assert not escaped.exists()
    return batch


def refused(batch: Batch, code: str) -> str:
    assert batch.status == Batch.Status.FAILED, (batch.status, batch.error)
    assert batch.error["code"] == code, batch.error
    # A refused batch keeps nothing in staging.
    assert batch_flow.staged_files(batch) == []
    return batch.error["text"]


PHOTO = jpeg_bytes(640, 480, seed=5)


@pytest.mark.parametrize(
    ("name", "code", "words"),
    [
        ("../evil.jpg", "zip_slip", "points outside the archive"),
        ("photos/../../evil.jpg", "zip_slip", "points outside the archive"),
        ("/tmp/evil.jpg", "absolute_name", "full path"),
        ("C:\\Users\\evil.jpg", "absolute_name", "full path"),
        ("\\\\server\\share\\evil.jpg", "absolute_name", "full path"),
        ("evil\x07.jpg", "control_characters", "control characters"),
    ],
)
def test_names_pointing_anywhere_else_are_refused(
    tenants, tmp_path, django_capture_on_commit_callbacks, name, code, words
):
    data = raw_zip([("fine.jpg", PHOTO), (name, PHOTO)])
    batch = check_hostile(tenants, tmp_path, data, django_capture_on_commit_callbacks)
    assert words in refused(batch, code)


def test_symlinks_are_refused(tenants, tmp_path, django_capture_on_commit_callbacks):
    data = raw_zip([("fine.jpg", PHOTO), ("link.jpg", b"/etc/passwd")], symlink="link.jpg")
    batch = check_hostile(tenants, tmp_path, data, django_capture_on_commit_callbacks)
    assert "symbolic link, “link.jpg”" in refused(batch, "symlink")


def test_password_protected_entries_are_refused(tenants, tmp_path, django_capture_on_commit_callbacks):
    data = raw_zip([("fine.jpg", PHOTO), ("secret.jpg", PHOTO)], encrypted="secret.jpg")
    batch = check_hostile(tenants, tmp_path, data, django_capture_on_commit_callbacks)
    assert "password-protected" in refused(batch, "encrypted")


def test_two_files_with_one_name_are_refused(tenants, tmp_path, django_capture_on_commit_callbacks):
    data = raw_zip([("anna.jpg", PHOTO), ("ANNA.JPG", PHOTO)])
    batch = check_hostile(tenants, tmp_path, data, django_capture_on_commit_callbacks)
    assert "two files called" in refused(batch, "duplicate_name")


def test_a_zip_bomb_stops_after_a_few_megabytes(tenants, tmp_path, django_capture_on_commit_callbacks):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("guest.jpg", PHOTO)
        with archive.open("guest.mp4", "w") as member:  # 150 MB of zeros behind a video's header
            member.write(MP4_HEAD)
            for _ in range(150):
                member.write(bytes(1024 * 1024))
    data = out.getvalue()
    assert len(data) < 1024 * 1024  # a tiny upload...
    batch = check_hostile(tenants, tmp_path, data, django_capture_on_commit_callbacks)
    assert "ZIP bomb" in refused(batch, "bomb")  # ...refused while streaming, not by its header


def test_the_total_unpacked_size_is_capped(tenants, tmp_path, settings, django_capture_on_commit_callbacks):
    settings.BATCH_MAX_UNPACKED_MB = 1
    noise = os.urandom(700 * 1024)  # incompressible: no ratio alarm, only the total
    data = zip_bytes({"a.jpg": PHOTO, "a.mp4": MP4_HEAD + noise, "b.mp4": MP4_HEAD + noise})
    batch = check_hostile(tenants, tmp_path, data, django_capture_on_commit_callbacks)
    assert "more than 1.0\xa0MB" in refused(batch, "unpacked_too_big")


def test_headers_claiming_another_size_are_not_trusted(tenants, tmp_path, django_capture_on_commit_callbacks):
    data = bytearray(zip_bytes({"guest.jpg": PHOTO, "other.jpg": PHOTO}))
    # Claim 1,000 bytes for guest.jpg in its central directory entry: unpacking stops there and
    # the checksum shows the file is not what the header says.
    at = data.find(b"PK\x01\x02")
    data[at + 24 : at + 28] = (1000).to_bytes(4, "little")
    batch = check_hostile(tenants, tmp_path, bytes(data), django_capture_on_commit_callbacks)
    rows = {r.photo_name: r for r in batch.rows.all()}
    assert rows["guest.jpg"].status == "invalid" and "damaged inside the archive" in rows["guest.jpg"].errors[0]["text"]
    assert rows["other.jpg"].status == "valid"


def test_nested_archives_are_not_opened(tenants, tmp_path, django_capture_on_commit_callbacks):
    inner = zip_bytes({"hidden.jpg": PHOTO})
    data = zip_bytes({"guest.jpg": PHOTO, "more.zip": inner, "fake.jpg": inner, "notes.txt": "hello"})
    batch = check_hostile(tenants, tmp_path, data, django_capture_on_commit_callbacks)
    assert batch.status == "review"
    warnings = " ".join(w["text"] for w in batch.warnings)
    assert "unpack “more.zip”" in warnings and "“notes.txt”" in warnings
    rows = {r.photo_name: r for r in batch.rows.all()}
    assert set(rows) == {"guest.jpg", "fake.jpg"}  # nothing from inside more.zip
    assert "is an archive, not a photo" in rows["fake.jpg"].errors[0]["text"]


def test_ten_thousand_tiny_files_are_refused_before_reading_them(tenants, tmp_path, django_capture_on_commit_callbacks):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for i in range(10_000):
            archive.writestr(f"f{i}.jpg", b"x")
    batch = check_hostile(tenants, tmp_path, out.getvalue(), django_capture_on_commit_callbacks)
    assert "holds 10000 files; a batch may have at most 2000" in refused(batch, "too_many_files")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"PK\x03\x04" + b"\x00" * 500, id="garbage-after-a-zip-signature"),
        pytest.param(zip_bytes({"a.jpg": PHOTO})[:-30], id="truncated"),
    ],
)
def test_corrupt_archives_are_refused(tenants, tmp_path, django_capture_on_commit_callbacks, data):
    batch = check_hostile(tenants, tmp_path, data, django_capture_on_commit_callbacks)
    assert "not a ZIP archive, or it is damaged" in refused(batch, "not_zip")


def test_a_damaged_file_inside_is_a_row_error(tenants, tmp_path, django_capture_on_commit_callbacks):
    data = bytearray(zip_bytes({"guest.jpg": PHOTO, "other.jpg": PHOTO}))
    data[200:210] = b"\xff" * 10  # inside guest.jpg's compressed bytes
    batch = check_hostile(tenants, tmp_path, bytes(data), django_capture_on_commit_callbacks)
    rows = {r.photo_name: r for r in batch.rows.all()}
    assert rows["guest.jpg"].status == "invalid" and rows["other.jpg"].status == "valid"


def test_an_archive_without_photos_is_refused(tenants, tmp_path, django_capture_on_commit_callbacks):
    data = zip_bytes({"clip.mp4": batch_data.clip(tmp_path), "readme.txt": "hi"})
    batch = check_hostile(tenants, tmp_path, data, django_capture_on_commit_callbacks)
    assert "There are no photos" in refused(batch, "no_files")


def test_a_huge_orders_csv_is_refused(tenants, tmp_path, django_capture_on_commit_callbacks):
    line = "guest.jpg,,A title that goes on,Anna,,,A-1,,\n"
    data = zip_bytes({"guest.jpg": PHOTO, "orders.csv": "photo,video,title\n" + line * 150_000})
    batch = check_hostile(tenants, tmp_path, data, django_capture_on_commit_callbacks)
    assert "orders.csv is larger than 5.0\xa0MB" in refused(batch, "csv_too_big")


def test_too_many_orders_are_refused(tenants, tmp_path, settings, django_capture_on_commit_callbacks):
    settings.BATCH_MAX_ROWS = 3
    csv_text = "photo\n" + "".join(f"p{i}.jpg\n" for i in range(5))
    batch = check_hostile(
        tenants, tmp_path, zip_bytes({"p0.jpg": PHOTO, "orders.csv": csv_text}), django_capture_on_commit_callbacks
    )
    assert "at most 3" in refused(batch, "csv_too_many_rows")


@pytest.mark.parametrize(
    ("csv_bytes", "code"),
    [
        (b"", "csv_empty"),
        (b"title,customer\nAnna,Anna\n", "csv_no_photo_column"),
        (b"photo,photo file\na.jpg,a.jpg\n", "csv_duplicate_column"),
        (b"photo\n\x00\x00\x00", "csv_encoding"),
        ("photo\n" + '"' + "x" * 200_000 + '"\n', "csv_damaged"),
    ],
)
def test_unreadable_orders_csv_is_refused_with_the_reason(
    tenants, tmp_path, django_capture_on_commit_callbacks, csv_bytes, code
):
    data = zip_bytes({"guest.jpg": PHOTO, "orders.csv": csv_bytes})
    batch = check_hostile(tenants, tmp_path, data, django_capture_on_commit_callbacks)
    assert "orders.csv" in refused(batch, code)


def test_missing_files_named_by_orders_csv(tenants, tmp_path, django_capture_on_commit_callbacks):
    csv_text = "photo,video\nguest.jpg,gone.mp4\nnobody.jpg,\n"
    batch = check_hostile(
        tenants, tmp_path, zip_bytes({"guest.jpg": PHOTO, "orders.csv": csv_text}), django_capture_on_commit_callbacks
    )
    errors = {r.number: r.errors[0]["text"] for r in batch.rows.all()}
    assert errors == {2: "“gone.mp4” is not in the upload.", 3: "“nobody.jpg” is not in the upload."}


def test_windows_zip_names_in_cp866_are_read_as_russian(tenants, tmp_path, django_capture_on_commit_callbacks):
    russian = "Анна.jpg".encode("cp866")
    placeholder = b"X" * (len(russian) - 4) + b".jpg"
    data = zip_bytes({placeholder.decode(): PHOTO, "orders.csv": "фото;название\nАнна.jpg;Аня\n"})
    data = data.replace(placeholder, russian)  # no UTF-8 flag: what Windows' own ZIP tool writes
    batch = check_hostile(tenants, tmp_path, data, django_capture_on_commit_callbacks)
    row = batch.rows.get()
    assert (row.photo_name, row.title, row.status) == ("Анна.jpg", "Аня", "valid")


def test_mac_and_windows_clutter_is_skipped_silently(tenants, tmp_path, django_capture_on_commit_callbacks):
    data = zip_bytes(
        {"guest.jpg": PHOTO, "__MACOSX/._guest.jpg": b"\x00\x05\x16\x07", ".DS_Store": b"x", "Thumbs.db": b"x"}
    )
    batch = check_hostile(tenants, tmp_path, data, django_capture_on_commit_callbacks)
    assert batch.status == "review" and not batch.warnings and batch.rows.count() == 1


def test_unsupported_compression_is_a_row_error(tenants, tmp_path, django_capture_on_commit_callbacks):
    data = bytearray(zip_bytes({"guest.jpg": PHOTO, "other.jpg": PHOTO}, compression=zipfile.ZIP_STORED))
    for signature, method_at in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        at = data.find(signature)
        data[at + method_at : at + method_at + 2] = (9).to_bytes(2, "little")  # Deflate64 (Windows)
    batch = check_hostile(tenants, tmp_path, bytes(data), django_capture_on_commit_callbacks)
    rows = {r.photo_name: r for r in batch.rows.all()}
    assert "compression method we cannot unpack" in rows["guest.jpg"].errors[0]["text"]
    assert rows["other.jpg"].status == "valid"
