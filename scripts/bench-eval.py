#!/usr/bin/env python3
"""Benchmarks of the evaluation workbench (issue 17); prints JSON (figures go to BENCHMARKS.md).

  run     1,000 questions × 4 prompt variants of an openai: model against scripts/fake_openai_server.py answering
          in 50 ms (FAKE_DELAY_MS), concurrency 8: wall time against the ideal (calls × 50 ms / 8), the overhead per
          call, a cached re-run's time, the HTML report's size and the time headless Chromium takes to open it.
  memory  peak RSS of `wendao eval run` (extractive) on generated test sets of 10,000 and 100,000 rows (the
          sample's questions cycled, ids distinct).

Usage: python3 scripts/bench-eval.py run|memory|all   (WENDAO_BIN: the wendao binary; default .build/release/wendao)
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.abspath(os.environ.get("WENDAO_BIN", os.path.join(ROOT, ".build/release/wendao")))
DELAY_MS = 50
CONCURRENCY = 8


def questions(n, distinct=True):
    """`n` questions from the sample's test sets (366 of them, cycled). `distinct`: each with its row number
    appended, so no two prompts are the same and nothing comes from the response cache on the first run;
    otherwise the texts repeat (the searches are shared) and only the ids differ."""
    base = []
    for name in ("eval.jsonl", "eval-customer.jsonl", "eval-guard.jsonl"):
        with open(os.path.join(ROOT, "Samples/logistics", name), encoding="utf-8") as f:
            base += [json.loads(line) for line in f if line.strip()]
    out = []
    for i in range(n):
        q = dict(base[i % len(base)])
        q["id"] = f"b{i:06d}"
        if distinct:
            q["question"] = f"{q['question']}（第{i}问）"
        out.append(q)
    return out


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def timed(cmd, env):
    started = time.monotonic()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if p.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd[:4])} failed ({p.returncode}): {p.stderr[-2000:]}")
    return seconds, p


def open_time(report):
    """Seconds headless Chromium takes to load the report (navigation start to the load event)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")), options=options)
    try:
        times = []
        for _ in range(3):
            driver.get("about:blank")
            driver.get("file://" + report)
            t = driver.execute_script(
                "const n = performance.getEntriesByType('navigation')[0]; return [n.domContentLoadedEventEnd, n.loadEventEnd];")
            times.append(t[1] / 1000)
        return min(times)
    finally:
        driver.quit()


def bench_run():
    work = tempfile.mkdtemp(prefix="wendao-bench-eval-")
    fake = subprocess.Popen([sys.executable, os.path.join(ROOT, "scripts/fake_openai_server.py")],
                            stdout=subprocess.PIPE, text=True, env=dict(os.environ, FAKE_DELAY_MS=str(DELAY_MS)))
    try:
        port = int(fake.stdout.readline())
        env = dict(os.environ, WENDAO_DATA=os.path.join(work, "data"), OPENAI_BASE_URL=f"http://127.0.0.1:{port}/v1",
                   OPENAI_API_KEY="sk-bench")
        for k in ("WENDAO_MODEL", "WENDAO_CONFIG"):
            env.pop(k, None)
        subprocess.run([BIN, "ingest", "--kb", "logistics", "--create", os.path.join(ROOT, "Samples/logistics"),
                        "--exclude", "eval*"], env=env, check=True, capture_output=True)
        write_jsonl(os.path.join(work, "set.jsonl"), questions(1000))
        prompts = os.path.join(work, "p")
        os.makedirs(prompts)
        for name in ("concise", "strict"):
            shutil.copy(os.path.join(ROOT, "Samples/logistics/.eval-prompts", name + ".txt"), prompts)
        with open(os.path.join(prompts, "terse.txt"), "w") as f:
            f.write("Answer in {{language}} in one sentence from the numbered sources, citing [n]. "
                    "If they do not answer, reply exactly: {{not_found}}")
        with open(os.path.join(prompts, "polite.txt"), "w") as f:
            f.write("You are a polite assistant. Answer in {{language}} only from the sources, cite them as [n]. "
                    "Otherwise reply exactly: {{not_found}}")
        with open(os.path.join(work, "suite.yaml"), "w") as f:
            f.write("name: bench\nkb: logistics\ntests: set.jsonl\nconcurrency: 8\n"
                    "defaults: { retrieval: { top_k: 8 }, max_tokens: 512 }\n"
                    "matrix:\n  prompts: { concise: p/concise.txt, strict: p/strict.txt, terse: p/terse.txt, "
                    "polite: p/polite.txt }\n  models: [openai:gpt-4o-mini]\n")
        suite = os.path.join(work, "suite.yaml")
        html = os.path.join(work, "report.html")
        first, p1 = timed([BIN, "eval", "run", suite, "--concurrency", str(CONCURRENCY), "--html", html,
                           "--results", os.path.join(work, "r1.jsonl")], env)
        made = re.search(r"model calls: (\d+) made, (\d+) from the cache", p1.stderr)
        calls = int(made.group(1)) if made else None
        cached, p2 = timed([BIN, "eval", "run", suite, "--concurrency", str(CONCURRENCY), "--html",
                            os.path.join(work, "report2.html"), "--results", os.path.join(work, "r2.jsonl")], env)
        made2 = re.search(r"model calls: (\d+) made, (\d+) from the cache", p2.stderr)
        ideal = (calls or 0) * DELAY_MS / 1000 / CONCURRENCY
        out = {
            "questions": 1000, "variants": 4, "delay_ms": DELAY_MS, "concurrency": CONCURRENCY,
            "model_calls": calls, "seconds": round(first, 2), "ideal_seconds": round(ideal, 2),
            "ratio_to_ideal": round(first / ideal, 3) if ideal else None,
            "overhead_ms_per_call": round((first * CONCURRENCY / calls - DELAY_MS / 1000) * 1000, 2) if calls else None,
            "cached_rerun_seconds": round(cached, 2),
            "cached_rerun_calls_made": int(made2.group(1)) if made2 else None,
            "report_bytes": os.path.getsize(html),
        }
        try:
            out["report_open_seconds"] = round(open_time(html), 3)
        except Exception as e:  # noqa: BLE001 - no Chromium: the other figures still stand
            out["report_open_seconds"] = f"not measured: {e}"
        return out
    finally:
        fake.kill()
        fake.wait()
        shutil.rmtree(work, ignore_errors=True)


def bench_memory():
    work = tempfile.mkdtemp(prefix="wendao-bench-evalmem-")
    try:
        env = dict(os.environ, WENDAO_DATA=os.path.join(work, "data"))
        subprocess.run([BIN, "ingest", "--kb", "logistics", "--create", os.path.join(ROOT, "Samples/logistics"),
                        "--exclude", "eval*"], env=env, check=True, capture_output=True)
        out = []
        for n in (10_000, 100_000):
            write_jsonl(os.path.join(work, f"set{n}.jsonl"), questions(n, distinct=False))
            with open(os.path.join(work, f"suite{n}.yaml"), "w") as f:
                f.write(f"name: mem{n}\nkb: logistics\ntests: set{n}.jsonl\n"
                        "variants: [{ name: extractive, model: extractive }]\n")
            started = time.monotonic()
            p = subprocess.run(["/usr/bin/time", "-v", BIN, "eval", "run", os.path.join(work, f"suite{n}.yaml"),
                                "--json", "--results", os.path.join(work, f"r{n}.jsonl")],
                               env=env, capture_output=True, text=True)
            seconds = time.monotonic() - started
            rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
            out.append({"rows": n, "exit": p.returncode, "seconds": round(seconds, 1),
                        "peak_rss_mb": round(int(rss.group(1)) / 1024, 1) if rss else None,
                        "results_file_mb": round(os.path.getsize(os.path.join(work, f"r{n}.jsonl")) / 2**20, 1),
                        "json_report_mb": round(len(p.stdout.encode()) / 2**20, 2)})
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    result = {"binary": BIN}
    if what in ("run", "all"):
        result["run"] = bench_run()
    if what in ("memory", "all"):
        result["memory"] = bench_memory()
    print(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
