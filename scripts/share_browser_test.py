#!/usr/bin/env python3
"""Headless Chromium: a share link and the website widget, from other origins (run by scripts/test.sh).

1. A share link of `客服知识库` is made through the API (admin key) allowing one website origin.
2. A company page on that origin (another port) with a strict CSP of its own embeds the widget with
   one <script> tag; a hostile script on it posts messages into every frame. The visitor opens the
   widget, asks, and gets the cited answer; the posted messages ask nothing.
3. The same page on an origin the link does not allow: the frame is refused (frame-ancestors).
4. The public link opened directly answers; after revocation it says the link no longer works.

Screenshots (desktop and phone) go to $WENDAO_ARTIFACTS. Prints `ok: …` per check; the first
failure prints `FAIL: …` and exits 1.
"""
import http.server
import json
import os
import shutil
import socketserver
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

from selenium.webdriver.common.by import By

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browser_test import Browser, check, run_test  # noqa: E402

KB = "客服知识库"
ADMIN = "admin-" + os.urandom(12).hex()

HOST_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'self' {base}; frame-src {base}">
<title>迅达快运 · 官网</title></head>
<body><h1>迅达快运</h1><p>Welcome to our company site.</p>
<script src="{base}/ui/widget.js" data-wendao-share="{token}" async></script>
<script src="/hostile.js"></script>
</body></html>"""

HOSTILE = """window.__posted = 0;
setInterval(function () {
  for (var i = 0; i < window.frames.length; i++) {
    try { window.frames[i].postMessage({question: 'planted', type: 'ask'}, '*'); window.__posted++; } catch (e) {}
  }
}, 100);"""


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve_folder(files):
    root = tempfile.mkdtemp(prefix="wendao-site-")
    for name, text in files.items():
        with open(os.path.join(root, name), "w", encoding="utf-8") as f:
            f.write(text)
    httpd = socketserver.TCPServer(("127.0.0.1", 0), lambda *a, **k: Quiet(*a, directory=root, **k))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, root


def api(base, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json", "Authorization": "Bearer " + ADMIN})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def open_widget_and_ask(b, question):
    d = b.driver
    button = b.wait(lambda _: d.find_elements(By.CSS_SELECTOR, "button[data-wendao-widget=button]"), "the widget button")[0]
    button.click()
    frame = b.wait(lambda _: d.find_elements(By.CSS_SELECTOR, "iframe[data-wendao-widget=frame]"), "the widget frame")[0]
    d.switch_to.frame(frame)
    b.wait(lambda _: d.find_elements(By.ID, "share-question") and b.visible("#share-question"), "the chat in the frame")
    d.find_element(By.ID, "share-question").send_keys(question)
    d.find_element(By.ID, "share-ask").click()


def checks(s):
    seed = os.path.join(s.tmp, "seed")
    os.makedirs(seed)
    with open(os.path.join(seed, "清关.md"), "w", encoding="utf-8") as f:
        f.write("# 清关\n\n国际快递的清关时间一般为三到五个工作日。\n")
    s.cli("ingest", "--kb", KB, "--create", seed)
    base = s.serve(env={"WENDAO_ADMIN_KEY": ADMIN})
    # The company's site (allowed) and another site (not allowed), each on its own origin.
    allowed, allowed_root = serve_folder({"hostile.js": HOSTILE})
    other, other_root = serve_folder({"hostile.js": HOSTILE})
    sites = [(allowed, allowed_root), (other, other_root)]
    for httpd, root in sites:
        s.cleanups.append(httpd.shutdown)
        s.cleanups.append(lambda root=root: shutil.rmtree(root, ignore_errors=True))
    allowed_origin = f"http://127.0.0.1:{allowed.server_address[1]}"
    status, created = api(base, "POST", "/api/v1/kbs/" + urllib.parse.quote(KB, safe="") + "/shares",
                          {"allowed_origins": [allowed_origin], "per_minute": 30})
    check(status == 201, f"share link created ({status})")
    token = created["token"]
    for httpd, root in sites:
        with open(os.path.join(root, "index.html"), "w", encoding="utf-8") as f:
            f.write(HOST_PAGE.format(base=base, token=token))
    b = s.browser = Browser(base)
    d = b.driver
    # 2. The widget on the allowed site, under a strict CSP, with a hostile script posting messages.
    d.get(allowed_origin + "/index.html")
    open_widget_and_ask(b, "国际快递清关要多久？")
    b.wait(lambda _: "三到五个工作日" in b.text("#share-log"), "the widget's answer")
    check("清关.md" in b.text("#share-log"), "the answer names its source")
    time.sleep(1.0)
    asked = len(d.find_elements(By.CSS_SELECTOR, "#share-log li.msg.user"))
    d.switch_to.default_content()
    posted = b.js("return window.__posted || 0;")
    check(posted > 0 and asked == 1, f"messages posted by the host page ({posted}) asked nothing ({asked} question)")
    print(f"ok: screenshot {b.screenshot('widget-desktop.png')}")
    d.set_window_size(390, 844)
    print(f"ok: screenshot {b.screenshot('widget-phone.png')}")
    d.set_window_size(1280, 900)
    # 3. The same page on an origin the link does not allow: the frame is refused.
    b.drain_console()
    d.get(f"http://127.0.0.1:{other.server_address[1]}/index.html")
    button = b.wait(lambda _: d.find_elements(By.CSS_SELECTOR, "button[data-wendao-widget=button]"), "the widget button")[0]
    button.click()
    frame = b.wait(lambda _: d.find_elements(By.CSS_SELECTOR, "iframe[data-wendao-widget=frame]"), "the frame element")[0]
    time.sleep(1.5)
    d.switch_to.frame(frame)
    inside = d.find_elements(By.ID, "share-question")
    d.switch_to.default_content()
    messages = " ".join(e.get("message", "") for e in b.drain_console())
    check(not inside, "a site the link does not allow cannot show the chat (frame refused)")
    print(f"  console: {messages[:160]}")
    # 4. The public link itself, then revoked.
    d.get(base + "/s/" + token)
    b.wait(lambda _: b.visible("#share-question"), "the public chat page")
    check(KB in b.text("#share-title"), "the public page names the knowledge base")
    d.find_element(By.ID, "share-question").send_keys("国际快递清关要多久？")
    d.find_element(By.ID, "share-ask").click()
    b.wait(lambda _: "三到五个工作日" in b.text("#share-log"), "the public page's answer")
    check(True, "the public link answers")
    status, _ = api(base, "DELETE", "/api/v1/kbs/" + urllib.parse.quote(KB, safe="") + f"/shares/{created['share']['id']}")
    check(status == 204, "the link revoked")
    d.get(base + "/s/" + token)
    body = b.js("return document.body ? document.body.innerText : '';")
    check("三到五" not in body and "not_found" in body, "a revoked link answers 404")


def main():
    return run_test("share", "share and widget browser test", checks)


if __name__ == "__main__":
    sys.exit(main())
