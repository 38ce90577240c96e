#!/usr/bin/env python3
"""Writes large synthetic documents for `wendao bench loaders` (standard library only).

    python3 scripts/make-bench-docs.py OUT_DIR [--docx-paragraphs 200000] [--xlsx-rows 400000] [--pdf-pages 100]

Produces bench.docx (headings, paragraphs, a table every 50 paragraphs), bench.xlsx (one sheet:
header row + rows of text, numbers, dates, percentages) and, when reportlab is installed, a text PDF
of N pages (bench.pdf). Content is varied pseudo-random Chinese and English logistics wording from a
fixed seed, so runs are repeatable.
"""
import argparse
import os
import random
import zipfile

WORDS_ZH = "快递 包裹 运费 首重 续重 保价 理赔 签收 网点 仓储 冷链 清关 时效 派送 揽收 月结 发票 退货 改址 自提".split()
WORDS_EN = "parcel shipping weight insurance claim delivery warehouse customs route depot invoice return".split()


def sentence(rng):
    zh = "".join(rng.choice(WORDS_ZH) for _ in range(rng.randint(6, 18)))
    en = " ".join(rng.choice(WORDS_EN) for _ in range(rng.randint(3, 9)))
    return f"{zh}，{rng.randint(1, 999)} 元，{en}。"


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def docx(path, paragraphs, rng):
    ct = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          '<Default Extension="xml" ContentType="application/xml"/>'
          '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
    rels = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", ct)
        z.writestr("_rels/.rels", rels)
        with z.open("word/document.xml", "w") as f:
            f.write(b'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>')
            for i in range(paragraphs):
                if i % 200 == 0:
                    f.write(f'<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>第 {i // 200 + 1} 章 运费说明</w:t></w:r></w:p>'.encode())
                if i % 50 == 25:
                    rows = "".join(f"<w:tr><w:tc><w:p><w:r><w:t>{k}-{k + 1}kg</w:t></w:r></w:p></w:tc>"
                                   f"<w:tc><w:p><w:r><w:t>{rng.randint(8, 30)}元</w:t></w:r></w:p></w:tc></w:tr>" for k in range(1, 6))
                    f.write(("<w:tbl><w:tr><w:tc><w:p><w:r><w:t>重量</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>首重</w:t></w:r></w:p></w:tc></w:tr>"
                             + rows + "</w:tbl>").encode())
                f.write(f"<w:p><w:r><w:t>{esc(sentence(rng))}</w:t></w:r></w:p>".encode())
            f.write(b"</w:body></w:document>")


def xlsx(path, rows, rng):
    ct = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          '<Default Extension="xml" ContentType="application/xml"/>'
          '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
          '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
          '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>')
    rels = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
    wb = ('<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
          'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="网点数据" sheetId="1" r:id="rId1"/></sheets></workbook>')
    wbrels = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
              '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
              '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>')
    styles = ('<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
              '<cellXfs count="4"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/><xf numFmtId="4" applyNumberFormat="1"/>'
              '<xf numFmtId="10" applyNumberFormat="1"/></cellXfs></styleSheet>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", ct)
        z.writestr("_rels/.rels", rels)
        z.writestr("xl/workbook.xml", wb)
        z.writestr("xl/_rels/workbook.xml.rels", wbrels)
        z.writestr("xl/styles.xml", styles)
        with z.open("xl/worksheets/sheet1.xml", "w") as f:
            f.write(b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
            f.write('<row r="1"><c r="A1" t="inlineStr"><is><t>网点</t></is></c><c r="B1" t="inlineStr"><is><t>说明</t></is></c>'
                    '<c r="C1" t="inlineStr"><is><t>开业日期</t></is></c><c r="D1" t="inlineStr"><is><t>运费收入</t></is></c>'
                    '<c r="E1" t="inlineStr"><is><t>准时率</t></is></c></row>'.encode())
            for r in range(2, rows + 2):
                f.write((f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>SH-{r:06d}</t></is></c>'
                         f'<c r="B{r}" t="inlineStr"><is><t>{esc(sentence(rng))}</t></is></c>'
                         f'<c r="C{r}" s="1"><v>{rng.randint(40000, 46000)}</v></c>'
                         f'<c r="D{r}" s="2"><v>{rng.randint(1000, 9999999) / 100}</v></c>'
                         f'<c r="E{r}" s="3"><v>{rng.randint(800, 1000) / 1000}</v></c></row>').encode())
            f.write(b"</sheetData></worksheet>")


def pdf(path, pages, rng):
    try:
        from reportlab.lib.pagesizes import A4
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.cidfonts import UnicodeCIDFont
        from reportlab.pdfgen import canvas
    except ImportError:
        print("reportlab not installed: no PDF (pip install reportlab)")
        return
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    c = canvas.Canvas(path, pagesize=A4, invariant=1)
    for p in range(pages):
        c.setFont("STSong-Light", 9)
        c.drawString(50, 810, "迅达快运 基准测试文档")
        c.setFont("STSong-Light", 11)
        y = 780
        for _ in range(40):
            c.drawString(50, y, sentence(rng)[:48])
            y -= 18
        c.setFont("STSong-Light", 9)
        c.drawString(280, 30, f"第 {p + 1} 页")
        c.showPage()
    c.save()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--docx-paragraphs", type=int, default=200000)
    ap.add_argument("--xlsx-rows", type=int, default=400000)
    ap.add_argument("--pdf-pages", type=int, default=100)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = random.Random(20261129)
    docx(os.path.join(a.out, "bench.docx"), a.docx_paragraphs, rng)
    xlsx(os.path.join(a.out, "bench.xlsx"), a.xlsx_rows, rng)
    pdf(os.path.join(a.out, "bench.pdf"), a.pdf_pages, rng)
    for n in sorted(os.listdir(a.out)):
        print(n, os.path.getsize(os.path.join(a.out, n)))


if __name__ == "__main__":
    main()
