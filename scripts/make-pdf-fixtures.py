#!/usr/bin/env python3
"""Generates the small PDF and image fixtures in Tests/Fixtures/pdf/ used by PDFLoaderTests.swift.

Needs: pip install reportlab pillow; fonts-noto-cjk and fonts-dejavu-core (Debian).
Run from the repository root: python3 scripts/make-pdf-fixtures.py
The output is deterministic enough to commit (reportlab is told to use a fixed date and invariant mode).
"""

import io
import os
import re

from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.lib import pdfencrypt
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "pdf")
CJK_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))


def new_canvas(name, **kw):
    c = canvas.Canvas(os.path.join(OUT, name), pagesize=A4, invariant=1, **kw)
    return c


def lines(c, x, y, font, size, texts, leading=None):
    """Draws one string per line, top down; returns the y below the last line."""
    leading = leading or size * 1.5
    c.setFont(font, size)
    for t in texts:
        if t:
            c.drawString(x, y, t)
        y -= leading
    return y


def text_zh_en():
    """Four pages, Chinese and English, a repeated header and a page-number footer."""
    c = new_canvas("text-zh-en.pdf")
    c.setTitle("问道用户手册 Wendao Manual")
    bodies = [
        ("STSong-Light", ["退货政策：签收后七天内可以申请退货，", "运费由买家承担。质量问题除外。", "",
                          "发票在订单完成后开具，电子发票发送到邮箱。"]),
        ("Helvetica", ["The warehouse in Hangzhou ships orders within two busi-", "ness days after payment.", "",
                       "Refunds are returned to the original payment method."]),
        ("STSong-Light", ["仓库地址：杭州市余杭区文一西路。", "营业时间为周一至周五。"]),
        ("Helvetica", ["Contact support by email for damaged parcels.", "Keep the packaging for inspection."]),
    ]
    width, height = A4
    for n, (font, body) in enumerate(bodies, start=1):
        lines(c, 72, height - 50, "STSong-Light", 9, ["问道知识库 · 用户手册"])
        lines(c, 72, height - 120, font, 12, body)
        lines(c, width / 2 - 30, 40, "STSong-Light", 9, [f"第 {n} 页 共 {len(bodies)} 页"])
        c.showPage()
    c.save()


def two_column():
    """One page with two columns: every left-column line must come before every right-column line."""
    c = new_canvas("two-column.pdf")
    _, height = A4
    left = [f"Alpha line {i} of the left column." for i in range(1, 9)]
    right = [f"Omega line {i} of the right column." for i in range(1, 9)]
    lines(c, 60, height - 100, "Helvetica", 10, left, leading=14)
    lines(c, 320, height - 100, "Helvetica", 10, right, leading=14)
    c.showPage()
    c.save()


def table():
    """A heading and a four-row table drawn cell by cell, with grid lines."""
    c = new_canvas("table.pdf")
    _, height = A4
    c.setFont("Helvetica-Bold", 14)
    c.drawString(60, height - 80, "Price list")
    rows = [("SKU", "Name", "Price"), ("A100", "Widget", "12.50"), ("B200", "Gadget", "7.25"),
            ("C300", "Sprocket", "3.10")]
    xs = [60, 200, 340]
    y = height - 120
    for row in rows:
        c.setFont("Helvetica", 11)
        for x, cell in zip(xs, row):
            c.drawString(x + 4, y + 5, cell)
        c.line(60, y, 480, y)
        y -= 22
    c.showPage()
    c.save()


def encrypted():
    c = new_canvas("encrypted-user.pdf",
                   encrypt=pdfencrypt.StandardEncryption("secret", ownerPassword="owner", strength=128))
    lines(c, 72, 700, "Helvetica", 12, ["Secret payroll figures."])
    c.showPage()
    c.save()
    c = new_canvas("encrypted-owner.pdf",
                   encrypt=pdfencrypt.StandardEncryption("", ownerPassword="owner", canCopy=0, canModify=0,
                                                         strength=128))
    lines(c, 72, 700, "Helvetica", 12, ["Owner password only: anyone may open this file."])
    c.showPage()
    c.save()


def render(text_lines, size=(1240, 620), font_px=56):
    """A grayscale picture of the lines, like a 150 dpi scan."""
    img = Image.new("L", size, 255)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(CJK_FONT, font_px)
    y = 60
    for t in text_lines:
        draw.text((60, y), t, font=font, fill=0)
        y += int(font_px * 1.6)
    return img


SCAN_LINES = ["退货政策与发票说明", "仓库发货时间为两天", "Invoice number 2024"]


def scanned_pdf():
    """An image-only page (no text layer at all)."""
    img = render(SCAN_LINES, size=(1654, 2339), font_px=56)
    c = new_canvas("scanned-zh.pdf")
    width, height = A4
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    buf.seek(0)
    c.drawImage(ImageReader(buf), 0, 0, width, height)
    c.showPage()
    c.save()


def images():
    img = render(SCAN_LINES)
    img.save(os.path.join(OUT, "scan.png"), optimize=True)
    img.save(os.path.join(OUT, "scan.jpg"), quality=85)
    first = render(["第一页：退货政策", "Refund policy"], size=(1000, 400))
    second = render(["第二页：发票说明", "Invoice notes"], size=(1000, 400))
    first.save(os.path.join(OUT, "two-pages.tiff"), save_all=True, append_images=[second], compression="tiff_lzw")


def no_unicode_map():
    """English text in a Type3 font with meaningless glyph names and no ToUnicode map.

    The glyph procedures are DejaVu Sans outlines (via fontTools), so the page renders and OCRs normally, but
    the character codes are 1, 2, 3, ... in order of first use: the text layer decodes to garbage.
    """
    from fontTools.pens.basePen import BasePen
    from fontTools.ttLib import TTFont as FTFont

    class PDFPen(BasePen):
        def __init__(self, glyphset):
            super().__init__(glyphset)
            self.ops = []

        def _moveTo(self, p):
            self.ops.append(f"{p[0]:.0f} {p[1]:.0f} m")

        def _lineTo(self, p):
            self.ops.append(f"{p[0]:.0f} {p[1]:.0f} l")

        def _curveToOne(self, a, b, c):
            self.ops.append(f"{a[0]:.0f} {a[1]:.0f} {b[0]:.0f} {b[1]:.0f} {c[0]:.0f} {c[1]:.0f} c")

        def _closePath(self):
            self.ops.append("h")

    font = FTFont(DEJAVU)
    cmap = font.getBestCmap()
    glyphs = font.getGlyphSet()
    text = ["Warehouse refund policy", "Invoices are emailed", "within two days"]
    codes = {}
    for ch in "".join(text):
        if ch not in codes:
            codes[ch] = len(codes) + 1
    procs, widths = {}, []
    for ch, code in codes.items():
        name = cmap[ord(ch)]
        pen = PDFPen(glyphs)
        glyphs[name].draw(pen)
        w = glyphs[name].width
        widths.append(w)
        body = f"{w} 0 d0\n" + "\n".join(pen.ops) + ("\nf" if pen.ops else "")
        procs[code] = body.encode()
    objs = []

    def add(b):
        objs.append(b if isinstance(b, bytes) else b.encode())
        return len(objs)

    add("<< /Type /Catalog /Pages 2 0 R >>")
    add("<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
    add("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> "
        "/Contents 4 0 R >>")
    content = "BT /F1 28 Tf 60 700 Td 34 TL\n"
    for line in text:
        content += "<" + "".join(f"{codes[c]:02X}" for c in line) + "> Tj T*\n"
    content += "ET"
    add(f"<< /Length {len(content)} >>\nstream\n{content}\nendstream")
    n = len(codes)
    first_proc = 7
    diffs = " ".join(f"/Qx{chr(65 + i // 26)}{chr(97 + i % 26)}" for i in range(n))
    charprocs = " ".join(f"/Qx{chr(65 + i // 26)}{chr(97 + i % 26)} {first_proc + i} 0 R" for i in range(n))
    add(f"<< /Type /Font /Subtype /Type3 /FontBBox [-1100 -500 2100 1200] /FontMatrix [0.0005 0 0 0.0005 0 0] "
        f"/CharProcs 6 0 R /Encoding << /Type /Encoding /Differences [1 {diffs}] >> /FirstChar 1 /LastChar {n} "
        f"/Widths [{' '.join(str(w) for w in widths)}] /Resources << >> >>")
    add(f"<< {charprocs} >>")
    for code in range(1, n + 1):
        body = procs[code]
        add(f"<< /Length {len(body)} >>\nstream\n".encode() + body + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, b in enumerate(objs, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + b + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    for o in offsets:
        out += f"{o:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    open(os.path.join(OUT, "no-unicode-map.pdf"), "wb").write(bytes(out))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    text_zh_en()
    two_column()
    table()
    encrypted()
    scanned_pdf()
    images()
    no_unicode_map()
    for f in sorted(os.listdir(OUT)):
        print(f, os.path.getsize(os.path.join(OUT, f)))
