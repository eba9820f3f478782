"""Portal pages of batches: upload (ZIP, many files, one file per request), review, confirm,
live status, downloads; tenancy, roles, anonymous and bad input."""

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from content import batches
from content.models import Batch, Portrait
from content.tests import batch_data, batch_flow
from content.tests.batch_data import jpeg_bytes, zip_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def order_zip(tmp_path):
    files = batch_data.pairs(tmp_path, 2)
    files["orders.csv"] = "photo;video;title;order reference\nguest0.jpg;guest0.mp4;Anna;A-1\nmissing.jpg;;Ivan;A-2\n"
    return zip_bytes(files)


def upload_url(slug="weddings"):
    return reverse("portal:batch_upload", args=[slug])


def test_upload_page_explains_the_layout_and_limits(client, tenants):
    client.force_login(tenants.editor)
    html = client.get(upload_url()).content.decode()
    assert "orders.csv" in html and "Drop a ZIP" in html and "4.0\xa0GB per batch" in html
    assert 'name="archive"' in html and 'name="files"' in html and "multiple" in html


def test_zip_upload_then_review_confirm_and_ready(client, tenants, order_zip, django_capture_on_commit_callbacks):
    client.force_login(tenants.editor)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            upload_url(), {"archive": SimpleUploadedFile("order.zip", order_zip), "sheet_format": "a4"}
        )
    batch = Batch.objects.get()
    assert response.status_code == 302 and response["Location"] == batch.get_absolute_url()
    assert len(callbacks) == 1
    page = client.get(response["Location"]).content.decode()
    assert "Checking the files" in page and "Waiting to be checked" in page

    batch_flow.check(batch)
    page = client.get(batch.get_absolute_url()).content.decode()
    assert "1 order can be made." in page and "1 has errors and will be skipped." in page
    assert "“missing.jpg” is not in the upload." in page
    assert "Storage needed:" in page and 'name="rows" value="2"' in page and 'value="3"' not in page
    status = client.get(reverse("portal:batch_status", args=[batch.uuid])).json()
    assert status["status"] == "review"

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("portal:batch_confirm", args=[batch.uuid]), {"rows": ["2"]})
        assert response.status_code == 302
        status = client.get(reverse("portal:batch_status", args=[batch.uuid])).json()
        assert status["status"] == "running" and status["rows"][0]["status"] == "queued"
        assert status["progress"] == {"done": 0, "total": 1}
        batch_flow.make_rows(batch)
        status = client.get(reverse("portal:batch_status", args=[batch.uuid])).json()
        assert status["rows"][0]["status"] == "processing" and status["rows"][0]["label"] == "Processing"
        batch_flow.process_portraits()
    status = client.get(reverse("portal:batch_status", args=[batch.uuid])).json()
    assert status["status"] == "ready" and status["progress"] == {"done": 1, "total": 1}
    assert [r["status"] for r in status["rows"]] == ["ready", "invalid"]
    page = client.get(batch.get_absolute_url()).content.decode()
    assert "Print file, A4 (PDF)" in page and "Orders with links (CSV)" in page
    assert Portrait.objects.get().get_absolute_url() in page

    # The PDF is being made: the page says so, then the link serves it.
    response = client.get(reverse("portal:batch_print", args=[batch.uuid]), {"format": "a4"})
    assert response.status_code == 302
    batches.make_print_file(print_file_id=batch.print_files.get().pk)
    response = client.get(reverse("portal:batch_print", args=[batch.uuid]), {"format": "a4"})
    assert response["Content-Type"] == "application/pdf" and "attachment" in response["Content-Disposition"]
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    response = client.get(reverse("portal:batch_csv", args=[batch.uuid]))
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert Portrait.objects.get().public_url in body and "/api/v1/portraits/" in body


def test_many_files_in_one_form_post_without_javascript(client, tenants, tmp_path):
    client.force_login(tenants.owner)
    files = [SimpleUploadedFile(name, data) for name, data in batch_data.pairs(tmp_path, 2).items()]
    response = client.post(upload_url(), {"files": files, "sheet_format": "card"})
    batch = Batch.objects.get()
    assert response.status_code == 302 and batch.source == "files" and batch.upload_files == 4
    assert batch_flow.check(batch).rows.count() == 2


def test_more_files_than_one_request_may_carry(client, tenants, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    client.force_login(tenants.owner)
    files = [SimpleUploadedFile(f"p{i}.jpg", b"x") for i in range(5)]
    response = client.post(upload_url(), {"files": files})
    assert response.status_code == 400 and "Put them into a ZIP archive" in response.content.decode()
    assert not Batch.objects.exists()


def test_files_one_request_each_through_a_draft(client, tenants, tmp_path):
    client.force_login(tenants.owner)
    ajax = {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"}
    draft = client.post(reverse("portal:batch_draft", args=["weddings"]), {"sheet_format": "a4"}, **ajax)
    assert draft.status_code == 201
    links = draft.json()
    for name, data in batch_data.pairs(tmp_path, 1).items():
        response = client.post(links["add_url"], {"file": SimpleUploadedFile(name, data)}, **ajax)
        assert response.status_code == 201, response.content
    bad = client.post(links["add_url"], {"file": SimpleUploadedFile("virus.exe", b"MZ")}, **ajax)
    assert bad.status_code == 400 and "is not a photo, a video or orders.csv" in str(bad.json())
    response = client.post(links["submit_url"], **ajax)
    assert response.json()["redirect"] == links["redirect"]
    batch = Batch.objects.get()
    assert batch.status == "queued" and batch.upload_files == 2
    # No more files once it is sent.
    late = client.post(links["add_url"], {"file": SimpleUploadedFile("late.jpg", jpeg_bytes())}, **ajax)
    assert late.status_code == 400 and "no longer taking files" in str(late.json())
    assert batch_flow.check(batch).rows.get().video_names == ["guest0.mp4"]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (dict, "Choose a ZIP archive or the files"),
        (lambda: {"archive": SimpleUploadedFile("a.zip", b"Rar!\x1a\x07")}, "This is not a ZIP archive"),
        (lambda: {"archive": SimpleUploadedFile("a.zip", b"")}, "The submitted file is empty"),
        (lambda: {"files": [SimpleUploadedFile("a.gif", b"GIF89a")]}, "“a.gif” is not a photo, a video or orders.csv"),
        (lambda: {"sheet_format": "a3"}, "Select a valid choice"),
    ],
)
def test_bad_uploads_say_what_is_wrong_and_store_nothing(client, tenants, data, words):
    client.force_login(tenants.owner)
    response = client.post(upload_url(), data())
    assert response.status_code == 400 and words in response.content.decode()
    ajax = client.post(upload_url(), data(), HTTP_X_REQUESTED_WITH="XMLHttpRequest")
    assert ajax.status_code == 400 and words in str(ajax.json()["errors"])
    assert not Batch.objects.exists()


def test_cancel_from_the_review(client, tenants, order_zip):
    client.force_login(tenants.owner)
    batch = batch_flow.check(batch_flow.start(tenants, order_zip))
    response = client.post(reverse("portal:batch_cancel", args=[batch.uuid]))
    assert response.status_code == 302 and response["Location"] == reverse("portal:batch_list", args=["weddings"])
    batch.refresh_from_db()
    assert batch.status == "cancelled"


def test_downloads_wait_for_a_ready_batch(client, tenants, order_zip):
    client.force_login(tenants.owner)
    batch = batch_flow.check(batch_flow.start(tenants, order_zip))
    for name in ("portal:batch_print", "portal:batch_csv"):
        response = client.get(reverse(name, args=[batch.uuid]), follow=True)
        assert "available once the batch is ready" in response.content.decode()


def test_another_company_gets_404_everywhere(client, tenants, order_zip):
    batch = batch_flow.check(batch_flow.start(tenants, order_zip))
    client.force_login(tenants.outsider)
    for name in ("batch_detail", "batch_status", "batch_print", "batch_csv"):
        assert client.get(reverse(f"portal:{name}", args=[batch.uuid])).status_code == 404, name
    for name in ("batch_confirm", "batch_cancel", "batch_submit", "batch_add_file"):
        assert client.post(reverse(f"portal:{name}", args=[batch.uuid])).status_code == 404, name
    # Another company's project cannot take a batch either.
    assert client.get(upload_url()).status_code == 404
    assert client.get(reverse("portal:batch_list", args=["weddings"])).status_code == 404
    batch.refresh_from_db()
    assert batch.status == "review"


def test_anonymous_visitors_are_sent_to_log_in(tenants, order_zip):
    batch = batch_flow.start(tenants, order_zip)
    client = Client()
    for url in (upload_url(), batch.get_absolute_url(), reverse("portal:batch_status", args=[batch.uuid])):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_viewers_see_but_cannot_upload_or_confirm(client, tenants, order_zip):
    batch = batch_flow.check(batch_flow.start(tenants, order_zip))
    client.force_login(tenants.viewer)
    page = client.get(batch.get_absolute_url()).content.decode()
    assert "“missing.jpg” is not in the upload." in page
    assert "Confirm and make the portraits" not in page and 'name="rows"' not in page
    assert client.get(upload_url()).status_code == 403
    assert client.post(upload_url(), {"archive": SimpleUploadedFile("o.zip", order_zip)}).status_code == 403
    assert client.post(reverse("portal:batch_confirm", args=[batch.uuid]), {"rows": ["2"]}).status_code == 403
    assert client.post(reverse("portal:batch_draft", args=["weddings"])).status_code == 403
    batch.refresh_from_db()
    assert batch.status == "review" and Batch.objects.count() == 1
    list_page = client.get(reverse("portal:batch_list", args=["weddings"])).content.decode()
    assert batch.get_absolute_url() in list_page and "Batch upload" not in list_page


def test_read_only_companies_cannot_start_a_batch(client, tenants, order_zip):
    tenants.a.subscription_expires_at = timezone.now()
    tenants.a.save(update_fields=["subscription_expires_at"])
    client.force_login(tenants.owner)
    response = client.post(upload_url(), {"archive": SimpleUploadedFile("o.zip", order_zip)})
    assert response.status_code == 403 and "subscription has expired" in response.content.decode()
    assert not Batch.objects.exists()


def test_batch_list_costs_the_same_for_any_number_of_batches(client, tenants, order_zip, django_assert_max_num_queries):
    client.force_login(tenants.owner)
    url = reverse("portal:batch_list", args=["weddings"])
    batch_flow.start(tenants, order_zip)
    client.get(url)
    # session, user, memberships, project, count, page of batches
    with django_assert_max_num_queries(6):
        client.get(url)
    for _ in range(5):
        batch_flow.start(tenants, order_zip)
    with django_assert_max_num_queries(6):
        html = client.get(url).content.decode()
    assert html.count("/portal/batches/") == 6


def test_batch_page_costs_the_same_for_any_number_of_rows(
    client, tenants, tmp_path, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    client.force_login(tenants.owner)
    small = batch_flow.check(batch_flow.start(tenants, zip_bytes(batch_data.pairs(tmp_path, 1))))
    big = batch_flow.check(batch_flow.start(tenants, zip_bytes(batch_data.pairs(tmp_path, 4, prefix="x/"))))
    for batch in (small, big):
        with django_capture_on_commit_callbacks(execute=True):
            batch_flow.run_to_ready(batch)
        client.get(batch.get_absolute_url())
        # session, user, memberships, batch, rows with portraits, print files
        with django_assert_max_num_queries(7):
            client.get(batch.get_absolute_url())
        with django_assert_max_num_queries(6):
            client.get(reverse("portal:batch_status", args=[batch.uuid]))


def test_the_project_page_links_to_batches(client, tenants):
    client.force_login(tenants.owner)
    html = client.get(reverse("portal:project_detail", args=["weddings"])).content.decode()
    assert upload_url() in html and reverse("portal:batch_list", args=["weddings"]) in html


def test_staff_see_batches_in_the_back_office(client, tenants, order_zip, make_user):
    batch = batch_flow.check(batch_flow.start(tenants, order_zip))
    client.force_login(make_user("staff", is_staff=True, is_superuser=True))
    listing = client.get(reverse("admin:content_batch_changelist")).content.decode()
    assert "order.zip" in listing or "batch.zip" in listing
    page = client.get(reverse("admin:content_batch_change", args=[batch.pk])).content.decode()
    assert "missing.jpg" in page and "is not in the upload" in page


@pytest.fixture
def back_to_english():
    """Requests in Russian leave Russian active in this thread; later tests expect English."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


def test_pages_and_worker_messages_in_russian(client, tenants, order_zip, back_to_english):
    client.force_login(tenants.owner)
    client.cookies["django_language"] = "ru"
    html = client.get(upload_url(), HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Пакетная загрузка" in html and "Перетащите сюда ZIP" in html
    # The worker writes its findings in the language of the person who uploaded.
    batch = batch_flow.check(batch_flow.start(tenants, order_zip, language="ru"))
    assert batch.rows.get(number=3).errors[0]["text"] == "«missing.jpg» нет в загрузке."
    html = client.get(batch.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "1 заказ можно создать." in html and "Подтвердить и создать портреты" in html
