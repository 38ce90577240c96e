#!/usr/bin/env python3
"""Makes the OCR parity fixtures in Tests/Fixtures/ocr once, with RapidOCR's own Python package.

Run in a virtual environment outside the clone:
    python3 -m venv ~/.cache/wendao-ocr-venv
    ~/.cache/wendao-ocr-venv/bin/pip install rapidocr_onnxruntime==1.4.4 onnx
    ~/.cache/wendao-ocr-venv/bin/python scripts/make-ocr-fixtures.py

Writes small files only (the models are never committed):
  page-zh.png        a rendered page of Chinese and English lines (our own text, Noto Sans CJK)
  page-zh.json       RapidOCR 1.4.4's boxes, text and scores for it (the full pipeline, default settings)
  line-N.png         clean single-line crops
  lines.json         RapidOCR's recogniser output for each crop (text and score)
  blank.png          a page with no text
  page-cmyk.jpg, page-16bit.tiff, page-exif6.jpg   the page as CMYK JPEG, 16-bit TIFF, EXIF-rotated JPEG
  wrong-op.onnx      a valid ONNX model using an operator the native runtime does not implement
  preprocessing.json OpenCV's resize of page-zh.png to several sizes (SHA-256 of the RGB bytes) and
                     RapidOCR's unclip (pyclipper) of a few boxes, for the bit-exact preprocessing tests

  page-vertical.png  vertical writing (our own text): a horizontal title over five columns read right to left

`--preprocessing-only` writes preprocessing.json and page-vertical.png alone (the other fixtures stay as
they are).
"""
import hashlib
import json
import os
import sys

import cv2
import numpy as np
import onnx
from onnx import TensorProto, helper
from PIL import Image, ImageDraw, ImageFont
from rapidocr_onnxruntime import RapidOCR

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "ocr")
FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
os.makedirs(OUT, exist_ok=True)

PAGE_LINES = [
    "退货与退款说明",
    "签收后七天内可申请无理由退货。",
    "运费险理赔：SA202601150001",
    "Invoices are issued within 3 days.",
    "客服热线 400-820-5566",
]
CROPS = ["迅达快运全国网点", "Refund policy 2026", "保价费率0.5%，最低2元"]


def render(lines, size, width, pad=24, gap=18):
    font = ImageFont.truetype(FONT, size)
    h = pad * 2 + len(lines) * (size + gap)
    img = Image.new("L", (width, h), 255)
    d = ImageDraw.Draw(img)
    y = pad
    for line in lines:
        d.text((pad, y), line, font=font, fill=0)
        y += size + gap
    return img


def main():
    eng = RapidOCR()
    page = render(PAGE_LINES, 30, 640)
    page_path = os.path.join(OUT, "page-zh.png")
    page.save(page_path, optimize=True)
    res, _ = eng(page_path)
    out = [{"box": [[float(x), float(y)] for x, y in box], "text": text, "score": float(score)}
           for box, text, score in (res or [])]
    with open(os.path.join(OUT, "page-zh.json"), "w", encoding="utf-8") as f:
        json.dump({"engine": "rapidocr_onnxruntime==1.4.4", "lines": out}, f, ensure_ascii=False, indent=1)

    lines = []
    for i, text in enumerate(CROPS):
        img = render([text], 32, 40 + 34 * len(text), pad=8, gap=8)
        path = os.path.join(OUT, f"line-{i}.png")
        img.save(path, optimize=True)
        bgr = cv2.imread(path)
        rec, _ = eng.text_rec([bgr])
        lines.append({"image": f"line-{i}.png", "text": rec[0][0], "score": float(rec[0][1]), "rendered": text})
    with open(os.path.join(OUT, "lines.json"), "w", encoding="utf-8") as f:
        json.dump({"engine": "rapidocr_onnxruntime==1.4.4", "lines": lines}, f, ensure_ascii=False, indent=1)

    Image.new("L", (400, 300), 255).save(os.path.join(OUT, "blank.png"), optimize=True)

    # The same page as a CMYK JPEG, a 16-bit greyscale TIFF, and a JPEG stored turned 90° counter-clockwise
    # with EXIF orientation 6 (shown upright after turning it clockwise).
    page.convert("CMYK").save(os.path.join(OUT, "page-cmyk.jpg"), quality=90)
    Image.fromarray((np.asarray(page).astype(np.uint16) * 257)).save(
        os.path.join(OUT, "page-16bit.tiff"), compression="tiff_adobe_deflate")
    exif = Image.Exif()
    exif[0x0112] = 6
    page.rotate(90, expand=True).save(os.path.join(OUT, "page-exif6.jpg"), quality=90, exif=exif)

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])
    node = helper.make_node("Einsum", ["x"], ["y"], equation="ij->ij")
    model = helper.make_model(helper.make_graph([node], "wrong", [x], [y]))
    onnx.save(model, os.path.join(OUT, "wrong-op.onnx"))
    print("wrote", OUT)


def preprocessing():
    """OpenCV's INTER_LINEAR resize and RapidOCR's unclip on fixed inputs, as the tests' expectations."""
    from rapidocr_onnxruntime.ch_ppocr_det.utils import DBPostProcess

    page = cv2.imread(os.path.join(OUT, "page-zh.png"))
    h, w = page.shape[:2]
    sizes = [(w * 2 - 7, h * 2 + 5), (w // 2, h // 2), (1120, 736), (517, 333), (97, 48), (w, 48), (13, 7)]
    resizes = []
    for ow, oh in sizes:
        rgb = np.ascontiguousarray(cv2.resize(page, (ow, oh))[:, :, ::-1])
        resizes.append({"width": ow, "height": oh, "sha256": hashlib.sha256(rgb.tobytes()).hexdigest()})
    post = DBPostProcess(thresh=0.3, box_thresh=0.5, unclip_ratio=1.6, use_dilation=True)
    boxes = [
        [[94, 318], [142, 318], [142, 336], [94, 336]],
        [[121.0, 1204.9999], [648.9999, 1204.9999], [648.9999, 1215.9999], [121.0, 1215.9999]],
        [[10.5, 20.25], [200.75, 31.5], [199.0, 60.125], [8.75, 48.875]],
        [[300.2, 40.7], [320.9, 38.1], [330.4, 240.6], [309.8, 243.3]],
        [[5, 5], [9, 5], [9, 8], [5, 8]],
    ]
    unclips = []
    for box in boxes:
        b = np.array(box, dtype=np.float32)
        expanded = post.unclip(b).reshape((-1, 1, 2))
        mini, sside = post.get_mini_boxes(expanded)
        unclips.append({"box": [[float(x), float(y)] for x, y in b], "expanded": expanded.reshape(-1, 2).tolist(),
                        "mini_box": np.array(mini).tolist(), "short_side": float(sside)})
    with open(os.path.join(OUT, "preprocessing.json"), "w", encoding="utf-8") as f:
        json.dump({"opencv": cv2.__version__, "engine": "rapidocr_onnxruntime==1.4.4", "resize": resizes,
                   "unclip": unclips}, f, indent=1)
    print("wrote", os.path.join(OUT, "preprocessing.json"))


VERTICAL_TITLE = "迅达快运生鲜寄递须知"
VERTICAL_COLUMNS = ["冷链包裹请在寄件时注明", "生鲜类物品需使用保温箱", "签收时请当面检查外包装", "破损请拍照并联系客服",
                    "理赔须在七日内提出申请"]


def vertical(size=30):
    """A page of vertical writing: the title across the top, then columns of upright characters from the right."""
    font = ImageFont.truetype(FONT, size)
    step, advance = int(size * 1.8), int(size * 1.15)
    top = 40 + int(size * 1.6)
    width = len(VERTICAL_COLUMNS) * step + 120
    height = max(len(c) for c in VERTICAL_COLUMNS) * advance + top + 60
    img = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(img)
    draw.text((60, 30), VERTICAL_TITLE, font=ImageFont.truetype(FONT, int(size * 0.9)), fill=0)
    for i, column in enumerate(VERTICAL_COLUMNS):
        x = width - 60 - (i + 1) * step + int(size * 0.4)
        for j, ch in enumerate(column):
            draw.text((x, top + j * advance), ch, font=font, fill=0)
    img.save(os.path.join(OUT, "page-vertical.png"), optimize=True)


if __name__ == "__main__":
    if "--preprocessing-only" not in sys.argv:
        main()
    preprocessing()
    vertical()
