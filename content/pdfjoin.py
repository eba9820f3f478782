"""Join one-page PDFs into one file as they come, with memory bounded by one page.

reportlab, pikepdf and pypdf's writer all keep every page (and every embedded photo) of a
document in memory until it is saved, which for a batch of 500 print sheets with full-resolution
photos is gigabytes. :class:`PdfJoiner` instead copies each page's objects (read by pypdf) to the
output file at once, renumbered, and keeps only their byte offsets for the cross-reference table.
Stream data is copied as stored (no decoding or recompression), so photos are not re-encoded.
"""

from __future__ import annotations

import gc
import io
from typing import BinaryIO

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject, StreamObject


class PdfJoiner:
    def __init__(self, out: BinaryIO):
        self.out = out
        self.offsets: list[int | None] = [None]  # object 0 is the free-list head
        self.pages: list[int] = []
        out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        self.pages_id = self._reserve()

    def _reserve(self) -> int:
        self.offsets.append(None)
        return len(self.offsets) - 1

    def _write(self, number: int, body: bytes) -> None:
        self.offsets[number] = self.out.tell()
        self.out.write(b"%d 0 obj\n" % number)
        self.out.write(body)
        self.out.write(b"\nendobj\n")

    def add(self, pdf: bytes) -> int:
        """Append every page of *pdf*; returns how many pages it had."""
        reader = PdfReader(io.BytesIO(pdf))
        mapping: dict[int, int] = {}
        queue: list[IndirectObject] = []
        for page in reader.pages:
            reference = page.indirect_reference
            number = self._reserve()
            mapping[reference.idnum] = number
            body = {k: v for k, v in page.items() if k != "/Parent"}
            self._write(
                number,
                b"<<"
                + b"".join(self._key(k) + b" " + self._value(v, mapping, queue) for k, v in body.items())
                + b" /Parent %d 0 R>>" % self.pages_id,
            )
            self.pages.append(number)
        while queue:
            reference = queue.pop()
            self._write(mapping[reference.idnum], self._value(reference.get_object(), mapping, queue))
        pages = len(reader.pages)
        # pypdf's reader and page objects refer to each other, so the page's bytes would live
        # until the cyclic collector happens to run: free them now, before the next page comes.
        del reader, page, queue
        gc.collect()
        return pages

    @staticmethod
    def _key(name) -> bytes:
        out = io.BytesIO()
        NameObject(name).write_to_stream(out)
        return out.getvalue()

    def _value(self, obj, mapping: dict[int, int], queue: list) -> bytes:
        if isinstance(obj, IndirectObject):
            if obj.idnum not in mapping:
                mapping[obj.idnum] = self._reserve()
                queue.append(obj)
            return b"%d 0 R" % mapping[obj.idnum]
        if isinstance(obj, StreamObject):
            data = obj._data  # as stored in the file: still compressed, never re-encoded
            entries = {k: v for k, v in obj.items() if k != "/Length"}
            head = b"".join(self._key(k) + b" " + self._value(v, mapping, queue) for k, v in entries.items())
            return b"<<" + head + b" /Length %d>>\nstream\n" % len(data) + data + b"\nendstream"
        if isinstance(obj, DictionaryObject):
            return (
                b"<<" + b"".join(self._key(k) + b" " + self._value(v, mapping, queue) for k, v in obj.items()) + b">>"
            )
        if isinstance(obj, ArrayObject):
            return b"[" + b" ".join(self._value(v, mapping, queue) for v in obj) + b"]"
        out = io.BytesIO()
        obj.write_to_stream(out)
        return out.getvalue()

    def finish(self, *, title: str = "") -> int:
        """Write the page tree, catalogue and cross-reference table; returns the page count."""
        kids = b" ".join(b"%d 0 R" % n for n in self.pages)
        self._write(self.pages_id, b"<</Type /Pages /Kids [%s] /Count %d>>" % (kids, len(self.pages)))
        catalog = self._reserve()
        self._write(catalog, b"<</Type /Catalog /Pages %d 0 R>>" % self.pages_id)
        info = self._reserve()
        title_bytes = title.encode("utf-16-be").hex().upper().encode()
        self._write(info, b"<</Producer (ARV) /Title <FEFF%s>>>" % title_bytes)
        xref = self.out.tell()
        self.out.write(b"xref\n0 %d\n0000000000 65535 f \n" % len(self.offsets))
        for offset in self.offsets[1:]:
            self.out.write(b"%010d 00000 n \n" % (offset or 0))
        self.out.write(
            b"trailer\n<</Size %d /Root %d 0 R /Info %d 0 R>>\nstartxref\n%d\n%%%%EOF\n"
            % (len(self.offsets), catalog, info, xref)
        )
        return len(self.pages)
