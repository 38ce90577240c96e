#!/usr/bin/env python3
"""Headless Chromium: the image studio's Images and Try-on pages (run by scripts/test.sh).

A fake DashScope on loopback (a task that goes PENDING → SUCCEEDED, a result PNG made here) stands in
for the provider. On the Images page a prompt is generated (the POST answers 202 and the page follows the
task), the picture's JPEG thumbnail appears in the gallery and the record's details (with "Run again");
on the Try-on page a person and a top are uploaded and the result shows beside them. Both pages are checked at desktop size and on a 390×844 phone screen (no sideways
scrolling); screenshots go to $WENDAO_ARTIFACTS. Prints `ok: …`; the first failure prints `FAIL: …`.
"""
import http.server
import json
import os
import socketserver
import struct
import sys
import threading
import zlib

from selenium.webdriver.common.by import By

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browser_test import Browser, check, console_errors, run_test  # noqa: E402


def png(width, height, seed=0):
    """A valid RGB PNG made here (stored deflate, so it is large enough for the try-on checks)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = []
    for y in range(height):
        rows.append(b"\x00" + bytes(v for x in range(width) for v in ((x + seed) % 256, y % 256, (seed * 40) % 256)))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"".join(rows), 0)) + chunk(b"IEND", b""))


RESULT = png(96, 128, seed=40)


class FakeDashScope(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body, kind="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.reply(200, json.dumps({"output": {"task_id": "t-1", "task_status": "PENDING"}}).encode())

    def do_GET(self):
        port = self.server.server_address[1]
        if self.path.startswith("/r/"):
            return self.reply(200, RESULT, "image/png")
        out = {"task_id": "t-1", "task_status": "SUCCEEDED", "results": [{"url": f"http://127.0.0.1:{port}/r/a.png"}],
               "image_url": f"http://127.0.0.1:{port}/r/a.png"}
        self.reply(200, json.dumps({"output": out}).encode())


def no_sideways_scroll(b, what):
    width = b.js("return document.documentElement.scrollWidth;")
    check(width <= 391, f"{what}: no sideways scrolling at 390 px (page is {width} px wide)")


def checks(s):
    fake = socketserver.ThreadingTCPServer(("127.0.0.1", 0), FakeDashScope)
    threading.Thread(target=fake.serve_forever, daemon=True).start()
    s.cleanups.append(fake.shutdown)
    port = fake.server_address[1]
    with open(os.path.join(s.data, "config.yaml"), "w", encoding="utf-8") as f:
        f.write("images:\n  download: { allow: ['127.0.0.1/32'] }\n  poll: { initial: 0.1, max: 0.2 }\n"
                "  public_base_url: http://127.0.0.1:9\n")
    base = s.serve(env={"WENDAO_DASHSCOPE_BASE_URL": f"http://127.0.0.1:{port}/compatible-mode/v1",
                        "DASHSCOPE_API_KEY": "sk-browser-test-0123456789abcdef"})
    b = s.browser = Browser(base)
    d = b.driver
    d.get(base + "/#/images")
    b.wait(lambda _: b.visible('section[data-view="images"]'), "the Images page")
    d.find_element(By.ID, "images-prompt").send_keys("白色背景上的真丝连衣裙，电商主图")
    d.find_element(By.CSS_SELECTOR, "[data-testid=images-submit]").click()
    b.wait(lambda _: d.find_elements(By.CSS_SELECTOR, "#images-grid img[src^='data:image/jpeg']"), "the picture's JPEG thumbnail in the gallery")
    b.wait(lambda _: b.visible("[data-testid=images-detail]"), "the record's details")
    check("白色背景" in b.text("[data-testid=images-detail]"), "the details show the prompt")
    check(d.find_elements(By.CSS_SELECTOR, "[data-testid=image-again]"), "the details offer Run again")
    d.find_element(By.CSS_SELECTOR, "[data-testid=image-share]").click()
    link = b.wait(lambda _: d.find_elements(By.CSS_SELECTOR, "[data-testid=image-share-link] a"), "the share link")[0]
    check("/i/" in link.get_attribute("href"), "the share link points at /i/TOKEN")
    print(f"  screenshot: {b.screenshot('images-desktop.png')}")
    d.set_window_size(390, 844)
    d.execute_script("window.scrollTo(0, 0)")
    no_sideways_scroll(b, "Images page")
    print(f"  screenshot: {b.screenshot('images-phone.png')}")
    d.find_element(By.CSS_SELECTOR, "[data-testid=image-again]").click()
    b.wait(lambda _: len(d.find_elements(By.CSS_SELECTOR, "#images-grid li")) >= 2, "a second record after Run again")
    # Try-on on the phone screen.
    person = os.path.join(s.tmp, "person.png")
    top = os.path.join(s.tmp, "shirt.png")
    with open(person, "wb") as f:
        f.write(png(200, 300, 1))
    with open(top, "wb") as f:
        f.write(png(200, 200, 2))
    b.go("#/tryon", "tryon")
    d.find_element(By.ID, "tryon-person").send_keys(person)
    d.find_element(By.ID, "tryon-top").send_keys(top)
    b.wait(lambda _: d.find_elements(By.CSS_SELECTOR, "#tryon-person-preview img"), "the person's preview")
    d.find_element(By.CSS_SELECTOR, "[data-testid=tryon-submit]").click()
    b.wait(lambda _: d.find_elements(By.CSS_SELECTOR, "#tryon-result img[src^='data:image/png']"), "the try-on result")
    no_sideways_scroll(b, "Try-on page")
    print(f"  screenshot: {b.screenshot('tryon-phone.png')}")
    d.set_window_size(1280, 900)
    print(f"  screenshot: {b.screenshot('tryon-desktop.png')}")
    errors = console_errors(b.drain_console())
    check(not errors, f"no console errors ({errors[:2]})")


def main():
    return run_test("images", "image studio browser test", checks)


if __name__ == "__main__":
    sys.exit(main())
