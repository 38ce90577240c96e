#!/usr/bin/env python3
"""Headless Chromium against a local `wendao serve` with accounts (run by scripts/test.sh).

1. Three accounts made with the CLI (`wendao users add`): an agent on `客服知识库`, an editor on it,
   and an agent of another team's knowledge base.
2. The agent signs in through the web UI's sign-in form (no API key anywhere), sees only its own
   knowledge base, asks a question and gets the cited answer, reloads (still signed in), and cannot
   create knowledge bases (the form is hidden; the API refuses).
3. The session cookie is HttpOnly (page script cannot read it) and a forged write without the CSRF
   token, made from the signed-in page itself, is refused.
4. A wrong password shows the Chinese error; signing out ends the session.

Screenshots (desktop and phone) go to $WENDAO_ARTIFACTS (default /tmp/wendao-artifacts). Prints `ok: …`
per check; the first failure prints `FAIL: …` and exits 1.
"""
import os
import sys

from selenium.webdriver.common.by import By

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browser_test import Browser, check, console_errors, run_test  # noqa: E402

KB = "客服知识库"
OTHER = "warehouse-team"
PASSWORD = "agent pass phrase 1"


def sign_in(b, name, password):
    d = b.driver
    b.wait(lambda _: d.find_element(By.ID, "key-dialog").get_attribute("open") is not None, "the sign-in dialog")
    d.find_element(By.ID, "signin-name").clear()
    d.find_element(By.ID, "signin-name").send_keys(name)
    d.find_element(By.ID, "signin-password").send_keys(password)
    d.find_element(By.ID, "signin-submit").click()


def checks(s):
    for name, text in [(KB, "# 清关\n\n国际快递的清关时间一般为三到五个工作日。\n"), (OTHER, "# Shifts\n\nThe warehouse opens at 6 am.\n")]:
        folder = os.path.join(s.tmp, "seed-" + name)
        os.makedirs(folder)
        with open(os.path.join(folder, "doc.md"), "w", encoding="utf-8") as f:
            f.write(text)
        s.cli("ingest", "--kb", name, "--create", folder)
    s.cli("users", "add", "ana", "--kb", KB, "--role", "agent", "--password-stdin", stdin=PASSWORD + "\n")
    s.cli("users", "add", "bo", "--kb", OTHER, "--role", "agent", "--password-stdin", stdin=PASSWORD + "\n")
    s.cli("users", "add", "lead", "--admin", "--password-stdin", stdin=PASSWORD + "\n")
    listed = s.cli("users", "list", "--json").stdout
    check('"ana"' in listed and "argon2" not in listed, "accounts made with the CLI; the list shows no hashes")
    base = s.serve()
    print(f"ok: server ready at {base} (closed: accounts exist)")
    b = s.browser = Browser(base)
    d = b.driver
    d.get(base + "/#/chat")
    b.js("localStorage.setItem('wendao.lang', 'zh');")
    d.refresh()
    # A wrong password: the Chinese message, no session.
    sign_in(b, "ana", "wrong password here")
    b.wait(lambda _: b.visible("#signin-error") and "用户名或密码不正确" in b.text("#signin-error"), "the sign-in error")
    check(True, "a wrong password is refused with a Chinese message")
    d.find_element(By.ID, "signin-password").clear()
    sign_in(b, "ana", PASSWORD)
    b.wait(lambda _: b.visible("#user-badge") and "ana" in b.text("#user-badge"), "the signed-in badge")
    b.wait(lambda _: [o.get_attribute("value") for o in d.find_elements(By.CSS_SELECTOR, "#kb-select option")] == [KB],
           "only the agent's knowledge base in the select")
    check(True, f"ana signed in through the UI and sees only {KB}")
    cookie = b.js("return document.cookie;")
    check("wendao_session" not in cookie, "the session cookie is HttpOnly (page script cannot read it)")
    d.find_element(By.ID, "question").send_keys("国际快递清关要多久？")
    d.find_element(By.ID, "ask").click()
    b.wait(lambda _: "三到五个工作日" in b.text("#answer"), "the agent's answer")
    check(True, f"the agent asks and gets a cited answer: {b.text('#answer')[:50]}")
    # A write from the page without the CSRF token (what a script injected into it would try).
    forged = d.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch('/api/v1/kbs/' + encodeURIComponent(arguments[0]) + '/ask', {method: 'POST', credentials: 'same-origin',
          headers: {'Content-Type': 'application/json'}, body: JSON.stringify({question: 'x'})})
          .then(r => r.json().then(j => done(r.status + ' ' + (j.error ? j.error.code : ''))));
    """, KB)
    check(forged == "403 csrf_failed", f"a cookie write without the CSRF token is refused ({forged})")
    other = d.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch('/api/v1/kbs/' + encodeURIComponent(arguments[0]) + '/documents', {credentials: 'same-origin'})
          .then(r => done(r.status));
    """, OTHER)
    check(other == 404, f"another team's knowledge base answers 404 to the agent ({other})")
    b.go("#/kbs", "kbs")
    check(not b.visible("#kb-create-form"), "the agent does not see the create form")
    b.wait(lambda _: d.find_elements(By.CSS_SELECTOR, "#kbs-table tbody tr"), "the agent's knowledge-base table")
    check(not d.find_elements(By.CSS_SELECTOR, '#kbs-table a[href^="#/settings/"]'), "nor a settings link")
    print(f"ok: screenshot {b.screenshot('accounts-agent-desktop.png')}")
    d.set_window_size(390, 844)
    b.go("#/chat", "chat")
    print(f"ok: screenshot {b.screenshot('accounts-agent-phone.png')}")
    d.set_window_size(1280, 900)
    # Still signed in after a reload.
    d.refresh()
    b.wait(lambda _: b.visible("#user-badge") and "ana" in b.text("#user-badge"), "the badge after a reload")
    check(d.find_element(By.ID, "key-dialog").get_attribute("open") is None, "a reload keeps the session (no dialog)")
    # Signing out ends the session: the next request asks again.
    d.find_element(By.ID, "sign-out").click()
    b.wait(lambda _: d.find_element(By.ID, "key-dialog").get_attribute("open") is not None, "the sign-in dialog after signing out")
    check(True, "signing out ends the session")
    # 5. The administrator enters a provider key in the UI: stored, never shown again anywhere.
    secret = "sk-entered-in-the-browser-" + os.urandom(6).hex()
    sign_in(b, "lead", PASSWORD)
    b.wait(lambda _: b.visible("#user-badge") and "lead" in b.text("#user-badge"), "the administrator's badge")
    b.go("#/admin", "admin")
    row = b.wait(lambda _: d.find_elements(By.CSS_SELECTOR, '#providers-table tr[data-provider="deepseek"]'), "the providers table")[0]
    row.find_element(By.CSS_SELECTOR, "input.provider-key").send_keys(secret)
    row.find_element(By.CSS_SELECTOR, "button.secondary").click()
    b.wait(lambda _: "已加密" in b.text('#providers-table tr[data-provider="deepseek"]'), "the stored key's status")
    check(secret not in d.page_source, "the key entered in the UI is not in the page after saving")
    d.refresh()
    b.go("#/admin", "admin")
    b.wait(lambda _: d.find_elements(By.CSS_SELECTOR, '#providers-table tr[data-provider="deepseek"]'), "the providers table again")
    check(secret not in d.page_source, "nor after a reload")
    print(f"ok: screenshot {b.screenshot('admin-page.png')}")
    check(secret not in s.server_log(), "nor in the server log")
    stored = b""
    for root, _, files in os.walk(s.data):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                stored += f.read()
    check(secret.encode() not in stored, "nor in any file of the data directory (stored sealed)")
    # 6. The administrator changes a knowledge base's settings in the UI; the embedder change needs a
    # reindex, which runs as a job from the page.
    b.go("#/kbs", "kbs")
    link = b.wait(lambda _: d.find_elements(By.CSS_SELECTOR, '#kbs-table a[href^="#/settings/"]'), "a settings link")[0]
    link.click()
    b.wait(lambda _: b.visible("#settings-form") and d.find_element(By.ID, "set-size").get_attribute("value"), "the settings page")
    d.find_element(By.ID, "set-embedder").send_keys("e5-small")
    d.find_element(By.ID, "settings-save").click()
    b.wait(lambda _: b.visible("#settings-reindex-box"), "the reindex notice after changing the embedder")
    d.find_element(By.ID, "settings-reindex").click()
    b.wait(lambda _: d.find_element(By.ID, "settings-job").get_attribute("data-state") == "succeeded", "the reindex job to succeed", timeout=120)
    check(True, "settings saved in the UI and the reindex job ran: " + b.text("#settings-job"))
    print(f"ok: screenshot {b.screenshot('settings-page.png')}")
    errors = console_errors(b.drain_console(), allowed=("401", "403", "404"))
    check(not errors, "no unexpected console error" + (": " + " | ".join(errors) if errors else ""))


def main():
    return run_test("accounts", "accounts browser test", checks)


if __name__ == "__main__":
    sys.exit(main())
