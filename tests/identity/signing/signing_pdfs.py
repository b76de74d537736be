"""Small PDFs for the signature tests, written with pyHanko's own PDF writer."""

from __future__ import annotations

import io

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.writer import PdfFileWriter


def one_page_pdf(text: str = "Ket qua giai quyet thu tuc hanh chinh") -> bytes:
    writer = PdfFileWriter()
    font = writer.add_object(generic.DictionaryObject({
        generic.pdf_name("/Type"): generic.pdf_name("/Font"),
        generic.pdf_name("/Subtype"): generic.pdf_name("/Type1"),
        generic.pdf_name("/BaseFont"): generic.pdf_name("/Helvetica"),
    }))
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    content = generic.StreamObject(stream_data=f"BT /F1 14 Tf 72 720 Td ({escaped}) Tj ET".encode("latin-1"))
    page = generic.DictionaryObject({
        generic.pdf_name("/Type"): generic.pdf_name("/Page"),
        generic.pdf_name("/MediaBox"): generic.ArrayObject(list(map(generic.NumberObject, (0, 0, 595, 842)))),
        generic.pdf_name("/Resources"): generic.DictionaryObject({
            generic.pdf_name("/Font"): generic.DictionaryObject({generic.pdf_name("/F1"): font}),
        }),
        generic.pdf_name("/Contents"): writer.add_object(content),
    })
    writer.insert_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
