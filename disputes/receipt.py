"""A small, dependency-free PDF writer for the receipt uploaded as dispute evidence.

Stripe takes dispute evidence as PDF, JPEG or PNG. The output is deterministic (no creation
date, no random ids): the same order gives the same bytes, so a retried upload under the same
idempotency key is the same request.
"""

from __future__ import annotations

LINES_PER_PAGE = 60
FONT_SIZE = 10
LEADING = 12
TOP = 800
LEFT = 50
MAX_LINE = 100


def _escape(text: str) -> bytes:
    # WinAnsi (cp1252) has £ and € at their usual places; anything else becomes "?".
    raw = text.encode("cp1252", errors="replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _wrap(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        line = line.replace("\r", "").replace("\t", " ")
        for part in line.split("\n") or [""]:
            while len(part) > MAX_LINE:
                out.append(part[:MAX_LINE])
                part = part[MAX_LINE:]
            out.append(part)
    return out


def receipt_pdf(*, lines: list[str]) -> bytes:
    """A PDF of A4 pages showing `lines` in Helvetica."""
    wrapped = _wrap(lines) or [""]
    pages = [wrapped[i : i + LINES_PER_PAGE] for i in range(0, len(wrapped), LINES_PER_PAGE)]
    objects: list[bytes] = []
    # 1: catalog, 2: pages, 3: font, then a page and its content stream per page.
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    for index, page in enumerate(pages):
        content_number = 5 + 2 * index
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {content_number} 0 R >>".encode()
        )
        stream = b"BT /F1 %d Tf %d TL %d %d Td\n" % (FONT_SIZE, LEADING, LEFT, TOP)
        stream += b"".join(b"(" + _escape(line) + b") Tj T*\n" for line in page)
        stream += b"ET"
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
