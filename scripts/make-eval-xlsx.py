#!/usr/bin/env python3
"""Writes Tests/Fixtures/eval/testset.xlsx: a small evaluation test set as an Excel workbook (standard library
only), read by the workbench's XLSX test. The first sheet has a header row, shared and inline strings, a number
cell, a boolean cell, an empty row and a second sheet that must be ignored.

Usage: python3 scripts/make-eval-xlsx.py
"""
import os
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests/Fixtures/eval/testset.xlsx")
NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"

shared = ["id", "question", "answers", "answerable", "tags", "q1", "首重收费多少钱？", "12元|十二元", "pricing",
          "q3", "Can I pay with PayPal?", "q2"]


def s(ref, i):
    return f'<c r="{ref}" t="s"><v>{i}</v></c>'


def inline(ref, text):
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


rows = [
    f'<row r="1">{s("A1", 0)}{s("B1", 1)}{s("C1", 2)}{s("D1", 3)}{s("E1", 4)}</row>',
    f'<row r="2">{s("A2", 5)}{s("B2", 6)}{s("C2", 7)}<c r="D2" t="b"><v>1</v></c>{s("E2", 8)}</row>',
    '<row r="3"></row>',
    f'<row r="4">{s("A4", 11)}{inline("B4", "保价费按什么比例收取？")}<c r="C4"><v>1</v></c></row>',
    f'<row r="5">{s("A5", 9)}{s("B5", 10)}<c r="D5" t="b"><v>0</v></c></row>',
]
sheet1 = f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{NS}"><sheetData>{"".join(rows)}</sheetData></worksheet>'
sheet2 = (f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{NS}"><sheetData>'
          f'<row r="1">{inline("A1", "question")}</row><row r="2">{inline("A2", "not a test question")}</row>'
          '</sheetData></worksheet>')
workbook = (f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{NS}" xmlns:r="{REL}"><sheets>'
            '<sheet name="tests" sheetId="1" r:id="rId1"/><sheet name="notes" sheetId="2" r:id="rId2"/></sheets></workbook>')
book_rels = (f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG}">'
             f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>'
             f'<Relationship Id="rId2" Type="{REL}/worksheet" Target="worksheets/sheet2.xml"/>'
             f'<Relationship Id="rIdS" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/></Relationships>')
root_rels = (f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG}">'
             f'<Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
sst = f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{NS}">' + "".join(f"<si><t>{x}</t></si>" for x in shared) + "</sst>"
types = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
         '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
         '<Default Extension="xml" ContentType="application/xml"/></Types>')

os.makedirs(os.path.dirname(OUT), exist_ok=True)
with zipfile.ZipFile(OUT, "w", zipfile.ZIP_DEFLATED) as z:
    for name, text in [("[Content_Types].xml", types), ("_rels/.rels", root_rels), ("xl/workbook.xml", workbook),
                       ("xl/_rels/workbook.xml.rels", book_rels), ("xl/sharedStrings.xml", sst),
                       ("xl/worksheets/sheet1.xml", sheet1), ("xl/worksheets/sheet2.xml", sheet2)]:
        info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, text)
print(OUT)
