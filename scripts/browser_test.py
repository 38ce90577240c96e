#!/usr/bin/env python3
"""The web UI in a real browser: headless Chromium driven by Selenium (run by scripts/test.sh).

Starts `wendao serve` on a free loopback port over a fresh data directory holding the sample
knowledge base (no keys: a loopback server is open), then, in the browser:
- chat: asks a question, waits for the streamed answer and its citations, opens the first citation
  and checks the source panel shows the cited document with the cited passage highlighted;
- documents: uploads a Markdown file through the file input and waits until its ingest job has
  finished and the documents table lists it; uploads an empty file and checks its own error shows;
- conversations: the answer is kept — after a reload the history sidebar lists it, reopening it
  shows the question and the cited answer, a follow-up continues the same conversation, thumbs down
  with a note is stored, and the log page's "thumbs down" filter shows it with a CSV link of the
  same filter (also in Chinese); screenshots at desktop and 390 px phone width (sidebar collapsed
  and open, the log without horizontal scrolling); deleting it from the sidebar deletes it (404);
- search: the uploaded document comes first, with a score;
- document page: opens the uploaded document from the documents table, edits its chunk, and search
  finds the new text (and no longer the old); screenshots at desktop and phone (390 px) width;
- correction: "Correct" under an answer saves a curated answer; asking again in other words is
  answered with it, cited as a curated answer; the documents page lists it;
- language: the toggle switches the interface labels between English and Chinese and back;
- XSS: a question with HTML in it is shown as text (no element made from it, no alert);
- the browser console has no error and the page had no Content-Security-Policy violation.
Screenshots go to $WENDAO_ARTIFACTS (default /tmp/wendao-artifacts). Each passed check prints
`ok: …`; the first failure prints `FAIL: …` (with a screenshot and the console) and exits 1.

Environment: WENDAO_BIN (the wendao binary), CHROMIUM (default /usr/bin/chromium), CHROMEDRIVER
(default /usr/bin/chromedriver), WENDAO_ARTIFACTS.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.common.exceptions import NoAlertPresentException, TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

BIN = os.environ.get("WENDAO_BIN", ".build/debug/wendao")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARTIFACTS = os.environ.get("WENDAO_ARTIFACTS") or "/tmp/wendao-artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
WAIT = 20  # seconds, the most any one wait may take

QUESTION = "包裹丢了最多赔多少钱？"
FACT = "冷藏件的温度保持在2到8摄氏度之间。"
XSS = "<img src=x onerror=alert(1)>"

# Runs before the page's own scripts: records CSP violations and any alert() call, so the checks
# do not depend on console wording alone.
HOOKS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sourceFile || ''));
});
window.__alerts = [];
(function () {
  var original = window.alert;
  window.alert = function (m) { window.__alerts.push(String(m)); return original.apply(window, arguments); };
})();
"""


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)
    print(f"ok: {what}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(base, server):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise Failure(f"the server exited at start-up (exit {server.returncode})")
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=1) as r:
                if r.status == 200:
                    return
        except Exception:
            time.sleep(0.1)
    raise Failure("the server was not ready within 60 s")


def stop(browser, server):
    """Quits the browser and stops the server (SIGTERM, then SIGKILL after 20 s); the server's exit
    code, or a string saying it was killed."""
    if browser is not None:
        try:
            browser.driver.quit()
        except Exception:
            pass
    if server is None:
        return 0
    server.terminate()
    try:
        return server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
        return "killed after 20 s"


class Session:
    """What one browser test run holds: a data directory, a scratch folder, the server's log, and the
    server and browser once started (see `run_test`)."""

    def __init__(self, prefix):
        self.data = tempfile.mkdtemp(prefix=f"wendao-{prefix}-")
        self.tmp = tempfile.mkdtemp(prefix=f"wendao-{prefix}-files-")
        self.log_path = os.path.join(self.tmp, "server.log")
        self.log = open(self.log_path, "w")
        self.server = None
        self.browser = None
        self.cleanups = []

    def cli(self, *args, stdin=None):
        """Runs `wendao ARGS --data DATA` (raising on failure)."""
        return subprocess.run([BIN, *args, "--data", self.data], input=stdin, capture_output=True, text=True, check=True)

    def serve(self, env=None):
        """Starts `wendao serve` on a free port; returns its base URL once ready."""
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        self.server = subprocess.Popen([BIN, "serve", "--port", str(port), "--data", self.data],
                                       env=dict(os.environ, WENDAO_LOG_LEVEL="warning", **(env or {})),
                                       stdout=subprocess.DEVNULL, stderr=self.log)
        wait_ready(base, self.server)
        return base

    def server_log(self):
        self.log.flush()
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()


def run_test(prefix, what, body):
    """Runs `body(session)`, reporting the first failure (with a screenshot and the end of the
    server's log) and always stopping the browser and the server and removing the folders. Returns
    the exit code."""
    started = time.monotonic()
    s = Session(prefix)
    code = 0
    try:
        body(s)
    except subprocess.CalledProcessError as e:
        print(f"FAIL: {' '.join(map(str, e.cmd[:3]))} exited {e.returncode}: {e.stderr.strip()[-2000:]}", file=sys.stderr)
        code = 1
    except Exception as e:  # noqa: BLE001 - any failure ends the test with its reason
        print(f"FAIL: {type(e).__name__}: {e}", file=sys.stderr)
        code = 1
        if s.browser is not None:
            try:
                s.browser.driver.switch_to.default_content()
                print(f"  screenshot: {s.browser.screenshot(prefix + '-failure.png')}", file=sys.stderr)
            except Exception:
                pass
        tail = s.server_log()[-3000:]
        if tail.strip():
            print("  server log (end):\n" + tail, file=sys.stderr)
    finally:
        stop(s.browser, s.server)
        for cleanup in s.cleanups:
            try:
                cleanup()
            except Exception:
                pass
        s.log.close()
        shutil.rmtree(s.data, ignore_errors=True)
        shutil.rmtree(s.tmp, ignore_errors=True)
    if code == 0:
        print(f"ok: {what} passed in {time.monotonic() - started:.1f} s (screenshots in {ARTIFACTS})")
    return code


class Browser:
    def __init__(self, base, extra_args=()):
        self.base = base
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                    "--lang=en-US", "--disable-gpu", "--no-first-run", "--disable-extensions", *extra_args):
            options.add_argument(arg)
        options.add_experimental_option("prefs", {"intl.accept_languages": "en-US,en"})
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
        self.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": HOOKS})
        self.console = []  # every browser log entry so far

    # -- waiting --------------------------------------------------------------------------------
    def wait(self, condition, what, timeout=WAIT):
        """Waits until condition(driver) is truthy (its value is returned); fails with `what`."""
        try:
            # A list the UI re-renders while we look at it leaves stale elements: look again.
            return WebDriverWait(
                self.driver, timeout, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)
            ).until(condition)
        except TimeoutException:
            raise Failure(f"timed out after {timeout} s waiting for {what}") from None

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def text(self, css):
        """textContent of the first element matching css ('' when there is none)."""
        return self.js("const e = document.querySelector(arguments[0]); return e ? e.textContent : '';", css)

    def visible(self, css):
        els = self.driver.find_elements(By.CSS_SELECTOR, css)
        return bool(els) and els[0].is_displayed()

    def go(self, hash_route, view):
        """Follows a hash route and waits for its view to show."""
        self.js("location.hash = arguments[0];", hash_route)
        self.wait(lambda d: self.visible(f'section[data-view="{view}"]'), f"the {view} view of {hash_route}")

    # -- console ----------------------------------------------------------------------------------
    def drain_console(self):
        entries = self.driver.get_log("browser")
        self.console.extend(entries)
        return entries

    def screenshot(self, name):
        os.makedirs(ARTIFACTS, exist_ok=True)
        path = os.path.join(ARTIFACTS, name)
        self.driver.save_screenshot(path)
        return path


def console_errors(entries, allowed=()):
    """SEVERE console entries, less the favicon and those matching an allowed pattern."""
    out = []
    for e in entries:
        if e.get("level") != "SEVERE":
            continue
        msg = e.get("message", "")
        if "favicon" in msg or any(re.search(p, msg) for p in allowed):
            continue
        out.append(msg)
    return out


def chat_checks(b):
    d = b.driver
    d.get(b.base + "/#/chat")
    b.wait(lambda _: b.visible("#view-chat"), "the chat view")
    b.wait(lambda _: "logistics" in [o.get_attribute("value") for o in
                                     d.find_elements(By.CSS_SELECTOR, "#kb-select option")],
           "logistics in the knowledge-base select")
    Select(d.find_element(By.ID, "kb-select")).select_by_value("logistics")
    check(d.find_element(By.ID, "kb-select").get_attribute("value") == "logistics", "logistics picked in #kb-select")

    d.find_element(By.ID, "question").send_keys(QUESTION)
    d.find_element(By.ID, "ask").click()
    b.wait(lambda _: "5 倍" in b.text("#answer") and d.find_elements(By.CSS_SELECTOR, "#answer .citation"),
           "an answer with “5 倍” and a citation in #answer")
    b.wait(lambda _: b.js("const a = document.querySelector('#answer'); return a && a.getAttribute('aria-busy') === 'false';"),
           "the answer to finish streaming")
    answer = b.text("#answer")
    cites = d.find_elements(By.CSS_SELECTOR, "#answer .citation")
    check("5 倍" in answer, f"the answer says “5 倍”: {answer[:80]}…")
    check(len(cites) >= 1, f"the answer has {len(cites)} citation badge(s)")
    check(QUESTION in b.text("#conversation .msg.user .msg-text"), "the question is shown in the conversation")

    first = cites[0]
    label = first.get_attribute("aria-label") or ""
    first.click()
    b.wait(lambda _: b.visible("#source-panel"), "the source panel to open")
    b.wait(lambda _: "破损包裹处理流程" in b.text("#source-document"),
           "the source panel to show 破损包裹处理流程 (the first citation is: " + label + ")")
    b.wait(lambda _: d.find_elements(By.CSS_SELECTOR, "#source-text mark"), "highlighted text in the source panel")
    marked = "".join(m.text for m in d.find_elements(By.CSS_SELECTOR, "#source-text mark"))
    check(True, f"first citation opens the source panel on {b.text('#source-document')}")
    check("5 倍" in marked, f"the cited passage is highlighted: {marked[:60]}…")
    check("active" in (first.get_attribute("class") or ""), "the clicked citation badge is marked active")
    check(not b.text("#source-status").strip(), "the full passage loaded (no status message)")
    check(not console_errors(b.drain_console()), "no console error after the chat")
    path = b.screenshot("ui-chat.png")
    print(f"ok: screenshot {path}")


def api_json(b, path):
    with urllib.request.urlopen(b.base + path, timeout=10) as r:
        return json.loads(r.read().decode("utf-8"))


def conversation_checks(b):
    d = b.driver
    b.wait(lambda _: d.find_elements(By.CSS_SELECTOR, '#history-list [data-testid="history-item"]'),
           "the asked conversation in the history sidebar")
    listed = api_json(b, "/api/v1/conversations")["conversations"]
    check(len(listed) == 1 and listed[0]["title"] == QUESTION, f"the server kept the conversation: {listed}")
    cid = listed[0]["id"]
    # A reload starts empty; the sidebar reopens the conversation.
    d.refresh()
    b.wait(lambda _: b.visible("#view-chat"), "the chat view after a reload")
    b.wait(lambda _: QUESTION in b.text("#history-list"), "the conversation listed after the reload")
    check(not d.find_elements(By.CSS_SELECTOR, "#conversation .turn"), "the reloaded page shows no turn yet")
    d.find_element(By.CSS_SELECTOR, f'#history-list [data-testid="history-item"][data-id="{cid}"]').click()
    b.wait(lambda _: QUESTION in b.text("#conversation .msg.user .msg-text") and "5 倍" in b.text("#answer"),
           "the reopened conversation with its question and answer")
    check(d.find_elements(By.CSS_SELECTOR, "#answer .citation"), "the reopened answer keeps its citation badges")
    check(b.js("return document.querySelector('#history-list .history-item.current') !== null;"),
          "the reopened conversation is marked current in the sidebar")
    b.screenshot("ui-history.png")
    # Continue it.
    d.find_element(By.ID, "question").send_keys("那冷链包裹呢？")
    d.find_element(By.ID, "ask").click()
    b.wait(lambda _: len(d.find_elements(By.CSS_SELECTOR, "#conversation .turn")) == 2, "the follow-up turn")
    b.wait(lambda _: b.js("const a = document.querySelector('#answer'); return a && a.getAttribute('aria-busy') === 'false' && !a.closest('article').dataset.state.match(/waiting|streaming/);"),
           "the follow-up answer to finish")
    b.wait(lambda _: len(api_json(b, f"/api/v1/conversations/{cid}")["turns"]) == 2,
           "the follow-up kept in the same conversation")
    check(len(api_json(b, "/api/v1/conversations")["conversations"]) == 1, "no second conversation was started")
    # Thumbs down with a note on the follow-up.
    turns = d.find_elements(By.CSS_SELECTOR, "#conversation .turn")
    last = turns[-1]
    b.wait(lambda _: last.find_element(By.CSS_SELECTOR, '[data-testid="thumbs-down"]').is_displayed(),
           "the thumbs buttons under the answer")
    check(last.find_elements(By.CSS_SELECTOR, '[data-hook="correction"]'), "the answer's action row has the correction hook")
    last.find_element(By.CSS_SELECTOR, '[data-testid="thumbs-down"]').click()
    b.wait(lambda _: last.find_element(By.CSS_SELECTOR, '[data-testid="thumbs-down"]').get_attribute("aria-pressed") == "true",
           "thumbs down pressed")
    note = last.find_element(By.CSS_SELECTOR, '[data-testid="feedback-note"]')
    b.wait(lambda _: note.is_displayed(), "the note box after thumbs down")
    note.send_keys("冷链的回答不对")
    last.find_element(By.CSS_SELECTOR, '[data-testid="feedback-save"]').click()
    b.wait(lambda _: (api_json(b, f"/api/v1/conversations/{cid}")["turns"][-1].get("feedback") or {}).get("note") == "冷链的回答不对",
           "the thumbs down with its note stored")
    check(api_json(b, f"/api/v1/conversations/{cid}")["turns"][-1]["feedback"]["rating"] == "down", "the rating stored is down")
    # The log page, filtered to thumbs down.
    b.go("#/log", "log")
    b.wait(lambda _: d.find_elements(By.CSS_SELECTOR, '#log-table [data-testid="log-row"]'), "the log's rows")
    d.find_element(By.ID, "log-thumbsdown").click()
    d.find_element(By.ID, "log-submit").click()
    b.wait(lambda _: "thumbs_down=true" in (d.find_element(By.ID, "log-csv").get_attribute("href") or ""),
           "the CSV link to carry the thumbs-down filter")
    rows = d.find_elements(By.CSS_SELECTOR, '#log-table [data-testid="log-row"]')
    check(len(rows) == 1 and rows[0].get_attribute("data-id") == str(cid) and QUESTION in rows[0].text,
          f"the log's thumbs-down filter shows the conversation: {[r.text for r in rows]}")
    csv_url = d.find_element(By.ID, "log-csv").get_attribute("href")
    with urllib.request.urlopen(csv_url, timeout=10) as r:
        csv_text = r.read().decode("utf-8")
    check(csv_text.count("\r\n") == 2 and "冷链的回答不对" in csv_text, "the CSV of the filter holds the rated turn")
    b.screenshot("ui-log.png")
    # In Chinese: the log and the feedback row are worded in Chinese.
    d.find_element(By.ID, "lang-toggle").click()
    b.wait(lambda _: b.text("#log-title") == "对话日志", "the log title in Chinese")
    check(b.text("#log-csv") == "下载 CSV" and "1 个点踩" in b.text("#log-table"),
          f"the log is worded in Chinese: {b.text('#log-csv')} / {b.text('#log-table')[:80]}")
    b.screenshot("ui-log-zh.png")
    d.find_element(By.ID, "lang-toggle").click()
    b.wait(lambda _: b.text("#log-title") == "Conversation log", "the log title back in English")
    # Phone width: the sidebar is collapsed behind a toggle; the log does not scroll sideways.
    d.set_window_size(390, 844)
    b.wait(lambda _: b.visible("#view-log"), "the log at phone width")
    check(b.js("return document.documentElement.scrollWidth <= window.innerWidth + 1;"),
          "no horizontal scrolling on the log page at 390 px")
    b.screenshot("ui-phone-log.png")
    b.go("#/chat", "chat")
    check(not b.visible("#history") and b.visible("#history-toggle"), "the history is collapsed behind a toggle on a phone")
    d.find_element(By.ID, "history-toggle").click()
    b.wait(lambda _: b.visible("#history-list"), "the history sidebar opened on a phone")
    b.screenshot("ui-phone-history.png")
    d.find_element(By.ID, "history-toggle").click()
    b.screenshot("ui-phone-chat.png")
    d.set_window_size(1280, 900)
    # Deleting it from the sidebar deletes it on the server, and the chat starts afresh.
    b.wait(lambda _: b.visible(f'#history-list [data-testid="history-item"][data-id="{cid}"]'), "the sidebar at desktop width")
    d.find_element(By.CSS_SELECTOR, f'#history-list .history-item.current [data-testid="history-delete"]').click()
    b.wait(lambda _: b.visible("#confirm-dialog"), "the confirmation dialog")
    d.find_element(By.ID, "confirm-ok").click()
    b.wait(lambda _: not d.find_elements(By.CSS_SELECTOR, '#history-list [data-testid="history-item"]'),
           "the conversation gone from the sidebar")
    try:
        urllib.request.urlopen(b.base + f"/api/v1/conversations/{cid}", timeout=10)
        raise Failure("the deleted conversation is still served")
    except urllib.error.HTTPError as e:
        check(e.code == 404, f"the deleted conversation answers 404 ({e.code})")
    check(not d.find_elements(By.CSS_SELECTOR, "#conversation .turn"), "the chat is cleared after deleting its conversation")
    check(not console_errors(b.drain_console()), "no console error in the conversation checks")
    print(f"ok: screenshots ui-history.png, ui-log.png, ui-phone-*.png in {ARTIFACTS}")


def upload_checks(b, tmp):
    d = b.driver
    b.go("#/docs/logistics", "docs")
    b.wait(lambda _: d.find_elements(By.CSS_SELECTOR, "#docs-table tbody tr"), "the documents table to fill")
    before = len(d.find_elements(By.CSS_SELECTOR, "#docs-table tbody tr"))
    check(before > 30, f"the documents table lists the {before} sample documents")

    name = "冷藏件温度说明.md"
    good = os.path.join(tmp, name)
    with open(good, "w", encoding="utf-8") as f:
        f.write("# 冷藏件温度\n\n" + FACT + "\n")
    d.find_element(By.ID, "file-input").send_keys(good)
    row = f'#uploads li.upload[data-name="{name}"]'
    b.wait(lambda _: "state-ingested" in (b.js(f"const e = document.querySelector('{row}'); return e ? e.className : '';") or "")
           or "state-failed" in (b.js(f"const e = document.querySelector('{row}'); return e ? e.className : '';") or ""),
           f"the upload of {name} to finish ingesting")
    status = b.text(row + " .upload-status")
    check("state-ingested" in b.js(f"return document.querySelector('{row}').className;"),
          f"{name} uploaded and ingested: {status}")
    job = b.wait(lambda _: b.js("const j = document.querySelector('#jobs .job'); return j && /state-(succeeded|partial|failed|cancelled)/.test(j.className) ? j.className : null;"),
                 "the ingest job to reach a final state")
    check("state-succeeded" in job, f"the ingest job succeeded ({job})")
    b.wait(lambda _: any(name in r.text for r in d.find_elements(By.CSS_SELECTOR, "#docs-table tbody tr")),
           f"#docs-table to list {name}")
    rows = d.find_elements(By.CSS_SELECTOR, "#docs-table tbody tr")
    check(len(rows) == before + 1, f"#docs-table lists {name} ({len(rows)} documents)")

    empty_name = "empty.md"
    empty = os.path.join(tmp, empty_name)
    open(empty, "w").close()
    d.find_element(By.ID, "file-input").send_keys(empty)
    erow = f'#uploads li.upload[data-name="{empty_name}"]'
    b.wait(lambda _: "state-failed" in (b.js(f"const e = document.querySelector('{erow}'); return e ? e.className : '';") or "")
           or "state-ingested" in (b.js(f"const e = document.querySelector('{erow}'); return e ? e.className : '';") or ""),
           "the upload of the empty file to finish")
    cls = b.js(f"return document.querySelector('{erow}').className;")
    estatus = b.text(erow + " .upload-status")
    check("state-failed" in cls, f"the empty file shows its own error: {estatus}")
    check(b.js(f"return document.querySelector('{erow} .upload-status').classList.contains('error-text');"),
          "the empty file's message is styled as an error")
    check("state-ingested" in b.js(f"return document.querySelector('{row}').className;"),
          "the first upload still shows its success")
    b.wait(lambda _: len(d.find_elements(By.CSS_SELECTOR, "#docs-table tbody tr")) == before + 1,
           "the documents table to stay without the empty file")
    check(not any(empty_name in r.text for r in d.find_elements(By.CSS_SELECTOR, "#docs-table tbody tr")),
          "the empty file is not listed in #docs-table")
    # An empty upload may be refused by the server (a 4xx in the console's network log): expected.
    check(not console_errors(b.drain_console(), allowed=(r"/api/v1/kbs/logistics/documents.* 4\d\d",)),
          "no unexpected console error after the uploads")
    path = b.screenshot("ui-docs.png")
    print(f"ok: screenshot {path}")
    return name


def search_checks(b, name):
    d = b.driver
    b.go("#/search", "search")
    check(d.find_element(By.ID, "search-kb").get_attribute("value") == "logistics", "search uses logistics")
    q = d.find_element(By.ID, "search-query")
    q.clear()
    q.send_keys("冷藏件温度")
    d.find_element(By.ID, "search-submit").click()
    b.wait(lambda _: d.find_elements(By.CSS_SELECTOR, "#search-results li.result"), "#search-results to fill")
    first = d.find_element(By.CSS_SELECTOR, "#search-results li.result")
    doc = first.find_element(By.CSS_SELECTOR, ".hit-doc").text
    check(not first.find_element(By.CSS_SELECTOR, ".hit-score").is_displayed(), "the score is behind the details toggle")
    first.find_element(By.CSS_SELECTOR, ".tech-details summary").click()
    score = first.find_element(By.CSS_SELECTOR, ".hit-score").text
    check(name in doc, f"the uploaded document comes first: {doc}")
    check(re.search(r"\d+\.\d{3}", score) is not None, f"the first hit shows its score once opened: {score}")
    check(FACT[:6] in first.text, "the first hit shows the uploaded fact")
    check(first.find_elements(By.CSS_SELECTOR, ".hit-text mark"), "query terms are highlighted in the hit")
    check(not console_errors(b.drain_console()), "no console error after the search")


EDITED = "紫罗兰专线的冷藏件全程保持在零到四摄氏度。"
CURATED_Q = "蓝鲸专线哪天发车？"
CURATED_A = "蓝鲸专线每周三发车，节假日顺延。"


def phone_screenshot(b, name, scroll_to=None):
    """A screenshot at a phone's width (390 px), scrolled to `scroll_to` (CSS), then back to the desktop size."""
    b.driver.set_window_size(390, 844)
    time.sleep(0.3)  # let the layout settle before the picture (not a check)
    if scroll_to:
        b.js("const e = document.querySelector(arguments[0]); if (e) e.scrollIntoView({block: 'start'});", scroll_to)
    path = b.screenshot(name)
    b.driver.set_window_size(1280, 900)
    return path


def search_first(b, query):
    d = b.driver
    b.go("#/search", "search")
    q = d.find_element(By.ID, "search-query")
    q.clear()
    q.send_keys(query)
    b.js("document.querySelector('#search-status').textContent = '';"
         "document.querySelector('#search-results').replaceChildren();")
    d.find_element(By.ID, "search-submit").click()
    # The status names the query once the results are in ("… for “query”").
    b.wait(lambda _: query in b.text("#search-status"), f"the search for {query} to finish")
    hits = d.find_elements(By.CSS_SELECTOR, "#search-results li.result")
    return hits[0].text if hits else ""


def editing_checks(b, name, tmp):
    d = b.driver
    b.go("#/docs/logistics", "docs")
    link = b.wait(lambda _: next((a for a in d.find_elements(By.CSS_SELECTOR, "#docs-table a[data-testid=doc-link]")
                                  if name in a.text), None), f"a link to {name} in #docs-table")
    link.click()
    b.wait(lambda _: b.visible('section[data-view="doc"]'), "the document page")
    b.wait(lambda _: name in b.text("#doc-title") and d.find_elements(By.CSS_SELECTOR, "#doc-chunks [data-testid=chunk]"),
           "the document page to show its title and chunks")
    check(FACT in b.text("#doc-text"), "the document page holds the extracted text")
    chunk = next(c for c in d.find_elements(By.CSS_SELECTOR, "#doc-chunks [data-testid=chunk]") if FACT[:6] in c.text)
    check(True, f"the chunk with the fact is shown: {chunk.text[:40]}…")
    chunk.find_element(By.CSS_SELECTOR, "[data-testid=chunk-edit]").click()
    editor = b.wait(lambda _: d.find_elements(By.CSS_SELECTOR, "[data-testid=chunk-editor]"), "the chunk editor")[0]
    editor.clear()
    editor.send_keys(EDITED)
    d.find_element(By.CSS_SELECTOR, "[data-testid=chunk-save]").click()
    b.wait(lambda _: any(EDITED in c.text for c in d.find_elements(By.CSS_SELECTOR, "#doc-chunks [data-testid=chunk]"))
           and not d.find_elements(By.CSS_SELECTOR, "[data-testid=chunk-editor]"), "the edited chunk to show its new text")
    edited = next(c for c in d.find_elements(By.CSS_SELECTOR, "#doc-chunks [data-testid=chunk]") if EDITED in c.text)
    check(edited.find_elements(By.CSS_SELECTOR, ".badge.doc-edited"), "the edited chunk is marked as edited")
    path = b.screenshot("ui-document.png")
    print(f"ok: screenshot {path}")
    print(f"ok: screenshot {phone_screenshot(b, 'ui-document-phone.png')}")
    # The same file uploaded again: "unchanged", nothing re-read, so the edit stays.
    b.go("#/docs/logistics", "docs")
    d.find_element(By.ID, "file-input").send_keys(os.path.join(tmp, name))
    last = f"Array.from(document.querySelectorAll('#uploads li.upload[data-name=\"{name}\"]')).pop()"
    b.wait(lambda _: b.js(f"const e = {last}; return e && /state-(ingested|failed|rejected)/.test(e.className);")
           and len(d.find_elements(By.CSS_SELECTOR, f'#uploads li.upload[data-name="{name}"]')) == 2,
           f"the second upload of {name} to finish")
    again = b.js(f"return {last}.querySelector('.upload-status').textContent;")
    check(again.startswith("Unchanged"), f"uploading the same file again says so: {again}")
    first = search_first(b, "紫罗兰专线")
    check(EDITED[:5] in first, f"search finds the edited text first: {first[:60]}…")
    old = search_first(b, "二到八摄氏度之间")
    check(FACT not in old, f"search no longer finds the old text: {old[:60]}…")
    check(not console_errors(b.drain_console()), "no console error after editing a chunk")


def correction_checks(b):
    d = b.driver
    b.go("#/chat", "chat")
    d.find_element(By.ID, "new-chat").click()
    d.find_element(By.ID, "question").send_keys(CURATED_Q)
    d.find_element(By.ID, "ask").click()
    b.wait(lambda _: b.js("const a = document.querySelector('#answer'); return a && a.getAttribute('aria-busy') === 'false';"),
           "the first answer to finish")
    button = b.wait(lambda _: next((e for e in d.find_elements(By.CSS_SELECTOR, "[data-testid=correct]") if e.is_displayed()), None),
                    "a Correct button under the answer")
    button.click()
    b.wait(lambda _: b.js("return document.querySelector('#curated-dialog').open;"), "the correction dialog")
    check(d.find_element(By.ID, "curated-question").get_attribute("value") == CURATED_Q, "the dialog holds the question")
    answer = d.find_element(By.ID, "curated-answer")
    answer.clear()
    answer.send_keys(CURATED_A)
    d.find_element(By.ID, "curated-save").click()
    b.wait(lambda _: not b.js("return document.querySelector('#curated-dialog').open;"), "the dialog to close after saving")
    d.find_element(By.ID, "question").send_keys("请问蓝鲸专线是哪天发车")
    d.find_element(By.ID, "ask").click()
    b.wait(lambda _: CURATED_A in b.text("#answer"), "the paraphrased question to be answered with the correction")
    b.wait(lambda _: b.js("const a = document.querySelector('#answer'); return a && a.getAttribute('aria-busy') === 'false';"),
           "the second answer to finish")
    last = d.find_elements(By.CSS_SELECTOR, "#conversation .msg.assistant")[-1]
    sources = last.find_element(By.CSS_SELECTOR, ".sources-list").text
    check("Curated answer" in sources, f"the answer is cited as a curated answer: {sources}")
    check("curated answer" in last.find_element(By.CSS_SELECTOR, ".msg-meta").text, "the answer is marked as curated")
    last.find_element(By.CSS_SELECTOR, ".source-ref").click()
    b.wait(lambda _: CURATED_A in b.text("#source-text") and b.text("#source-document") == "Curated answer",
           "the source panel to show the curated answer")
    check(not b.text("#source-status").strip(), "the curated source needs no chunk")
    path = b.screenshot("ui-correction.png")
    b.go("#/docs/logistics", "docs")
    b.wait(lambda _: any(CURATED_Q in r.text for r in d.find_elements(By.CSS_SELECTOR, "#curated-table tbody tr")),
           "the curated answer in the list on the documents page")
    b.js("document.querySelector('#curated-title').scrollIntoView({block: 'start'});")
    print(f"ok: screenshot {b.screenshot('ui-curated.png')}")
    b.go("#/chat", "chat")
    print(f"ok: screenshot {path}")
    print(f"ok: screenshot {phone_screenshot(b, 'ui-correction-phone.png')}")
    d.find_element(By.ID, "source-close").click()
    # "Correct" under the curated answer edits that entry instead of making a second one.
    again = last.find_element(By.CSS_SELECTOR, "[data-testid=correct]")
    b.js("arguments[0].scrollIntoView({block: 'center'});", again)
    again.click()
    b.wait(lambda _: b.js("return document.querySelector('#curated-dialog').open;"), "the dialog for the curated answer")
    check(d.find_element(By.ID, "curated-answer").get_attribute("value") == CURATED_A
          and "Edit" in b.text("#curated-dialog-title"), "Correct on a curated answer opens that entry for editing")
    d.find_element(By.ID, "curated-cancel").click()
    b.go("#/docs/logistics", "docs")
    b.wait(lambda _: any(CURATED_Q in r.text for r in d.find_elements(By.CSS_SELECTOR, "#curated-table tbody tr")),
           "the curated answer in the list on the documents page")
    check(True, "the documents page lists the curated answer")
    print(f"ok: screenshot {phone_screenshot(b, 'ui-curated-phone.png', '#curated-title')}")
    check(not console_errors(b.drain_console()), "no console error after the correction")
    b.go("#/search", "search")  # where the language checks start


def language_checks(b):
    d = b.driver
    nav = lambda: b.text('.mainnav a[data-route="chat"]')
    button = lambda: b.text("#search-submit")
    start = b.js("return document.documentElement.lang;")
    check(start == "en" and nav() == "Chat", f"the interface starts in English (lang={start}, nav {nav()!r})")
    d.find_element(By.ID, "lang-toggle").click()
    b.wait(lambda _: nav() == "问答", "the navigation to switch to Chinese")
    check(b.js("return document.documentElement.lang;") == "zh-CN", "<html lang> becomes zh-CN")
    check(button() == "检索" and b.text("#search-title") == "检索测试", "search labels are in Chinese")
    check(b.text("#lang-toggle") == "English", "the toggle offers English")
    status = b.text("#search-status")
    check("条结果" in status, f"the search result count is re-rendered in Chinese: {status}")
    path = b.screenshot("ui-search-zh.png")
    print(f"ok: screenshot {path}")
    # The document page and the curated answers in Chinese: no English label left.
    b.go("#/docs/logistics", "docs")
    b.wait(lambda _: b.text("#curated-title") == "人工答案", "the curated answers heading in Chinese")
    link = b.wait(lambda _: next((a for a in d.find_elements(By.CSS_SELECTOR, "#docs-table a[data-testid=doc-link]")
                                  if "冷藏件温度说明" in a.text), None), "the edited document's link")
    link.click()
    b.wait(lambda _: d.find_elements(By.CSS_SELECTOR, "#doc-chunks [data-testid=chunk]"), "the document page in Chinese")
    labels = b.js("return Array.from(document.querySelectorAll('#view-doc .chunk-actions button, #view-doc .badge, "
                  "#view-doc h2, #doc-text-summary, #view-doc .hint, #doc-add-qa')).map(e => e.textContent);")
    english = [t for t in labels if re.search(r"[A-Za-z]{3,}", t)]
    check(not english, f"the document page has no English label in Chinese: {english or labels[:6]}")
    check(b.text("#doc-back") == "logistics 的文档", f"the way back names the knowledge base: {b.text('#doc-back')}")
    print(f"ok: screenshot {b.screenshot('ui-document-zh.png')}")
    b.go("#/search", "search")
    d.find_element(By.ID, "lang-toggle").click()
    b.wait(lambda _: nav() == "Chat", "the navigation to switch back to English")
    check(button() == "Search" and b.text("#lang-toggle") == "中文", "back in English")
    d.refresh()
    b.wait(lambda _: b.visible("#view-search") and nav() == "Chat", "the page to reload in English")
    check(b.js("return localStorage.getItem('wendao.lang');") == "en", "the language choice is remembered")


def xss_checks(b):
    d = b.driver
    b.go("#/chat", "chat")
    b.wait(lambda _: d.find_element(By.ID, "kb-select").get_attribute("value") == "logistics", "logistics selected")
    before = len(d.find_elements(By.CSS_SELECTOR, "#conversation .turn"))
    question = "包裹丢了怎么办 " + XSS
    d.find_element(By.ID, "question").send_keys(question)
    d.find_element(By.ID, "ask").click()
    b.wait(lambda _: len(d.find_elements(By.CSS_SELECTOR, "#conversation .turn")) == before + 1,
           "the new turn to appear")
    b.wait(lambda _: b.js("const a = document.querySelector('#answer'); return a && a.getAttribute('aria-busy') === 'false' && !a.closest('article').dataset.state.match(/waiting|streaming/);"),
           "the answer to the HTML question to finish")
    try:
        alert = d.switch_to.alert
        text = alert.text
        alert.dismiss()
        raise Failure(f"an alert appeared: {text!r}")
    except NoAlertPresentException:
        pass
    check(b.js("return window.__alerts.length;") == 0, "no alert() ran")
    check(not d.find_elements(By.CSS_SELECTOR, "#answer img, #conversation img"), "no <img> element made inside #answer or the conversation")
    shown = d.find_elements(By.CSS_SELECTOR, "#conversation .msg.user .msg-text")[-1].text
    check(XSS in shown, f"the question is shown literally: {shown}")
    # The search page echoes the query in its status line.
    b.go("#/search", "search")
    q = d.find_element(By.ID, "search-query")
    q.clear()
    q.send_keys(XSS)
    d.find_element(By.ID, "search-submit").click()
    b.wait(lambda _: XSS in b.text("#search-status") or "error-box" in (d.find_element(By.ID, "search-status").get_attribute("class") or ""),
           "the search status to echo the HTML query")
    check(XSS in b.text("#search-status"), f"the search status shows the query literally: {b.text('#search-status')}")
    check(not d.find_elements(By.CSS_SELECTOR, "#view-search img"), "no <img> element made on the search page")
    check(b.js("return window.__alerts.length;") == 0, "still no alert() after the search")
    b.go("#/chat", "chat")


def final_checks(b):
    d = b.driver
    d.execute_script("window.scrollTo(0, 0);")
    b.drain_console()
    errors = console_errors(b.console, allowed=(r"/api/v1/kbs/logistics/documents.* 4\d\d",))
    check(not errors, "the browser console has no error" + (": " + " | ".join(errors) if errors else ""))
    csp_console = [e["message"] for e in b.console if "Content Security Policy" in e.get("message", "")]
    check(not csp_console, "no CSP violation in the console" + (": " + " | ".join(csp_console) if csp_console else ""))
    violations = b.js("return window.__cspViolations;")
    check(not violations, "no securitypolicyviolation event" + (f": {violations}" if violations else ""))
    path = b.screenshot("ui-final.png")
    print(f"ok: screenshot {path}")


def main():
    started = time.monotonic()
    if not os.path.isfile(BIN):
        print(f"FAIL: no wendao binary at {BIN} (set WENDAO_BIN)", file=sys.stderr)
        return 1
    for path, what in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.path.exists(path):
            print(f"FAIL: {path} is missing (apt-get install {what})", file=sys.stderr)
            return 1
    data = tempfile.mkdtemp(prefix="wendao-browser-")
    tmp = tempfile.mkdtemp(prefix="wendao-browser-files-")
    server = browser = None
    server_log = open(os.path.join(tmp, "server.log"), "w")
    code = 0
    try:
        subprocess.run([BIN, "ingest", "--kb", "logistics", "--create", os.path.join(ROOT, "Samples/logistics"),
                        "--exclude", "eval*", "--data", data], capture_output=True, text=True, check=True)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([BIN, "serve", "--port", str(port), "--data", data],
                                  env=dict(os.environ, WENDAO_LOG_LEVEL="warning"),
                                  stdout=subprocess.DEVNULL, stderr=server_log)
        wait_ready(base, server)
        print(f"ok: server ready at {base}")
        browser = Browser(base)
        chat_checks(browser)
        conversation_checks(browser)
        name = upload_checks(browser, tmp)
        search_checks(browser, name)
        editing_checks(browser, name, tmp)
        correction_checks(browser)
        language_checks(browser)
        xss_checks(browser)
        final_checks(browser)
    except subprocess.CalledProcessError as e:
        print(f"FAIL: {' '.join(map(str, e.cmd[:3]))} … exited {e.returncode}: {e.stderr.strip()[-2000:]}", file=sys.stderr)
        code = 1
    except (Failure, WebDriverException) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        code = 1
        if browser is not None:
            try:
                print(f"  screenshot: {browser.screenshot('ui-failure.png')}", file=sys.stderr)
                browser.drain_console()
                for entry in browser.console[-20:]:
                    print(f"  console {entry.get('level')}: {entry.get('message')}", file=sys.stderr)
            except Exception:
                pass
        log = os.path.join(tmp, "server.log")
        if os.path.exists(log):
            with open(log, encoding="utf-8", errors="replace") as f:
                tail = f.read()[-3000:]
            if tail.strip():
                print("  server log (end):\n" + tail, file=sys.stderr)
    finally:
        if server is not None or browser is not None:
            exit_code = stop(browser, server)
            if exit_code != 0 and code == 0:
                print(f"FAIL: the server did not stop cleanly on SIGTERM (exit {exit_code})", file=sys.stderr)
                code = 1
        server_log.close()
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
    if code == 0:
        print(f"ok: browser test passed in {time.monotonic() - started:.1f} s (screenshots in {ARTIFACTS})")
    return code


if __name__ == "__main__":
    sys.exit(main())
