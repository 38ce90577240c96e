#!/usr/bin/env python3
"""Makes the OCR dev set for `wendao bench ocr` and scripts/ocr-peer-bench.py.

Every image is rendered from text in Samples/logistics (fictional documents written for Wendao, so the
known text is exact and the licence is the repository's), with Debian's Noto Sans CJK and DejaVu fonts;
some are then degraded to look photographed or scanned. Nothing here is a real-world document: the
issue's "real documents we did not make" were not available offline (see BENCHMARKS.md).

Sets:
  zh-clean   3 Chinese A4 pages at 150 dpi, clean renders (like a born-digital page printed to image)
  zh-photo   the same 3 pages warped in perspective, tilted 2-3°, blurred, unevenly lit, JPEG quality 70
  zh-slide   2 slides, 1280×720, coloured gradient background, title and bullets
  en-scan    2 dense English pages in two columns (DejaVu Serif), 200 dpi, noise and a 0.6° skew
  table      1 price table (grid lines, Chinese and digits)

Usage: python scripts/ocr-devset.py OUT_DIR   (needs Pillow and numpy; deterministic: fixed seeds)
Writes OUT_DIR/manifest.jsonl with {"image", "text", "set"} and one .txt of known text per image, one
rendered line per line, in reading order.
"""
import json
import os
import random
import re
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Samples", "logistics")
CJK = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
CJK_BOLD = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"
SERIF = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"


def clean_lines(path, limit):
    out = []
    for line in open(os.path.join(ROOT, path), encoding="utf-8"):
        line = re.sub(r"[#*`>|]", "", line).strip()
        line = re.sub(r"^- ", "", line)
        line = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line)
        if line and not set(line) <= set("-: "):
            out.append(line)
        if len(out) >= limit:
            break
    return out


def wrap(draw, text, font, width):
    """Greedy wrap by characters (CJK) or words (Latin)."""
    lines, cur = [], ""
    tokens = re.findall(r"[A-Za-z0-9.,;:'’()%/\-]+ ?|.", text)
    for t in tokens:
        if draw.textlength(cur + t, font=font) > width and cur:
            lines.append(cur.rstrip())
            cur = t.lstrip()
        else:
            cur += t
    if cur.strip():
        lines.append(cur.rstrip())
    return lines


def page(paragraphs, size=(1240, 1754), font_size=26, margin=110, title=None):
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.truetype(CJK, font_size)
    truth = []
    y = margin
    if title:
        tf = ImageFont.truetype(CJK_BOLD, font_size + 10)
        d.text((margin, y), title, font=tf, fill="black")
        truth.append(title)
        y += font_size * 2 + 20
    for p in paragraphs:
        for line in wrap(d, p, font, size[0] - 2 * margin):
            if y > size[1] - margin - font_size:
                return img, truth
            d.text((margin, y), line, font=font, fill="black")
            truth.append(line)
            y += int(font_size * 1.7)
        y += font_size // 2
    return img, truth


def photo(img, seed):
    rnd = random.Random(seed)
    w, h = img.size
    img = img.rotate(rnd.uniform(2, 3) * rnd.choice([-1, 1]), expand=True, fillcolor=(200, 200, 195),
                     resample=Image.BICUBIC)
    w, h = img.size
    dx, dy = w * 0.04, h * 0.03
    quad = (rnd.uniform(0, dx), rnd.uniform(0, dy), rnd.uniform(0, dx), h - rnd.uniform(0, dy),
            w - rnd.uniform(0, dx), h - rnd.uniform(0, dy), w - rnd.uniform(0, dx), rnd.uniform(0, dy))
    img = img.transform((w, h), Image.QUAD, quad, resample=Image.BICUBIC, fillcolor=(120, 110, 100))
    a = np.asarray(img).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    light = 0.75 + 0.25 * np.cos((xx / w - 0.3) * 2.2) * np.cos((yy / h - 0.4) * 1.8)
    a = a * light[..., None] + np.random.default_rng(seed).normal(0, 6, a.shape)
    img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.1))
    return img


def slide(title, bullets, seed):
    w, h = 1280, 720
    rnd = random.Random(seed)
    top = np.array([rnd.randint(20, 60), rnd.randint(60, 110), rnd.randint(120, 170)], np.float32)
    bottom = top * 0.35
    t = np.linspace(0, 1, h)[:, None, None]
    a = (top * (1 - t) + bottom * t) * np.ones((h, w, 3), np.float32)
    img = Image.fromarray(a.astype(np.uint8))
    d = ImageDraw.Draw(img)
    tf = ImageFont.truetype(CJK_BOLD, 54)
    bf = ImageFont.truetype(CJK, 34)
    d.text((80, 70), title, font=tf, fill=(255, 255, 255))
    truth = [title]
    y = 200
    for b in bullets:
        for line in wrap(d, b, bf, w - 220):
            d.text((120, y), line, font=bf, fill=(235, 240, 250))
            truth.append(line)
            y += 58
        y += 14
        if y > h - 80:
            break
    return img, truth


def two_columns(paragraphs, seed):
    w, h = 1654, 2339
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.truetype(SERIF, 27)
    margin, gutter = 130, 70
    colw = (w - 2 * margin - gutter) // 2
    truth = []
    col, y = 0, margin
    for p in paragraphs:
        # DejaVu has no Chinese: drop the Chinese names ("Express 特快" → "Express").
        p = re.sub(r"\s+", " ", re.sub(r"\(?[\u3000-\u9fff\uff00-\uffef]+\)?", "", p)).strip()
        if not p:
            continue
        for line in wrap(d, p, font, colw):
            if y > h - margin - 30:
                col += 1
                y = margin
                if col == 2:
                    break
            d.text((margin + col * (colw + gutter), y), line, font=font, fill="black")
            truth.append(line)
            y += 40
        if col == 2:
            break
        y += 16
    a = np.asarray(img.rotate(0.6, resample=Image.BICUBIC, fillcolor="white")).astype(np.float32)
    a += np.random.default_rng(seed).normal(0, 10, a.shape)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).convert("L"), truth


def table():
    rows = [l.split(",") for l in open(os.path.join(ROOT, "pricing/price-zones.csv"), encoding="utf-8")
            .read().strip().split("\n")[:9]]
    font = ImageFont.truetype(CJK, 24)
    cols = len(rows[0])
    widths = [max(ImageDraw.Draw(Image.new("RGB", (1, 1))).textlength(r[c], font=font) for r in rows if c < len(r)) + 40
              for c in range(cols)]
    w, h = int(sum(widths)) + 80, 60 + 48 * len(rows) + 40
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    truth = []
    y = 60
    for r in rows:
        x = 40
        for c in range(cols):
            d.rectangle([x, y, x + widths[c], y + 48], outline="black")
            if c < len(r):
                d.text((x + 20, y + 10), r[c], font=font, fill="black")
            x += widths[c]
        truth.append(" ".join(r))
        y += 48
    return img, truth


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    manifest = []

    def save(img, truth, name, kind, **kw):
        img.save(os.path.join(out, name), **kw)
        with open(os.path.join(out, name.rsplit(".", 1)[0] + ".txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(truth) + "\n")
        manifest.append({"image": name, "text": name.rsplit(".", 1)[0] + ".txt", "set": kind})

    sources = [("policies/保价服务说明.md", "保价服务说明"), ("policies/签收规则.txt", "签收规则"),
               ("faq/常见问题-寄件篇.md", "常见问题（寄件篇）")]
    for i, (path, title) in enumerate(sources):
        img, truth = page(clean_lines(path, 40)[1:], title=title)
        save(img, truth, f"zh-clean-{i}.png", "zh-clean", optimize=True)
        save(photo(img, i), truth, f"zh-photo-{i}.jpg", "zh-photo", quality=70)
    for i, path in enumerate(["policies/锂电池寄递须知.md", "policies/包装规范.md"]):
        lines = clean_lines(path, 8)
        img, truth = slide(lines[0], lines[1:6], i)
        save(img, truth, f"zh-slide-{i}.png", "zh-slide", optimize=True)
    for i, path in enumerate(["en/shipping-guide-en.md", "en/claims-policy-en.md"]):
        img, truth = two_columns(clean_lines(path, 80), i)
        save(img, truth, f"en-scan-{i}.png", "en-scan", optimize=True)
    img, truth = table()
    save(img, truth, "table-0.png", "table", optimize=True)
    with open(os.path.join(out, "manifest.jsonl"), "w", encoding="utf-8") as f:
        for m in manifest:
            f.write(json.dumps(m, ensure_ascii=False) + "\n")
    print(f"{len(manifest)} images in {out}")


if __name__ == "__main__":
    main()
