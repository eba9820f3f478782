"""Batches end to end through the services: check, review, confirm, rows, outputs, idempotency."""

import csv
import io
from datetime import timedelta

import pypdfium2
import pytest
from django.utils import timezone, translation

from arv.testing.qr import decode_qr
from content import batches
from content.models import Batch, BatchPrintFile, BatchRow, Portrait, Video
from content.tests import batch_data, batch_flow
from markers.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _in_english():
    """Messages are asserted in English, whatever an earlier test left active in this thread."""
    with translation.override("en"):
        yield

CSV_HEADER = "photo,video,title,customer name,phone,e-mail,order reference,show from,show until\n"


def orders_zip(tmp_path, lines: list[str], *, header=CSV_HEADER, n=2, extra=None) -> bytes:
    files = batch_data.pairs(tmp_path, n)
    files["orders.csv"] = header + "".join(line + "\n" for line in lines)
    files.update(extra or {})
    return batch_data.zip_bytes(files)


def test_orders_csv_makes_one_portrait_per_line_with_its_details(tenants, tmp_path, django_capture_on_commit_callbacks):
    data = orders_zip(
        tmp_path,
        [
            "guest0.jpg,guest0.mp4,Anna & Ivan,Anna,+7 999 123-45-67,anna@example.com,A-1,2026-05-01,31.12.2027",
            "guest1.jpg,,Still photo,Ivan,,,A-2,,",
        ],
    )
    batch = batch_flow.check(batch_flow.start(tenants, data))
    assert batch.status == Batch.Status.REVIEW, batch.error
    rows = list(batch.rows.all())
    assert [(r.number, r.status) for r in rows] == [(2, "valid"), (3, "valid")]
    assert rows[0].customer_phone == "+7 999 123-45-67" and rows[0].published_at.year == 2026
    assert batch.needed_bytes == sum(r.needed_bytes for r in rows) > 0
    # guest1.mp4 is in the ZIP but no line uses it.
    assert [w["code"] for w in batch.warnings] == ["unused_files"]
    # Nothing is made, stored or counted before confirmation.
    assert not Portrait.objects.exists() and tenants.a.storage_used_bytes == 0

    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_flow.run_to_ready(batch)
    assert batch.status == Batch.Status.READY
    anna, still = (r.portrait for r in batch.rows.order_by("number"))
    assert (anna.title, anna.order_reference, anna.customer_email) == ("Anna & Ivan", "A-1", "anna@example.com")
    assert anna.status == "ready" and anna.videos.get().status == Video.Status.READY
    assert still.status == "needs_video" and still.title == "Still photo"
    # The staging files are gone once the batch is ready; only the print PDF stays.
    assert all(name.startswith("out/") for name in batch_flow.staged_files(batch))


def test_name_pairing_without_orders_csv(tenants, tmp_path):
    files = batch_data.pairs(tmp_path, 2, prefix="Class 5A/")
    files["Class 5A/teacher.JPG"] = batch_data.jpeg_bytes(640, 480, seed=40)
    files["lonely.mp4"] = batch_data.clip(tmp_path)
    batch = batch_flow.check(batch_flow.start(tenants, batch_data.zip_bytes(files)))
    rows = {r.photo_name or r.video_names[0]: r for r in batch.rows.all()}
    assert rows["Class 5A/guest0.jpg"].video_names == ["Class 5A/guest0.mp4"]
    assert rows["Class 5A/guest0.jpg"].title == "guest0"
    assert rows["Class 5A/teacher.JPG"].status == "valid" and rows["Class 5A/teacher.JPG"].video_names == []
    assert rows["lonely.mp4"].status == "invalid"
    assert "has no photo with the same name" in rows["lonely.mp4"].errors[0]["text"]


def test_bad_files_and_fields_are_row_errors_in_plain_words(tenants, tmp_path):
    data = orders_zip(
        tmp_path,
        [
            "guest0.jpg,guest0.mp4,,,,not-an-email,A-1,yesterday,",
            "missing.jpg,guest1.mp4,,,,,A-2,,",
            "guest1.jpg,broken.mp4,,,,,A-3,2026-01-02,2026-01-01",
            ",guest1.mp4,,,,,A-4,,",
            "tiny.jpg,,,,,,A-5,,",
        ],
        extra={
            "broken.mp4": b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100,
            "tiny.jpg": batch_data.jpeg_bytes(100, 80),
        },
    )
    batch = batch_flow.check(batch_flow.start(tenants, data))
    errors = {r.number: " ".join(e["text"] for e in r.errors) for r in batch.rows.all()}
    assert "“not-an-email” is not an e-mail address" in errors[2] and "“yesterday” is not a date" in errors[2]
    assert "“missing.jpg” is not in the upload" in errors[3]
    assert "broken.mp4" in errors[4] and "cannot be played" in errors[4] and "after “show from”" in errors[4]
    assert "No photo file is named" in errors[5]
    assert "short side must be at least 480 px" in errors[6]
    assert set(batch.rows.values_list("status", flat=True)) == {"invalid"}
    with pytest.raises(batches.ValidationError, match="nothing to make"):
        batches.confirm_batch(batch=batch, by=tenants.owner)


def test_duplicate_order_references_are_refused_on_both_lines(tenants, tmp_path):
    data = orders_zip(tmp_path, ["guest0.jpg,,,,,,A-1,,", "guest1.jpg,,,,,,a-1 ,,"])
    batch = batch_flow.check(batch_flow.start(tenants, data))
    for row in batch.rows.all():
        assert row.status == "invalid" and row.key == ""
        assert "is on lines 2, 3" in row.errors[0]["text"]


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [("utf-8-sig", ","), ("cp1251", ";"), ("utf-16", "\t"), ("utf-8", ";")],
)
def test_orders_csv_in_the_encodings_studios_save(tenants, tmp_path, encoding, delimiter):
    header = delimiter.join(["Фото", "Видео", "Название", "Имя клиента", "Номер заказа"])
    line = delimiter.join(["guest0.jpg", "guest0.mp4", "Аня и Ваня", "Анна Петрова", "З-15"])
    files = batch_data.pairs(tmp_path, 1)
    files["orders.csv"] = f"{header}\r\n{line}\r\n".encode(encoding)
    batch = batch_flow.check(batch_flow.start(tenants, batch_data.zip_bytes(files)))
    row = batch.rows.get()
    assert (row.title, row.customer_name, row.order_reference) == ("Аня и Ваня", "Анна Петрова", "З-15")
    assert row.status == "valid" and not batch.warnings


def test_formulas_are_neutralised_when_read_and_when_written(tenants, tmp_path, django_capture_on_commit_callbacks):
    data = orders_zip(
        tmp_path,
        [
            'guest0.jpg,guest0.mp4,"=HYPERLINK(""http://evil"",""x"")",@SUM(1),+1 (999) 000,,-2+3,,',
            'guest1.jpg,guest1.mp4,"\tTab","\rCR",=cmd|\' /C calc\'!A0,,A-2,,',
        ],
    )
    batch = batch_flow.check(batch_flow.start(tenants, data))
    first, second = batch.rows.order_by("number")
    assert first.title.startswith("'=HYPERLINK") and first.customer_name == "'@SUM(1)"
    assert first.customer_phone == "+1 (999) 000"  # a phone number is not a formula
    assert first.order_reference == "'-2+3"
    assert second.customer_phone.startswith("'=cmd")
    # Leading white space (a tab, a carriage return) is trimmed: the cell can no longer start a formula.
    assert second.title == "Tab" and second.customer_name == "CR"
    assert {w["code"] for w in first.warnings} == {"formula_neutralised"}
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_flow.run_to_ready(batch)
    text = "".join(batches.orders_csv(batch, qr_png_url=lambda p: "https://arv.example/qr.png"))
    for cells in list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))[1:]:
        assert not any(cell[:1] in ("=", "+", "-", "@", "\t", "\r") for cell in cells), cells


def test_unknown_columns_are_ignored_with_a_warning(tenants, tmp_path):
    data = orders_zip(tmp_path, ["guest0.jpg,guest0.mp4,Frame,A4 gloss"], header="photo,video,frame colour,paper\n")
    batch = batch_flow.check(batch_flow.start(tenants, data))
    texts = [w["text"] for w in batch.warnings]
    assert any("“frame colour”, “paper”" in t for t in texts)
    assert batch.rows.get().status == "valid"


def test_the_same_batch_again_makes_nothing_twice(tenants, tmp_path, django_capture_on_commit_callbacks):
    data = orders_zip(tmp_path, ["guest0.jpg,guest0.mp4,,,,,A-1,,", "guest1.jpg,guest1.mp4,,,,,A-2,,"])
    with django_capture_on_commit_callbacks(execute=True):
        first = batch_flow.run_to_ready(batch_flow.check(batch_flow.start(tenants, data)))
    assert Portrait.objects.count() == 2
    used = type(tenants.a).objects.get(pk=tenants.a.pk).storage_used_bytes

    again = batch_flow.check(batch_flow.start(tenants, data))
    assert set(again.rows.values_list("status", flat=True)) == {"exists"}
    assert {r.portrait_id for r in again.rows.all()} == {r.portrait_id for r in first.rows.all()}
    assert "already in the project" in again.rows.first().warnings[-1]["text"]
    with pytest.raises(batches.ValidationError):
        batches.confirm_batch(batch=again, by=tenants.owner)
    assert Portrait.objects.count() == 2
    assert type(tenants.a).objects.get(pk=tenants.a.pk).storage_used_bytes == used

    # Without order references, the files' names are the key; another project is another key space.
    plain = batch_data.zip_bytes(batch_data.pairs(tmp_path, 1))
    with django_capture_on_commit_callbacks(execute=True):
        batch_flow.run_to_ready(batch_flow.check(batch_flow.start(tenants, plain)))
    assert batch_flow.check(batch_flow.start(tenants, plain)).rows.get().status == "exists"
    other = batch_flow.check(batch_flow.start(tenants, plain, project=_other_project(tenants)))
    assert other.rows.get().status == "valid"


def _other_project(tenants):
    from companies.models import Project

    return Project.objects.create(company=tenants.a, name="Schools", slug="schools-a")


def test_an_order_confirmed_by_another_batch_meanwhile_is_not_made_twice(tenants, tmp_path):
    data = orders_zip(tmp_path, ["guest0.jpg,guest0.mp4,,,,,A-1,,"])
    one = batch_flow.check(batch_flow.start(tenants, data))
    two = batch_flow.check(batch_flow.start(tenants, data))
    assert one.rows.get().status == two.rows.get().status == "valid"  # checked before either was confirmed
    batches.confirm_batch(batch=one, by=tenants.owner)
    with pytest.raises(batches.ValidationError):
        batches.confirm_batch(batch=two, by=tenants.owner)
    assert two.rows.get().status == "exists"
    batch_flow.make_rows(one)
    assert Portrait.objects.count() == 1


def test_skipped_rows_and_quota(tenants, tmp_path):
    data = orders_zip(tmp_path, ["guest0.jpg,guest0.mp4,,,,,A-1,,", "guest1.jpg,guest1.mp4,,,,,A-2,,"])
    batch = batch_flow.check(batch_flow.start(tenants, data))
    quota = batches.quota(batch)
    assert quota["needed"] == batch.needed_bytes and quota["fits"]
    tenants.a.storage_quota_bytes = batch.needed_bytes - 1
    tenants.a.save(update_fields=["storage_quota_bytes"])
    assert not batches.quota(Batch.objects.select_related("company").get(pk=batch.pk))["fits"]
    with pytest.raises(batches.ValidationError, match="storage"):
        batches.confirm_batch(batch=batch, by=tenants.owner)
    batch.refresh_from_db()
    assert batch.status == "review" and set(batch.rows.values_list("status", flat=True)) == {"valid"}
    # Skipping one row makes the rest fit.
    batches.confirm_batch(batch=batch, by=tenants.owner, skip={3})
    assert dict(batch.rows.values_list("number", "status")) == {2: "queued", 3: "skipped"}
    with pytest.raises(batches.ValidationError):
        batches.confirm_batch(batch=batch, by=tenants.owner)  # once only


def test_a_row_resumes_after_its_worker_died_without_making_anything_twice(tenants, tmp_path):
    files = batch_data.pairs(tmp_path, 1)
    files["guest0-dance.mp4"] = batch_data.clip(tmp_path, seconds=2)
    files["orders.csv"] = CSV_HEADER + "guest0.jpg,guest0.mp4|guest0-dance.mp4,,,,,A-1,,\n"
    batch = batch_flow.check(batch_flow.start(tenants, batch_data.zip_bytes(files)))
    batches.confirm_batch(batch=batch, by=tenants.owner)
    row = batch.rows.get()
    # A worker made the portrait and its first video, then died before the second video.
    staged = row.staged
    with_first_video = batches.services.create_portrait(
        project=tenants.project_a,
        uploaded_by=tenants.owner,
        title=row.title,
        image=batches._staged_image(staged["photo"]),
        video=batches._staged_video(staged["videos"][0], tmp_path),
        unique_id=row.portrait_uid,
    )
    long_ago = timezone.now() - timedelta(hours=2)
    BatchRow.objects.filter(pk=row.pk).update(status="processing", started_at=long_ago, attempts=1)
    assert batches.make_row(row_id=row.pk) is None  # still held by the dead worker

    counts = batches.sweep_batches()
    assert counts["rows_requeued"] == 1
    assert batches.make_row(row_id=row.pk) == "created"
    row.refresh_from_db()
    assert row.portrait_id == with_first_video.pk
    assert Portrait.objects.count() == 1
    assert sorted(row.portrait.videos.values_list("original_filename", flat=True)) == ["guest0-dance.mp4", "guest0.mp4"]
    # Running the row again (a duplicate task) does nothing.
    assert batches.make_row(row_id=row.pk) is None


def test_storage_trouble_is_retried_then_reported(tenants, tmp_path, monkeypatch):
    batch = batch_flow.check(batch_flow.start(tenants, orders_zip(tmp_path, ["guest0.jpg,,,,,,A-1,,"])))
    batches.confirm_batch(batch=batch, by=tenants.owner)
    row = batch.rows.get()

    def down(**kwargs):
        raise batches.StorageUnavailable("connection refused")

    monkeypatch.setattr(batches.services, "create_portrait", down)
    for attempt in range(batches.MAX_ROW_ATTEMPTS):
        BatchRow.objects.filter(pk=row.pk).update(next_attempt_at=None)
        assert batches.make_row(row_id=row.pk) == ("queued" if attempt < batches.MAX_ROW_ATTEMPTS - 1 else "failed")
    row.refresh_from_db()
    assert "storage" in row.errors[0]["text"]
    batch.refresh_from_db()
    assert batch.status == Batch.Status.FAILED and "No portrait could be made" in batch.error["text"]


def test_print_pdf_has_every_sheet_with_its_qr_code(tenants, tmp_path, django_capture_on_commit_callbacks):
    data = orders_zip(tmp_path, ["guest0.jpg,guest0.mp4,Anna,,,,A-1,,", "guest1.jpg,guest1.mp4,Ivan,,,,A-2,,"])
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_flow.run_to_ready(batch_flow.check(batch_flow.start(tenants, data, sheet_format="card")))
    print_file = batch.print_files.get()
    assert print_file.sheet_format == "card"
    assert batches.make_print_file(print_file_id=print_file.pk) == "ready"
    print_file.refresh_from_db()
    with batches.open_print_file(print_file) as fh:
        pdf = pypdfium2.PdfDocument(fh.read())
    assert len(pdf) == print_file.pages == 2
    width, height = pdf[0].get_size()
    assert round(width / 72 * 25.4) == 100 and round(height / 72 * 25.4) == 150  # a 10×15 card
    urls = [r.portrait.public_url for r in batch.rows.order_by("number")]
    assert [sheet_qr(pdf[i]) for i in range(2)] == urls
    for i, url in enumerate(urls):
        assert url in pdf[i].get_textpage().get_text_range().replace("\r", "").replace("\n", "")
    pdf.close()

    # A changed viewer URL (a new domain) makes the PDF anew when it is asked for.
    assert batches.request_print_file(batch=batch, sheet_format="card").status == "ready"
    with django_capture_on_commit_callbacks(execute=False), override_site("https://prints.example"):
        assert batches.request_print_file(batch=batch, sheet_format="card").status == "pending"


def sheet_qr(page) -> str:
    """The QR code in a sheet's bottom-left corner, looked at from a few distances."""
    for scale in (2, 3, 4, 6):
        rendered = page.render(scale=scale).to_pil()
        w, h = rendered.size
        if text := decode_qr(rendered.crop((0, int(h * 0.6), w // 2, h))):
            return text
    return ""


def override_site(url):
    from django.test import override_settings

    return override_settings(SITE_URL=url)


def test_csv_lists_every_line_with_its_links(tenants, tmp_path, django_capture_on_commit_callbacks):
    data = orders_zip(tmp_path, ["guest0.jpg,guest0.mp4,Anna,Anna P.,,,A-1,,", "nope.jpg,,,,,,A-2,,"])
    batch = batch_flow.check(batch_flow.start(tenants, data))
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_flow.run_to_ready(batch)
    text = "".join(batches.orders_csv(batch, qr_png_url=lambda p: f"Q{p.pk}"))
    lines = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    made = batch.rows.get(number=2).portrait
    assert lines[0] == {
        "line": "2",
        "order_reference": "A-1",
        "title": "Anna",
        "customer_name": "Anna P.",
        "photo": "guest0.jpg",
        "status": "ready",
        "viewer_url": made.public_url,
        "qr_png_url": f"Q{made.pk}",
    }
    assert lines[1]["status"] == "invalid" and lines[1]["viewer_url"] == ""


def test_cancel_and_sweeper_clean_the_staging(tenants, tmp_path, django_capture_on_commit_callbacks):
    data = orders_zip(tmp_path, ["guest0.jpg,guest0.mp4,,,,,A-1,,"])
    batch = batch_flow.check(batch_flow.start(tenants, data))
    assert batch_flow.staged_files(batch)
    with django_capture_on_commit_callbacks(execute=True):
        batches.cancel_batch(batch=batch)
    assert batch_flow.staged_files(batch) == []
    with pytest.raises(batches.ValidationError):
        batches.cancel_batch(batch=batch)

    # A review nobody confirms expires; its files go with the next sweep.
    stale = batch_flow.check(batch_flow.start(tenants, data))
    Batch.objects.filter(pk=stale.pk).update(updated_at=timezone.now() - timedelta(days=8))
    assert batches.sweep_batches()["expired"] == 1
    batches.sweep_batches()
    stale.refresh_from_db()
    assert stale.status == "cancelled" and stale.staging_cleaned and batch_flow.staged_files(stale) == []

    # Staging folders no batch owns (its project was deleted) are removed too.
    orphan = batch_flow.start(tenants, data)
    orphan_dir = tmp_path / "staging" / "batches" / str(orphan.uuid)
    assert orphan_dir.exists()
    Batch.objects.filter(pk=orphan.pk).delete()
    assert batches.sweep_batches()["orphans"] == 1 and not orphan_dir.exists()


def test_a_check_whose_worker_died_is_checked_again(tenants, tmp_path, settings):
    batch = batch_flow.start(tenants, orders_zip(tmp_path, ["guest0.jpg,guest0.mp4,,,,,A-1,,"]))
    Batch.objects.filter(pk=batch.pk).update(
        status="checking", attempts=1, heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    assert batches.check_batch(batch_id=batch.pk) is None  # not queued: nobody else may take it
    assert batches.sweep_batches()["checks_requeued"] == 1
    assert batch_flow.check(batch).status == "review"
    # Three deaths in a row: the batch is refused with a reason instead of looping forever.
    Batch.objects.filter(pk=batch.pk).update(
        status="checking", attempts=3, heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    assert batches.sweep_batches()["checks_failed"] == 1
    batch.refresh_from_db()
    assert batch.status == "failed" and "interrupted" in batch.error["text"]


def test_print_files_expire_and_are_made_again_on_request(tenants, tmp_path, django_capture_on_commit_callbacks):
    data = orders_zip(tmp_path, ["guest0.jpg,,,,,,A-1,,"])
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_flow.run_to_ready(batch_flow.check(batch_flow.start(tenants, data)))
    print_file = batch.print_files.get()
    batches.make_print_file(print_file_id=print_file.pk)
    BatchPrintFile.objects.filter(pk=print_file.pk).update(finished_at=timezone.now() - timedelta(days=31))
    batches.sweep_batches()
    assert not BatchPrintFile.objects.exists() and batch_flow.staged_files(batch) == []
    assert batches.request_print_file(batch=batch, sheet_format="a4").status == "pending"


def test_job_kinds_do_not_change(tenants, tmp_path):
    """A batch's portraits get the same jobs as a single upload's."""
    batch = batch_flow.check(batch_flow.start(tenants, orders_zip(tmp_path, ["guest0.jpg,guest0.mp4,,,,,A-1,,"])))
    batches.confirm_batch(batch=batch, by=tenants.owner)
    batch_flow.make_rows(batch)
    assert sorted(Job.objects.values_list("kind", flat=True)) == ["mindar", "nft", "preview", "video"]


def test_a_bug_refuses_at_once_with_a_plain_message(tenants, tmp_path, monkeypatch):
    data = orders_zip(tmp_path, ["guest0.jpg,,,,,,A-1,,", "guest1.jpg,,,,,,A-2,,"])
    monkeypatch.setattr(batches, "plans_from_csv", lambda *a, **k: 1 / 0)
    batch = batch_flow.check(batch_flow.start(tenants, data))
    assert batch.status == "failed" and "unexpected error" in batch.error["text"]
    monkeypatch.undo()
    batch = batch_flow.check(batch_flow.start(tenants, data))
    batches.confirm_batch(batch=batch, by=tenants.owner)
    monkeypatch.setattr(batches, "_staged_image", lambda facts: 1 / 0)
    batch_flow.make_rows(batch)
    assert {r.status for r in batch.rows.all()} == {"failed"}
    assert "failed unexpectedly" in batch.rows.first().errors[0]["text"]


def test_rows_waiting_behind_others_are_not_queued_again(tenants, tmp_path, monkeypatch):
    data = orders_zip(tmp_path, ["guest0.jpg,,,,,,A-1,,", "guest1.jpg,,,,,,A-2,,"])
    batch = batch_flow.check(batch_flow.start(tenants, data))
    batches.confirm_batch(batch=batch, by=tenants.owner)
    queued = []
    monkeypatch.setattr(batches, "_enqueue", lambda func, pk, label: queued.append((label, pk)))
    long_ago = timezone.now() - timedelta(minutes=10)
    first, second = batch.rows.order_by("number")
    BatchRow.objects.filter(batch=batch).update(queued_at=long_ago)
    # The batch is moving (a row started a moment ago): the waiting row keeps its place.
    BatchRow.objects.filter(pk=first.pk).update(status="processing", started_at=timezone.now())
    batches.sweep_batches()
    assert ("batch-row", second.pk) not in queued
    # Nothing has started for a while: its task was lost, so it is queued again.
    BatchRow.objects.filter(pk=first.pk).update(status="created", started_at=long_ago)
    batches.sweep_batches()
    assert ("batch-row", second.pk) in queued
