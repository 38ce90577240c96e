#!/usr/bin/env python3
"""Headless Chromium against a local `wendao serve` as a user and as an attacker (run by scripts/test.sh).

1. A knowledge base with a Chinese name, used entirely through the web UI: created on the
   knowledge-bases page, a file uploaded on its documents page, a question asked in the chat.
2. A cross-origin attacker page on another loopback origin (a second port) that the user visits
   while the open local server runs: it tries to create a knowledge base with a text/plain POST,
   to post a form, to upload a file with multipart/form-data, to delete a knowledge base, and to
   read the API. Afterwards the server's state is unchanged and no answer was readable.
3. DNS rebinding: Chromium resolves `rebind.test` to 127.0.0.1 (--host-resolver-rules); a page of
   that origin cannot load the UI or read the API (the server refuses the Host name).

Screenshots go to $WENDAO_ARTIFACTS (default /tmp/wendao-artifacts). Prints `ok: …` per check;
the first failure prints `FAIL: …` and exits 1. Environment as for browser_test.py.
"""
import http.server
import json
import os
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browser_test import ARTIFACTS, BIN, Browser, check, console_errors, free_port, stop, wait_ready  # noqa: E402

KB = "客服知识库"
FACT = "国际快递的清关时间一般为三到五个工作日。"


def api(base, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def chinese_name_checks(b, base, tmp):
    d = b.driver
    b.go("#/kbs", "kbs")
    name_input = b.wait(lambda _: d.find_elements(By.ID, "kb-name"), "the create form on the knowledge-bases page")[0]
    name_input.send_keys(KB)
    d.find_element(By.ID, "kb-create").click()
    b.wait(lambda _: any(KB in a.text for a in d.find_elements(By.CSS_SELECTOR, "a.kb-name")),
           f"{KB} listed on the knowledge-bases page")
    check(True, f"{KB} created in the UI")
    def open_kb(_):
        # The list may be re-rendered between finding the link and clicking it: try again then.
        try:
            d.find_element(By.XPATH, f"//a[contains(@class,'kb-name') and normalize-space()='{KB}']").click()
            return True
        except StaleElementReferenceException:
            return False
    b.wait(open_kb, f"the link to {KB}")
    b.wait(lambda _: b.visible('section[data-view="docs"]'), f"the documents page of {KB}")
    path = os.path.join(tmp, "国际快递.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write("# 国际快递\n\n" + FACT + "\n")
    d.find_element(By.ID, "file-input").send_keys(path)
    b.wait(lambda _: any("国际快递.md" in r.text for r in d.find_elements(By.CSS_SELECTOR, "#docs-table tbody tr")),
           f"the upload listed in {KB}'s documents table")
    check(True, f"a file uploaded into {KB} through the UI")
    b.go("#/chat", "chat")
    b.wait(lambda _: KB in [o.get_attribute("value") for o in d.find_elements(By.CSS_SELECTOR, "#kb-select option")],
           f"{KB} in the chat's knowledge-base select")
    d.execute_script("const s = document.getElementById('kb-select'); s.value = arguments[0];"
                     "s.dispatchEvent(new Event('change'));", KB)
    d.find_element(By.ID, "question").send_keys("国际快递清关要多久？")
    d.find_element(By.ID, "ask").click()
    b.wait(lambda _: "三到五个工作日" in b.text("#answer"), "the answer from the Chinese-named knowledge base")
    check(True, f"{KB} answers in the chat: {b.text('#answer')[:60]}")
    errors = console_errors(b.drain_console())
    check(not errors, "no console error with the Chinese-named knowledge base" + (": " + " | ".join(errors) if errors else ""))
    print(f"ok: screenshot {b.screenshot('ui-chinese-name.png')}")


ATTACK = """<!doctype html><meta charset="utf-8"><title>cute cats</title>
<form id="f" method="POST" action="{base}/api/v1/kbs" enctype="text/plain" target="sink">
<input name='{{"name":"planted-form","x":"' value='"}}'></form>
<iframe name="sink"></iframe>
<script>
const base = {base_json};
const results = [];
async function attempt(what, p) {{
  try {{ const r = await p; results.push(what + ': status ' + r.status + ' type ' + r.type); }}
  catch (e) {{ results.push(what + ': blocked ' + e); }}
}}
(async () => {{
  await attempt('text/plain create', fetch(base + '/api/v1/kbs', {{method: 'POST', mode: 'no-cors',
      headers: {{'Content-Type': 'text/plain'}}, body: JSON.stringify({{name: 'planted-text'}})}}));
  await attempt('json create (cors)', fetch(base + '/api/v1/kbs', {{method: 'POST',
      headers: {{'Content-Type': 'application/json'}}, body: JSON.stringify({{name: 'planted-json'}})}}));
  const fd = new FormData();
  fd.append('file', new Blob(['# planted\\n\\nplanted text'], {{type: 'text/markdown'}}), 'planted.md');
  await attempt('multipart upload', fetch(base + '/api/v1/kbs/victim/documents', {{method: 'POST', mode: 'no-cors', body: fd}}));
  await attempt('delete', fetch(base + '/api/v1/kbs/victim', {{method: 'DELETE', mode: 'no-cors'}}));
  let read = 'nothing';
  try {{ const r = await fetch(base + '/api/v1/kbs'); read = await r.text(); }} catch (e) {{ read = 'blocked'; }}
  results.push('read: ' + read.slice(0, 200));
  document.getElementById('f').submit();
  await new Promise(r => setTimeout(r, 1500));
  window.__done = results;
}})();
</script>"""


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve_attacker(page):
    root = tempfile.mkdtemp(prefix="wendao-attacker-")
    with open(os.path.join(root, "index.html"), "w", encoding="utf-8") as f:
        f.write(page)
    handler = lambda *a, **k: QuietHandler(*a, directory=root, **k)  # noqa: E731
    httpd = socketserver.TCPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, root


def attacker_checks(b, base):
    status, before = api(base, "GET", "/api/v1/kbs")
    names_before = sorted(k["name"] for k in before["knowledge_bases"])
    # The attacker is another origin on this machine: localhost on another port (same site!).
    page = ATTACK.format(base=base, base_json=json.dumps(base))
    httpd, root = serve_attacker(page)
    try:
        attacker = f"http://localhost:{httpd.server_address[1]}/index.html"
        b.driver.get(attacker)
        results = b.wait(lambda _: b.js("return window.__done || null;"), "the attacker page to finish", timeout=30)
        for r in results:
            print(f"  attacker: {r}")
        read = [r for r in results if r.startswith("read: ")][0]
        check("victim" not in read and "knowledge_bases" not in read, "the attacker page could not read the API")
        print(f"ok: screenshot {b.screenshot('attacker-page.png')}")
    finally:
        httpd.shutdown()
        shutil.rmtree(root, ignore_errors=True)
    time.sleep(1)
    status, after = api(base, "GET", "/api/v1/kbs")
    names_after = sorted(k["name"] for k in after["knowledge_bases"])
    check(names_after == names_before, f"no knowledge base created or deleted by the attacker page ({names_after})")
    _, docs = api(base, "GET", "/api/v1/kbs/victim/documents")
    check(len(docs["documents"]) == 1, "no document uploaded into victim by the attacker page")


def rebinding_checks(b, port):
    d = b.driver
    d.get(f"http://rebind.test:{port}/")
    body = b.js("return document.body ? document.body.innerText : '';")
    check("Wendao" not in (d.title or "") and not d.find_elements(By.ID, "kb-select"),
          f"the UI does not load under a rebinding host name ({body[:60]!r})")
    d.get(f"http://rebind.test:{port}/api/v1/kbs")
    body = b.js("return document.body ? document.body.innerText : '';")
    check("victim" not in body and "host_not_allowed" in body, "the API answers a rebinding host name with host_not_allowed")


def main():
    started = time.monotonic()
    data = tempfile.mkdtemp(prefix="wendao-xorigin-")
    tmp = tempfile.mkdtemp(prefix="wendao-xorigin-files-")
    server = browser = None
    log = open(os.path.join(tmp, "server.log"), "w")
    code = 0
    try:
        seed = os.path.join(tmp, "seed")
        os.makedirs(seed)
        with open(os.path.join(seed, "hours.md"), "w", encoding="utf-8") as f:
            f.write("# Hours\n\nThe depot opens at 8 am.\n")
        subprocess.run([BIN, "ingest", "--kb", "victim", "--create", seed, "--data", data],
                       capture_output=True, text=True, check=True)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([BIN, "serve", "--port", str(port), "--data", data],
                                  env=dict(os.environ, WENDAO_LOG_LEVEL="warning"),
                                  stdout=subprocess.DEVNULL, stderr=log)
        wait_ready(base, server)
        print(f"ok: server ready at {base}")
        browser = Browser(base, extra_args=(f"--host-resolver-rules=MAP rebind.test 127.0.0.1",))
        browser.driver.get(base + "/#/kbs")
        chinese_name_checks(browser, base, tmp)
        attacker_checks(browser, base)
        rebinding_checks(browser, port)
    except subprocess.CalledProcessError as e:
        print(f"FAIL: {' '.join(map(str, e.cmd[:3]))} exited {e.returncode}: {e.stderr.strip()[-2000:]}", file=sys.stderr)
        code = 1
    except Exception as e:  # noqa: BLE001 - any failure ends the test with its reason
        print(f"FAIL: {type(e).__name__}: {e}", file=sys.stderr)
        code = 1
        if browser is not None:
            try:
                print(f"  screenshot: {browser.screenshot('cross-origin-failure.png')}", file=sys.stderr)
            except Exception:
                pass
        log.flush()
        with open(os.path.join(tmp, "server.log"), encoding="utf-8", errors="replace") as f:
            tail = f.read()[-3000:]
        if tail.strip():
            print("  server log (end):\n" + tail, file=sys.stderr)
    finally:
        stop(browser, server)
        log.close()
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
    if code == 0:
        print(f"ok: cross-origin test passed in {time.monotonic() - started:.1f} s (screenshots in {ARTIFACTS})")
    return code


if __name__ == "__main__":
    sys.exit(main())
