#!/usr/bin/env python3
"""The HTML report of `wendao eval run` in headless Chromium: it loads from a file with no console error and no
network request, shows the table and the SVG charts, and a question's drill-down opens to show each variant's
answer side by side. Screenshots go to /tmp/wendao-artifacts.

Usage: python3 scripts/eval_report_browser_test.py [REPORT.html]   (default: the one scripts/eval-gate.sh writes)
"""
import os
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
ARTIFACTS = "/tmp/wendao-artifacts"


def main():
    report = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ARTIFACTS, "eval-report.html"))
    if not os.path.exists(report):
        print(f"FAIL: no report at {report} (run scripts/eval-gate.sh first)")
        return 1
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                "--disable-gpu", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    problems = []
    try:
        driver.get("file://" + report)
        js = driver.execute_script
        if not driver.title.startswith("Wendao evaluation"):
            problems.append(f"unexpected title {driver.title!r}")
        variants = js("return document.querySelectorAll('table')[0].querySelectorAll('tr').length - 1;")
        charts = js("return document.querySelectorAll('.chart svg').length;")
        questions = driver.find_elements(By.CSS_SELECTOR, "details.q")
        if variants < 1:
            problems.append("the variants table is empty")
        if charts < 2:
            problems.append(f"only {charts} charts")
        if not questions:
            problems.append("no question to drill into")
        os.makedirs(ARTIFACTS, exist_ok=True)
        driver.save_screenshot(os.path.join(ARTIFACTS, "eval-report.png"))
        if questions:
            first = questions[0]
            cells_before = [c for c in first.find_elements(By.CSS_SELECTOR, ".cell") if c.is_displayed()]
            driver.execute_script("arguments[0].scrollIntoView();", first)
            first.find_element(By.TAG_NAME, "summary").click()
            if not js("return arguments[0].open;", first):
                problems.append("the first question's drill-down did not open")
            cells = [c for c in first.find_elements(By.CSS_SELECTOR, ".cell") if c.is_displayed()]
            if cells_before or len(cells) != variants:
                problems.append(f"the drill-down shows {len(cells)} answers for {variants} variants")
            answers = [c.find_element(By.CSS_SELECTOR, ".answer, .no").text for c in cells]
            if any(not a.strip() for a in answers):
                problems.append("an answer in the drill-down is empty")
            driver.save_screenshot(os.path.join(ARTIFACTS, "eval-report-open.png"))
        resources = js("return performance.getEntriesByType('resource').map(e => e.name);")
        if resources:
            problems.append(f"the report loaded {resources}")
        severe = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        if severe:
            problems.append(f"console errors: {severe}")
        size = os.path.getsize(report)
        print(f"report: {variants} variants, {len(questions)} questions, {charts} charts, {size} bytes")
    finally:
        driver.quit()
    for p in problems:
        print("FAIL:", p)
    if not problems:
        print(f"ok: the evaluation report renders and drills down (screenshots in {ARTIFACTS})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
