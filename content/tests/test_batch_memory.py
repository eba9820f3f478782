"""A 2 GB batch goes through the web request and the worker's check with bounded memory.

The archive is built on the fly as a sparse file (its zero-filled videos take no disk space) and
sent through Django's real WSGI handler as a streamed body, to the API upload; then the worker's
check unpacks every byte of it. Two measures, each with a wide margin so the test cannot fail by
chance: Python allocations (``tracemalloc``, exact), and the process's resident memory sampled
while it works.
"""

import io
import threading
import time
import tracemalloc
import zipfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections

from arv.testing.api import api_key, reset_throttles
from content import batches
from content.models import Batch
from content.tests.batch_data import jpeg_bytes

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

MB = 1024 * 1024
VIDEO_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
VIDEOS, VIDEO_MB = 11, 190  # 2.04 GB in all, each under the 200 MB video limit
PYTHON_BOUND = 64 * MB
RSS_BOUND = 200 * MB


class SparseWriter(io.RawIOBase):
    """A file whose all-zero chunks become holes: gigabytes of zeros cost no disk."""

    def __init__(self, fh):
        self.fh = fh

    def writable(self):
        return True

    def seekable(self):
        return True

    def write(self, data):
        if len(data) >= 4096 and not bytes(data).strip(b"\0"):
            self.fh.seek(len(data), io.SEEK_CUR)
        else:
            self.fh.write(data)
        return len(data)

    def seek(self, offset, whence=io.SEEK_SET):
        return self.fh.seek(offset, whence)

    def tell(self):
        return self.fh.tell()

    def flush(self):
        self.fh.flush()


def sparse_archive(path: Path) -> int:
    with open(path, "wb") as fh, zipfile.ZipFile(SparseWriter(fh), "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("guest.jpg", jpeg_bytes(640, 480))
        names = []
        for i in range(VIDEOS):
            names.append(f"clip{i}.mp4")
            with archive.open(names[-1], "w", force_zip64=True) as member:
                member.write(VIDEO_HEAD)
                zeros = bytes(MB)
                for _ in range(VIDEO_MB):
                    member.write(zeros)
        archive.writestr("orders.csv", "photo,video\nguest.jpg," + "|".join(names) + "\n")
    return path.stat().st_size


def rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


@contextmanager
def measured():
    """Yields a dict filled on exit with the peak Python allocations and the RSS growth."""
    result = {}
    baseline = rss()
    peak = [baseline]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rss())
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    tracemalloc.start()
    sampler.start()
    try:
        yield result
    finally:
        stop.set()
        sampler.join()
        result["python_peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        result["rss_growth"] = peak[0] - baseline


class StreamedBody(io.RawIOBase):
    """A multipart body read from its parts as the server asks for it, never whole in memory."""

    def __init__(self, parts):
        self.parts = iter(parts)
        self.current = io.BytesIO()

    def readable(self):
        return True

    def readinto(self, buffer):
        while True:
            n = self.current.readinto(buffer)
            if n:
                return n
            part = next(self.parts, None)
            if part is None:
                return 0
            self.current = part if hasattr(part, "readinto") else io.BytesIO(part)


def test_a_2gb_archive_streams_through_the_web_and_the_check(tenants, tmp_path, settings):
    archive = tmp_path / "big.zip"
    size = sparse_archive(archive)
    assert size > 2 * 1024 * MB
    token = api_key(tenants.owner)
    reset_throttles(tenants.owner)
    boundary = "arv-boundary-0123456789"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="project"\r\n\r\nweddings\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="archive"; filename="big.zip"\r\n'
        "Content-Type: application/zip\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)  # the temporary upload lands next to the staging
    statuses = []
    with open(archive, "rb") as fh, measured() as web:
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/api/v1/batches/",
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BufferedReader(StreamedBody([head, fh, tail]), 1024 * 1024),
            "CONTENT_TYPE": f"multipart/form-data; boundary={boundary}",
            "CONTENT_LENGTH": str(len(head) + size + len(tail)),
            "HTTP_AUTHORIZATION": f"Token {token}",
        }
        # As Django's test client does: the test's database connection must outlive the request.
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        try:
            response = WSGIHandler()(environ, lambda status, headers: statuses.append(status))
            body = b"".join(response)
            response.close()  # as a WSGI server does: the request's temporary files are released
        finally:
            signals.request_started.connect(close_old_connections)
            signals.request_finished.connect(close_old_connections)
    assert statuses == ["202 Accepted"], body[:500]
    batch = Batch.objects.get()
    assert batch.upload_bytes == size

    with measured() as worker:
        batches.check_batch(batch_id=batch.pk)
    batch.refresh_from_db()
    assert batch.status == "review", batch.error
    row = batch.rows.get()
    # Every video was unpacked in full and checked: zeros are not a video anyone can play.
    assert len(row.errors) == VIDEOS and all("cannot be played" in e["text"] for e in row.errors)
    print(
        f"\n2 GB batch: web peak Python {web['python_peak'] / MB:.1f} MB, RSS +{web['rss_growth'] / MB:.1f} MB; "
        f"check peak Python {worker['python_peak'] / MB:.1f} MB, RSS +{worker['rss_growth'] / MB:.1f} MB"
    )
    assert web["python_peak"] < PYTHON_BOUND and worker["python_peak"] < PYTHON_BOUND
    assert web["rss_growth"] < RSS_BOUND and worker["rss_growth"] < RSS_BOUND
