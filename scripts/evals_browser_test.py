#!/usr/bin/env python3
"""Headless Chromium: the Evaluations page and the prompt playground (run by scripts/test.sh).

The sample knowledge base is ingested and a suite (the sample's, cut to a few questions: the extractive answerer
and two prompts of an openai: model) is put in the data directory's eval/suites; the fake OpenAI-compatible server
(scripts/fake_openai_server.py) answers for the model. From the page: the suite is run and watched to the end, its
HTML report opened in a new tab (the drill-down works), a second run made and the two compared (the bootstrap
verdicts shown), a suite uploaded with its test set and run; after a reload the runs are still listed. In the
playground one question is answered side by side by the extractive answerer and the model, each with its sources.
Screenshots go to $WENDAO_ARTIFACTS. Prints `ok: …`; the first failure prints `FAIL: …`.
"""
import os
import shutil
import subprocess
import sys

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browser_test import ROOT, Browser, check, console_errors, run_test  # noqa: E402

SUITE = """name: logistics-web
kb: logistics
tests: eval-guard.jsonl
limit: 5
concurrency: 4
defaults:
  retrieval: { top_k: 8 }
  max_tokens: 512
matrix:
  prompts:
    concise: .eval-prompts/concise.txt
    strict: .eval-prompts/strict.txt
  models: [openai:gpt-4o-mini]
variants:
  - name: extractive
    model: extractive
"""

UPLOADED = """name: uploaded
kb: logistics
tests: mine.jsonl
variants:
  - { name: extractive, model: extractive }
"""


def start_fake(s):
    fake = subprocess.Popen([sys.executable, os.path.join(ROOT, "scripts/fake_openai_server.py")],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    s.cleanups.append(lambda: (fake.kill(), fake.wait()))
    port = int(fake.stdout.readline().strip())
    return f"http://127.0.0.1:{port}/v1"


def run_state(b, run_id):
    return b.js("const r = document.querySelector(`tr[data-run='${arguments[0]}']`); return r ? r.className : '';",
                run_id) or ""


def newest_run(b):
    return b.js("const r = document.querySelector('#evals-runs tr[data-run]'); return r ? r.dataset.run : '';")


def start_from_page(b, before):
    d = b.driver
    d.find_element(By.CSS_SELECTOR, "[data-testid=evals-start]").click()
    b.wait(lambda _: newest_run(b) and newest_run(b) not in before, "the new run in the list")
    run_id = newest_run(b)
    b.wait(lambda _: "state-done" in run_state(b, run_id) or "state-failed" in run_state(b, run_id),
           f"run {run_id} to finish", timeout=120)
    check("state-done" in run_state(b, run_id),
          f"run {run_id} finished: {b.text(f'tr[data-run={chr(39)}{run_id}{chr(39)}]')}")
    return run_id


def checks(s):
    base_url = start_fake(s)
    s.cli("ingest", "--kb", "logistics", "--create", os.path.join(ROOT, "Samples/logistics"), "--exclude", "eval*")
    suites = os.path.join(s.data, "eval", "suites")
    os.makedirs(os.path.join(suites, ".eval-prompts"))
    shutil.copy(os.path.join(ROOT, "Samples/logistics/eval-guard.jsonl"), suites)
    for p in ("concise.txt", "strict.txt"):
        shutil.copy(os.path.join(ROOT, "Samples/logistics/.eval-prompts", p), os.path.join(suites, ".eval-prompts"))
    with open(os.path.join(suites, "logistics.yaml"), "w", encoding="utf-8") as f:
        f.write(SUITE)
    with open(os.path.join(suites, "broken.yaml"), "w", encoding="utf-8") as f:
        f.write("kb: logistics\ntests: [unclosed\n")
    base = s.serve(env={"OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": "sk-fake-for-the-browser-test"})
    b = s.browser = Browser(base)
    d = b.driver
    d.get(base + "/#/evals")
    b.wait(lambda _: b.visible('section[data-view="evals"]'), "the Evaluations page")
    b.wait(lambda _: d.find_elements(By.CSS_SELECTOR, "#evals-suite option[value='logistics.yaml']"), "the suite list")
    broken = d.find_element(By.CSS_SELECTOR, "#evals-suite option[value='broken.yaml']")
    check(broken.get_attribute("disabled") is not None and "YAML" in broken.text,
          f"a broken suite is listed, disabled, with its reason ({broken.text!r})")
    Select(d.find_element(By.ID, "evals-suite")).select_by_value("logistics.yaml")

    first = start_from_page(b, [])
    row = f"tr[data-run='{first}']"
    check("15 of 15" in b.text(row), f"the run made 5 questions × 3 variants ({b.text(row)!r})")
    print(f"  screenshot: {b.screenshot('evals-page.png')}")

    # The report, in a new tab.
    link = d.find_element(By.CSS_SELECTOR, f"{row} [data-testid=eval-report-link]")
    page = d.current_window_handle
    link.click()
    b.wait(lambda _: len(d.window_handles) == 2, "the report's tab")
    d.switch_to.window([h for h in d.window_handles if h != page][0])
    b.wait(lambda _: d.title.startswith("Wendao evaluation"), "the report to load")
    questions = d.find_elements(By.CSS_SELECTOR, "details.q")
    check(len(questions) == 5, f"the report drills into 5 questions ({len(questions)})")
    d.execute_script("arguments[0].scrollIntoView();", questions[0])
    questions[0].find_element(By.TAG_NAME, "summary").click()
    cells = [c for c in questions[0].find_elements(By.CSS_SELECTOR, ".cell") if c.is_displayed()]
    check(len(cells) == 3, f"the first question shows each variant's answer ({len(cells)})")
    print(f"  screenshot: {b.screenshot('evals-report.png')}")
    d.close()
    d.switch_to.window(page)

    # A second run (answers from the response cache) and the comparison.
    second = start_from_page(b, [first])
    for run_id in (first, second):
        d.find_element(By.CSS_SELECTOR, f"tr[data-run='{run_id}'] input[type=checkbox]").click()
    d.find_element(By.CSS_SELECTOR, "[data-testid=evals-compare]").click()
    b.wait(lambda _: d.find_elements(By.CSS_SELECTOR, "[data-testid=eval-verdict]"), "the comparison")
    verdicts = {e.text for e in d.find_elements(By.CSS_SELECTOR, "[data-testid=eval-verdict]")}
    check(verdicts == {"No clear difference"}, f"identical runs: no clear difference anywhere ({verdicts})")
    check("[" in b.text("#evals-comparison") and "extractive" in b.text("#evals-comparison"),
          "the comparison lists variants with their intervals")
    print(f"  screenshot: {b.screenshot('evals-compare.png')}")

    # An uploaded suite with its test set.
    yaml_path = os.path.join(s.tmp, "uploaded.yaml")
    set_path = os.path.join(s.tmp, "mine.jsonl")
    with open(yaml_path, "w", encoding="utf-8") as f:
        f.write(UPLOADED)
    with open(set_path, "w", encoding="utf-8") as f:
        f.write('{"id": "a", "question": "冷链运输温度是多少？", "answers": ["2"]}\n'
                '{"id": "b", "question": "Can I pay with PayPal?", "answerable": false}\n')
    Select(d.find_element(By.ID, "evals-suite")).select_by_value("(upload)")
    b.wait(lambda _: b.visible("#evals-yaml"), "the upload fields")
    d.find_element(By.ID, "evals-yaml").send_keys(yaml_path)
    d.find_element(By.ID, "evals-files").send_keys(set_path)
    d.find_element(By.ID, "evals-limit").clear()
    uploaded = start_from_page(b, [first, second])
    check("2 of 2" in b.text(f"tr[data-run='{uploaded}']"), "the uploaded suite answered its 2 questions")

    # Runs survive a reload.
    d.refresh()
    b.wait(lambda _: b.visible('section[data-view="evals"]'), "the Evaluations page after a reload")
    b.wait(lambda _: len(d.find_elements(By.CSS_SELECTOR, "#evals-runs tr[data-run]")) == 3, "the three runs listed again")

    # The playground: the extractive answerer and the model side by side.
    b.go("#/playground", "playground")
    b.wait(lambda _: d.find_elements(By.CSS_SELECTOR, "#playground-kb option[value='logistics']"), "the knowledge bases")
    d.find_element(By.ID, "playground-question").send_keys("冷链运输温度是多少？")
    models = d.find_elements(By.CSS_SELECTOR, "[data-testid=pg-model]")
    check(len(models) == 2, "two variants to start with")
    models[1].send_keys("openai:gpt-4o-mini")
    d.find_element(By.CSS_SELECTOR, "[data-testid=playground-run]").click()
    b.wait(lambda _: len(d.find_elements(By.CSS_SELECTOR, ".playground-column.done")) == 2, "both answers")
    columns = d.find_elements(By.CSS_SELECTOR, ".playground-column")
    for c in columns:
        answer = c.find_element(By.CSS_SELECTOR, ".pg-answer").text
        sources = c.find_elements(By.CSS_SELECTOR, ".pg-sources li")
        check(answer.strip() and "failed" not in c.get_attribute("class"), f"an answer: {answer[:60]!r}")
        check(sources, f"the sources it saw ({len(sources)})")
    check("gpt-4o-mini" in columns[1].find_element(By.CSS_SELECTOR, ".pg-stats").text, "the model's column names it")
    print(f"  screenshot: {b.screenshot('playground.png')}")
    errors = console_errors(b.drain_console())
    check(not errors, f"no console errors ({errors[:2]})")


def main():
    return run_test("evals", "evaluations and playground browser test", checks)


if __name__ == "__main__":
    sys.exit(main())
