#!/usr/bin/env python3
"""The API contract: schemathesis against /openapi.yaml of a running `wendao serve` (run by scripts/test.sh).

Starts the server on a free loopback port over a fresh data directory holding a small knowledge base
(`logistics`, the name the document's examples use), with an admin key sent on every request, and runs
schemathesis (v4) with every check and a bounded number of examples per operation. Fails on any 5xx,
any response the document does not describe, or any request the server accepts although the document
says it is invalid (and the reverse). Schemathesis is installed into a virtual environment under
~/.cache (override with WENDAO_SCHEMATHESIS_VENV). WENDAO_CONTRACT_EXAMPLES sets the examples per
operation (default 40); WENDAO_CONTRACT_PATHS (a regular expression) runs only the operations of matching paths.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

BIN = os.environ.get("WENDAO_BIN", ".build/debug/wendao")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.environ.get("WENDAO_SCHEMATHESIS_VENV", os.path.expanduser("~/.cache/wendao-schemathesis"))
EXAMPLES = os.environ.get("WENDAO_CONTRACT_EXAMPLES", "40")


def write_dataset(data):
    """A small fine-tuning dataset `contract-v1` of knowledge base `logistics`, as `wendao tune dataset create`
    leaves one (see schemathesis.toml): the review routes are exercised past their 404."""
    folder = os.path.join(data, "tune", "datasets", "contract-v1")
    os.makedirs(folder)
    with open(os.path.join(folder, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump({"name": "contract-v1", "kb": "logistics", "teacher": "openai:gpt-4o-mini", "prompt_version": "v1",
                   "styles": ["factual"], "per_document": 8, "seed": 17, "selected_chunks": [1],
                   "document_count": 1, "created_at": "2026-12-07T00:00:00Z"}, f)
    with open(os.path.join(folder, "chunks.jsonl"), "w", encoding="utf-8") as f:
        f.write(json.dumps({"id": 1, "document": "faq/a.md", "section": "s", "ordinal": 0,
                            "text": "标准快递首重收费12元。"}, ensure_ascii=False) + "\n")
    with open(os.path.join(folder, "examples.jsonl"), "w", encoding="utf-8") as f:
        for i, split in enumerate(["train", "test"]):
            f.write(json.dumps({"id": f"c{i + 1}-factual", "question": "首重收费多少钱？", "answer": "首重收费12元 [1]",
                                "style": "factual", "language": "zh", "chunks": [1], "chunk_hashes": ["h"],
                                "documents": ["faq/a.md"], "section": "s", "teacher": "openai:gpt-4o-mini",
                                "prompt_version": "v1", "created_at": "2026-12-07T00:00:00Z", "status": "kept",
                                "split": split, "flags": [], "masked": [], "version": 0}, ensure_ascii=False) + "\n")


def schemathesis():
    """The command that runs schemathesis: from the virtual environment (made on first use), else
    (no venv module) installed with `pip --user`."""
    exe = os.path.join(VENV, "bin", "schemathesis")
    if os.path.exists(exe):
        return [exe]
    requirement = "schemathesis>=4.3,<5"
    pip = ["--quiet", "--disable-pip-version-check"]
    if subprocess.run([sys.executable, "-m", "venv", VENV]).returncode == 0:
        subprocess.run([os.path.join(VENV, "bin", "pip"), "install", *pip, requirement], check=True)
        return [exe]
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "pip", "install", *pip, "--user", requirement], check=True)
    return [sys.executable, "-m", "schemathesis.cli"]


def run(*args, data):
    return subprocess.run([BIN, *args, "--data", data], capture_output=True, text=True, check=True).stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    exe = schemathesis()
    data = tempfile.mkdtemp(prefix="wendao-contract-")
    work = tempfile.mkdtemp(prefix="wendao-contract-run-")
    run("ingest", "--kb", "logistics", "--create", os.path.join(ROOT, "Samples/logistics/faq"), "--json", data=data)
    write_dataset(data)
    admin = "admin-" + os.urandom(12).hex()
    port = free_port()
    # Only what the server needs: no provider keys from the caller's environment reach it.
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    env.update(WENDAO_ADMIN_KEY=admin, WENDAO_LOG_LEVEL="info")
    log_path = os.path.join(work, "server.log")
    log = open(log_path, "w")
    server = subprocess.Popen([BIN, "serve", "--port", str(port), "--data", data], env=env, stderr=log,
                              stdout=log)
    status = 1
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/readyz", timeout=1)
                break
            except Exception:
                time.sleep(0.1)
        # One kept conversation (id 1, turn 1) for the conversation routes (see schemathesis.toml).
        ask = urllib.request.Request(
            base + "/api/v1/kbs/logistics/ask", data='{"question":"包裹丢了最多赔多少钱？"}'.encode("utf-8"),
            headers={"Authorization": f"Bearer {admin}", "Content-Type": "application/json"}, method="POST")
        urllib.request.urlopen(ask, timeout=60).read()
        command = [
            *exe, "--config-file", os.path.join(ROOT, "scripts", "schemathesis.toml"), "run", base + "/openapi.yaml",
            "--header", f"Authorization: Bearer {admin}",
            "--max-examples", EXAMPLES,
            "--seed", os.environ.get("WENDAO_CONTRACT_SEED", "20261206"),
            "--workers", "1",  # CPython 3.11 can fail compiling in two threads at once (AST recursion depth)
            "--request-timeout", "60",
            "--phases", "examples,coverage,fuzzing",
            "--suppress-health-check", "all",
            "--report", "junit",
            "--report-dir", work,
        ]
        if os.environ.get("WENDAO_CONTRACT_PATHS"):  # a regular expression: only the operations of those paths
            command += ["--include-path-regex", os.environ["WENDAO_CONTRACT_PATHS"]]
        print("== " + " ".join(c if admin not in c else "--header 'Authorization: Bearer …'" for c in command),
              flush=True)
        status = subprocess.run(command, cwd=work).returncode
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    # Every 5xx the server answered is logged ("request failed"); there must be none.
    with open(log_path) as f:
        failed = [line for line in f if "request failed" in line]
    if failed:
        print(f"FAIL: the server logged {len(failed)} failed requests, e.g. {failed[0].strip()[:300]}",
              file=sys.stderr)
        status = status or 1
    if status == 0:
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
        print("ok: the server and openapi.yaml agree")
    else:
        print(f"FAIL: schemathesis found disagreements (server log and report in {work})", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
