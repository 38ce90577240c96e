#!/usr/bin/env python3
"""Headless Chromium: the Fine-tuning data page (#/tune), reviewing a dataset with the keyboard (run by scripts/test.sh).

The sample knowledge base is ingested and a dataset distilled from 12 of its chunks by the fake teacher
(scripts/fake_openai_server.py). On the page: the dataset is listed with its counts, the first example shows with its
source passage beside it; j / k move the selection; a approves (version 1) and moves on, r rejects (version 1), e edits
the rejected one (control characters in the edit are removed; Ctrl+Enter saves version 2), Esc leaves an edit unsaved;
keys typed into the text filter review nothing; the review filter lists the approved example only; after a reload the
reviews are still there, and `wendao tune dataset review` (the CLI, the same reviews.jsonl) shows the versions the page
made. No console errors. Screenshots go to $WENDAO_ARTIFACTS. Prints `ok: …`; the first failure prints `FAIL: …`.
"""
import json
import os
import subprocess
import sys

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browser_test import BIN, ROOT, Browser, check, console_errors, run_test  # noqa: E402


def start_fake(s):
    fake = subprocess.Popen([sys.executable, os.path.join(ROOT, "scripts/fake_openai_server.py")],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    s.cleanups.append(lambda: (fake.kill(), fake.wait()))
    port = int(fake.stdout.readline().strip())
    return f"http://127.0.0.1:{port}/v1"


def cli(s, env, *args):
    r = subprocess.run([BIN, *args, "--data", s.data], capture_output=True, text=True, env=dict(os.environ, **env))
    check(r.returncode == 0, f"wendao {' '.join(args[:4])} exited {r.returncode}: {r.stderr[-1500:]}")
    return r


def selected_id(b):
    return b.js("const e = document.querySelector('#tune-list li.selected'); return e ? e.dataset.id : '';") or ""


def shown_id(b):
    return b.js("const e = document.querySelector('[data-testid=tune-example]'); return e ? e.dataset.id : '';") or ""


def item_class(b, example_id):
    return b.js("const e = document.querySelector(`#tune-list li[data-id='${arguments[0]}']`); return e ? e.className : '';",
                example_id) or ""


def press(b, *keys):
    ActionChains(b.driver).send_keys(*keys).perform()


def wait_shown(b, example_id):
    b.wait(lambda _: shown_id(b) == example_id and b.text("[data-testid=tune-source]").strip(),
           f"example {example_id} shown with its source")


def checks(s):
    env = {"OPENAI_BASE_URL": start_fake(s), "OPENAI_API_KEY": "sk-fake-for-the-tune-browser-test"}
    cli(s, env, "ingest", "--kb", "logistics", "--create", os.path.join(ROOT, "Samples/logistics"), "--exclude", "eval*")
    cli(s, env, "tune", "dataset", "create", "--kb", "logistics", "--teacher", "openai:gpt-4o-mini", "--name", "support-v1",
        "--limit", "12", "--concurrency", "4")
    base = s.serve(env=env)
    b = s.browser = Browser(base)
    d = b.driver
    d.get(base + "/#/tune")
    b.wait(lambda _: b.visible('section[data-view="tune"]'), "the Fine-tuning data page")
    b.wait(lambda _: d.find_elements(By.CSS_SELECTOR, "#tune-dataset option[value='support-v1']"), "the dataset list")
    option = d.find_element(By.CSS_SELECTOR, "#tune-dataset option[value='support-v1']").text
    check("logistics" in option and "kept" in option, f"the dataset is listed with its knowledge base and counts ({option!r})")
    b.wait(lambda _: len(d.find_elements(By.CSS_SELECTOR, "#tune-list li")) >= 4, "the examples")
    ids = b.js("return [...document.querySelectorAll('#tune-list li')].map((e) => e.dataset.id);")
    wait_shown(b, ids[0])
    source = b.text("[data-testid=tune-source]")
    check(len(source.strip()) > 20, f"the source passage beside the example ({source[:80]!r})")
    check(b.text("[data-testid=tune-question]").strip(), "the question shows")
    print(f"  screenshot: {b.screenshot('tune-review.png')}")

    # j / k.
    press(b, "j")
    b.wait(lambda _: selected_id(b) == ids[1], "j to select the second example")
    wait_shown(b, ids[1])
    press(b, "k")
    b.wait(lambda _: selected_id(b) == ids[0], "k to select the first again")
    wait_shown(b, ids[0])

    # a: approved, version 1, and the next one is selected.
    press(b, "a")
    b.wait(lambda _: "state-approved" in item_class(b, ids[0]), "a to approve the first example")
    check("version 1" in b.text("[data-testid=tune-status]"), f"approved as version 1 ({b.text('[data-testid=tune-status]')!r})")
    b.wait(lambda _: selected_id(b) == ids[1], "the next example after an approval")
    wait_shown(b, ids[1])

    # r: rejected.
    press(b, "r")
    b.wait(lambda _: "state-rejected" in item_class(b, ids[1]), "r to reject the second example")
    b.wait(lambda _: selected_id(b) == ids[2], "the next example after a rejection")
    wait_shown(b, ids[2])

    # e on the rejected one: Esc leaves it as it was; then an edit saved with Ctrl+Enter is version 2.
    press(b, "k")
    wait_shown(b, ids[1])
    press(b, "e")
    b.wait(lambda _: b.visible("[data-testid=tune-edit-question]"), "e to open the editor")
    d.find_element(By.CSS_SELECTOR, "[data-testid=tune-edit-question]").send_keys(Keys.ESCAPE)
    b.wait(lambda _: not d.find_elements(By.CSS_SELECTOR, "[data-testid=tune-edit-question]"), "Esc to close the editor")
    check("state-rejected" in item_class(b, ids[1]), "Esc saved nothing")
    press(b, "e")
    b.wait(lambda _: b.visible("[data-testid=tune-edit-question]"), "e to open the editor again")
    question = "包裹丢失后，最多能赔多少钱？"
    b.js("document.querySelector('[data-testid=tune-edit-question]').value = arguments[0];", question + "\u0007")
    b.js("document.querySelector('[data-testid=tune-edit-answer]').value = arguments[0];",
         "未保价的包裹\u200b按实际损失赔付。\u001b")
    d.find_element(By.CSS_SELECTOR, "[data-testid=tune-edit-answer]").send_keys(Keys.CONTROL, Keys.ENTER)
    b.wait(lambda _: "state-edited" in item_class(b, ids[1]), "Ctrl+Enter to save the edit")
    b.wait(lambda _: b.text("[data-testid=tune-question]") == question, "the edited question shown")
    check(b.text("[data-testid=tune-answer]") == "未保价的包裹按实际损失赔付。",
          f"control and format characters removed ({b.text('[data-testid=tune-answer]')!r})")
    check("version 2" in b.text("[data-testid=tune-status]"), "the edit is version 2")
    history = b.js("return [...document.querySelectorAll('[data-testid=tune-history] li')].map((e) => e.dataset.version);")
    check(history == ["2", "1"], f"both versions in the history, newest first ({history})")
    print(f"  screenshot: {b.screenshot('tune-review-edited.png')}")

    # Keys typed into a field review nothing.
    field = d.find_element(By.CSS_SELECTOR, "[data-testid=tune-filter-q]")
    field.send_keys("ar")
    check("state-edited" in item_class(b, ids[1]) and "version 2" in b.text("[data-testid=tune-status]"),
          "typing a and r into the text filter reviewed nothing")
    field.clear()

    # The review filter.
    Select(d.find_element(By.ID, "tune-filter-review")).select_by_value("approved")
    b.wait(lambda _: b.js("return [...document.querySelectorAll('#tune-list li')].map((e) => e.dataset.id);") == [ids[0]],
           "the approved filter lists the approved example only")

    # After a reload, the reviews are there.
    d.refresh()
    b.wait(lambda _: b.visible('section[data-view="tune"]'), "the page after a reload")
    b.wait(lambda _: d.find_elements(By.CSS_SELECTOR, "#tune-list li"), "the examples after a reload")
    if Select(d.find_element(By.ID, "tune-filter-review")).first_selected_option.get_attribute("value"):
        Select(d.find_element(By.ID, "tune-filter-review")).select_by_value("")  # a browser may keep the form's values
    b.wait(lambda _: "state-edited" in item_class(b, ids[1]) and "state-approved" in item_class(b, ids[0]),
           "the reviews after a reload")

    # The CLI reads the versions the page wrote.
    shown = json.loads(cli(s, env, "tune", "dataset", "review", "support-v1", ids[1], "--json").stdout)
    versions = [(r["version"], r["decision"]) for r in shown["reviews"]]
    check(versions == [(1, "rejected"), (2, "edited")], f"reviews.jsonl holds the page's versions ({versions})")
    check(shown["example"]["question"] == question and shown["example"]["status"] == "kept",
          "the edited example is kept with its new question")
    errors = console_errors(b.drain_console())
    check(not errors, f"no console errors ({errors[:2]})")


def main():
    return run_test("tune", "fine-tuning data review browser test", checks)


if __name__ == "__main__":
    sys.exit(main())
