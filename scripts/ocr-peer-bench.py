#!/usr/bin/env python3
"""The peers of `wendao bench ocr` on the same dev set, scored the same way: RapidOCR
(rapidocr_onnxruntime==1.4.4 on ONNX Runtime, default settings, its own line order) and Tesseract
(`tesseract IMG stdout -l chi_sim+eng`).

    ~/.cache/wendao-ocr-venv/bin/python scripts/ocr-peer-bench.py MANIFEST --engine rapidocr --threads 2
    ~/.cache/wendao-ocr-venv/bin/python scripts/ocr-peer-bench.py MANIFEST --engine tesseract

Prints JSON with the keys `wendao bench ocr` prints. Metrics (same as OCRMetrics in Swift): characters
with whitespace dropped, full-width ASCII folded, Latin lower-cased; character-bigram recall and
precision as multisets; reading order = share of consecutive known lines (first 8 characters found in
the output) that appear in the same order.
"""
import argparse
import json
import os
import resource
import subprocess
import time
from collections import Counter


def normalise(s):
    out = []
    for ch in s:
        if ch.isspace():
            continue
        o = ord(ch)
        if 0xFF01 <= o <= 0xFF5E:
            ch = chr(o - 0xFEE0)
        out.append(ch.lower())
    return out


def score(output, truth):
    def bigrams(c):
        return Counter(c[i] + c[i + 1] for i in range(len(c) - 1))
    o, t = bigrams(normalise(output)), bigrams(normalise(truth))
    hit = sum(min(n, o[k]) for k, n in t.items())
    recall = hit / max(1, sum(t.values()))
    precision = hit / max(1, sum(o.values()))
    flat = "".join(normalise(output))
    pos = []
    for line in truth.split("\n"):
        key = "".join(normalise(line))[:8]
        if len(key) >= 4 and key in flat:
            pos.append(flat.index(key))
    order = 1.0 if len(pos) < 2 else sum(1 for a, b in zip(pos, pos[1:]) if a < b) / (len(pos) - 1)
    return recall, precision, order


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("manifest")
    ap.add_argument("--engine", choices=["rapidocr", "tesseract"], default="rapidocr")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--lang", default="chi_sim+eng")
    a = ap.parse_args()
    base = os.path.dirname(os.path.abspath(a.manifest))
    entries = [json.loads(l) for l in open(a.manifest, encoding="utf-8") if l.strip()]
    if a.engine == "rapidocr":
        from rapidocr_onnxruntime import RapidOCR
        eng = RapidOCR(intra_op_num_threads=a.threads, inter_op_num_threads=1)
        import cv2
    images, total, cpu = [], 0.0, 0.0

    def cpu_now():
        r = resource.getrusage(resource.RUSAGE_SELF)
        c = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime + c.ru_utime + c.ru_stime
    for e in entries:
        path = os.path.join(base, e["image"])
        truth = open(os.path.join(base, e["text"]), encoding="utf-8").read()
        t0 = time.perf_counter()
        if a.engine == "rapidocr":
            img = cv2.imread(path)
            start, c0 = time.perf_counter(), cpu_now()
            res, _ = eng(img)
            total += time.perf_counter() - start
            cpu += cpu_now() - c0
            text = "\n".join(r[1] for r in (res or []))
        else:
            c0 = cpu_now()
            r = subprocess.run(["tesseract", path, "stdout", "-l", a.lang], capture_output=True, text=True,
                               env={**os.environ, "OMP_THREAD_LIMIT": "1"})
            total += time.perf_counter() - t0
            cpu += cpu_now() - c0
            text = r.stdout
        rec, prec, order = score(text, truth)
        images.append({"image": e["image"], "set": e["set"], "recall": rec, "precision": prec, "order": order,
                       "seconds": time.perf_counter() - t0})
    sets = []
    for name in sorted({i["set"] for i in images}):
        s = [i for i in images if i["set"] == name]
        sets.append({"set": name, "images": len(s), **{k: sum(i[k] for i in s) / len(s)
                                                         for k in ("recall", "precision", "order")}})
    print(json.dumps({"engine": a.engine, "threads": a.threads, "sets": sets, "images": images,
                      "pages_per_minute": len(images) / max(total, 1e-9) * 60,
                      "cpu_seconds": cpu, "pages_per_cpu_minute": len(images) / max(cpu, 1e-9) * 60,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}, indent=1))


if __name__ == "__main__":
    main()
